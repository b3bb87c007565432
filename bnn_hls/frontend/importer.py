"""Turn a checked ONNX/QONNX graph into the un-fused IR.

The graph is walked in topological order. Nodes whose inputs are all constant are folded
(weight quantisers, transposes, shape arithmetic). The remaining "dynamic" nodes must form one
chain from the input to the output; each is mapped onto the IR:

  float input --(Mul/Add/Sub/Div/Reshape: host ops)--> Quant | BipolarQuant | Sign  => InputQuant
  Conv/MatMul/Gemm with +-s weights                                                => Dense/Conv
  BatchNormalization, Add/Sub/Mul/Div by per-channel constants                     => Affine
  Sign | BipolarQuant | Where(GreaterOrEqual(x, c), a, -a)                         => Sign
  MaxPool                                                                           => MaxPool
  Flatten / Reshape to (N, -1)                                                      => Flatten
  what follows the last linear layer                                                => Scores
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field, replace

import numpy as np
import onnx

from .. import ir
from ..errors import ModelError, quote_name
from ..floatops import FloatOp, compose_affine64
from .attrs import attr_float, attr_int, attr_ints, attr_str
from .constfold import constant_of, fold_node
from .loader import graph_io, initializers, static_input_shape
from .qonnx_ops import QONNX_DOMAINS, ROUNDING_MODES

log = logging.getLogger(__name__)

SUPPORTED_OPS = (
    "Quant, BipolarQuant (QONNX); Conv, MatMul, Gemm, BatchNormalization, Sign, "
    "Where(GreaterOrEqual), MaxPool, Flatten, Reshape, Mul/Add/Sub/Div by constants, "
    "Identity, Dropout, Cast, Pad, Shape/Gather/Unsqueeze/Concat/Transpose on constants"
)
LAYOUT_OPS = ("Identity", "Dropout", "Cast")


@dataclass
class Value:
    """What the importer knows about one dynamic tensor."""

    kind: str  # "float" (raw model input), "int" (quantised input), "bit", "acc", "cmp"
    onnx_shape: tuple[int, ...]  # with the batch dimension as 1
    ir_shape: tuple[int, ...]  # per image, in the IR layout (H, W, C) or (F,)
    chain: list[FloatOp] = field(default_factory=list)  # float ops still to apply
    pending_flatten: bool = False  # ONNX flattened it; the IR Flatten comes later
    pad: tuple[tuple[int, int, int, int], int] | None = None  # from a Pad node: pads, value
    nhwc: bool = False  # a Transpose(0, 2, 3, 1) made the ONNX tensor channels-last
    cmp_offset: float = 0.0  # for "cmp": x >= offset
    cmp_source: str = ""  # for "cmp": the compared tensor (a pre-activation)


@dataclass
class SourceInfo:
    """Facts about the source graph that verification needs (never written to output files)."""

    input_name: str
    output_name: str
    pre_activations: list[tuple[str, str]] = field(default_factory=list)  # (tensor, "sign"|"ge")
    input_batch_fixed: bool = False
    input_dtype: str = "float32"


def _nodes_in_order(graph: onnx.GraphProto) -> list[onnx.NodeProto]:
    produced = {o: i for i, n in enumerate(graph.node) for o in n.output if o}
    known = {t.name for t in graph.initializer} | {i.name for i in graph.input}
    deps: dict[int, set[int]] = {}
    for i, n in enumerate(graph.node):
        d = set()
        for name in n.input:
            if not name or (name in known and name not in produced):
                continue
            if name not in produced:
                raise ModelError(
                    f"input {quote_name(name)} is produced by no node", node=n.name, op=n.op_type
                )
            d.add(produced[name])
        deps[i] = d
    order: list[int] = []
    done: set[int] = set()
    pending = list(range(len(graph.node)))
    while pending:
        ready = [i for i in pending if deps[i] <= done]
        if not ready:
            raise ModelError("the graph has a cycle")
        for i in ready:
            done.add(i)
            order.append(i)
        pending = [i for i in pending if i not in done]
    return [graph.node[i] for i in order]


class Importer:
    def __init__(self, model: onnx.ModelProto, source_file: str = "") -> None:
        self.model = model
        self.source_file = source_file
        self.opset = max(
            (o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=13
        )
        self.consts: dict[str, np.ndarray] = initializers(model)
        self.values: dict[str, Value] = {}
        self.layers: list[ir.Layer] = []
        self.input_layer: ir.InputQuant | None = None
        self.host_ops: list[FloatOp] = []
        self.host_layout: list[tuple[int, str, tuple[int, ...]]] = []

    # --- helpers ---------------------------------------------------------------------------
    def name(self, kind: str) -> str:
        return f"l{len(self.layers)}_{kind}"

    def emit(self, layer: ir.Layer) -> None:
        self.layers.append(layer)

    def const(self, node: onnx.NodeProto, index: int, what: str) -> np.ndarray:
        if index >= len(node.input) or not node.input[index]:
            raise ModelError(f"missing {what} input", node=node.name, op=node.op_type)
        name = node.input[index]
        if name not in self.consts:
            raise ModelError(
                f"the {what} must be a constant (an initializer), not computed at run time",
                node=node.name,
                op=node.op_type,
            )
        return self.consts[name]

    def channel_vector(self, node: onnx.NodeProto, v: Value, c: np.ndarray) -> np.ndarray:
        """A constant operand of an elementwise op, as a per-channel vector in the IR layout."""
        c = np.asarray(c, dtype=np.float32)
        if c.size == 1:
            return c.reshape(1)
        try:
            full = np.broadcast_to(c, np.broadcast_shapes(c.shape, v.onnx_shape))
        except ValueError:
            raise ModelError(
                f"constant of shape {c.shape} does not broadcast to the tensor "
                f"shape {v.onnx_shape}",
                node=node.name,
                op=node.op_type,
            ) from None
        if full.shape != v.onnx_shape:
            raise ModelError(
                f"constant of shape {c.shape} would grow the tensor {v.onnx_shape}",
                node=node.name,
                op=node.op_type,
            )
        per_image = full[0]
        if len(v.onnx_shape) == 4:
            chw = per_image.transpose(2, 0, 1) if v.nhwc else per_image
        elif len(v.onnx_shape) == 2 and v.pending_flatten:
            h, w, ch = v.ir_shape
            if v.nhwc:
                chw = per_image.reshape(h, w, ch).transpose(2, 0, 1)
            else:
                chw = per_image.reshape(ch, h, w)
        elif len(v.onnx_shape) == 2:
            return per_image.reshape(-1).copy()
        else:
            raise ModelError(
                f"elementwise op on a rank-{len(v.onnx_shape)} tensor is not supported",
                node=node.name,
                op=node.op_type,
            )
        vec = chw.reshape(chw.shape[0], -1)
        if not np.all(vec == vec[:, :1]):
            raise ModelError(
                "the constant varies across pixels; only per-channel constants are supported",
                node=node.name,
                op=node.op_type,
            )
        return vec[:, 0].copy()

    def require_nchw(self, node: onnx.NodeProto, v: Value) -> None:
        if v.nhwc and len(v.onnx_shape) == 4:
            raise ModelError(
                "this op on a channels-last (transposed) tensor is not supported",
                node=node.name,
                op=node.op_type,
                hint="transpose back to NCHW first",
            )

    def flush_chain(self, v: Value, source: str) -> Value:
        """Emit pending float ops as an Affine layer (un-fused IR)."""
        if not v.chain:
            return v
        self.emit(ir.Affine(self.name("affine"), v.ir_shape, v.ir_shape, source, ops=v.chain))
        return replace(v, kind="acc_float" if v.kind == "acc" else v.kind, chain=[])

    def emit_flatten(self, v: Value, value_type: str) -> Value:
        if not v.pending_flatten:
            return v
        flat = (int(np.prod(v.ir_shape)),)
        self.emit(ir.Flatten(self.name("flatten"), v.ir_shape, flat, value_type=value_type))
        return replace(v, ir_shape=flat, pending_flatten=False)

    # --- the walk --------------------------------------------------------------------------
    def run(self) -> tuple[ir.Model, SourceInfo]:
        graph = self.model.graph
        inp, out = graph_io(self.model)
        in_shape = static_input_shape(inp)
        batch = inp.type.tensor_type.shape.dim[0]
        fixed_batch = batch.HasField("dim_value")
        if fixed_batch and batch.dim_value > 1:
            raise ModelError(
                f"input {quote_name(inp.name)} has a fixed batch size of {batch.dim_value}",
                hint="export with batch size 1 or a dynamic batch dimension",
            )
        elem = inp.type.tensor_type.elem_type
        kind = "float"
        if elem in (
            onnx.TensorProto.UINT8,
            onnx.TensorProto.INT8,
            onnx.TensorProto.UINT16,
            onnx.TensorProto.INT16,
        ):
            kind = "native_int"
        elif elem not in (
            onnx.TensorProto.FLOAT,
            onnx.TensorProto.DOUBLE,
            onnx.TensorProto.FLOAT16,
        ):
            raise ModelError(
                f"input {quote_name(inp.name)} has element type "
                f"{onnx.TensorProto.DataType.Name(elem)}",
                hint="the image input must be float or 8/16-bit integer",
            )
        self.in_shape = in_shape
        self.in_elem = elem
        shape1 = (1, *in_shape)
        self.values[inp.name] = Value(kind, shape1, shape1[1:])
        self.info = SourceInfo(
            inp.name,
            out.name,
            input_batch_fixed=fixed_batch,
            input_dtype=str(onnx.helper.tensor_dtype_to_np_dtype(elem)),
        )

        consumers: dict[str, list[onnx.NodeProto]] = defaultdict(list)
        for node in graph.node:
            for name in node.input:
                consumers[name].append(node)

        for node in _nodes_in_order(graph):
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
                self.consts[node.output[0]] = constant_of(node)
                continue
            dyn = [n for n in node.input if n and n in self.values]
            missing = [n for n in node.input if n and n not in self.values and n not in self.consts]
            if missing:
                raise ModelError(
                    f"input {quote_name(missing[0])} is not available",
                    node=node.name,
                    op=node.op_type,
                )
            if not dyn:
                ins = [self.consts[n] if n else None for n in node.input]
                for name, value in zip(node.output, fold_node(node, ins, self.opset)):
                    if name:
                        self.consts[name] = value
                continue
            if node.op_type == "Shape":
                v = self.values[dyn[0]]
                self.consts[node.output[0]] = np.asarray(v.onnx_shape, dtype=np.int64)
                continue
            if len(dyn) > 1:
                raise ModelError(
                    "this node joins two computed tensors; branching graphs "
                    "(residual additions, concatenations) are not supported",
                    node=node.name,
                    op=node.op_type,
                )
            users = [u for u in consumers[dyn[0]] if u.op_type != "Shape"]
            if len(users) > 1:
                raise ModelError(
                    f"tensor {quote_name(dyn[0])} feeds {len(users)} nodes; only "
                    "a single chain of layers is supported",
                    node=node.name,
                    op=node.op_type,
                )
            result = self.dispatch(node, self.values[dyn[0]])
            self.values[node.output[0]] = result

        if out.name not in self.values:
            if out.name in self.consts:
                raise ModelError(f"output {quote_name(out.name)} does not depend on the input")
            raise ModelError(f"output {quote_name(out.name)} is not computed from the input")
        self.finish(self.values[out.name], out.name)
        model = ir.Model(self.layers, source_file=self.source_file)
        return model, self.info

    def dispatch(self, node: onnx.NodeProto, v: Value) -> Value:
        op = node.op_type
        if node.domain in QONNX_DOMAINS:
            if op == "BipolarQuant":
                return self.activation(node, v, "bipolar")
            if op == "Quant":
                return self.quant(node, v)
            raise ModelError(
                "this QONNX op is not supported",
                node=node.name,
                op=op,
                hint="supported QONNX ops: BipolarQuant, Quant",
            )
        if op in LAYOUT_OPS:
            if op == "Cast" and v.kind == "native_int":
                return replace(v, kind="native_cast")
            return v
        if op in ("Mul", "Add", "Sub", "Div"):
            return self.elementwise(node, v)
        if op == "BatchNormalization":
            return self.batchnorm(node, v)
        if op in ("Conv", "MatMul", "Gemm"):
            return self.linear(node, v)
        if op == "Sign":
            return self.activation(node, v, "sign")
        if op == "GreaterOrEqual":
            if node.input[0] not in self.values:
                raise ModelError("only x >= constant is supported", node=node.name, op=op)
            c = self.const(node, 1, "comparison constant")
            if c.size != 1:
                raise ModelError("the comparison constant must be a scalar", node=node.name, op=op)
            return replace(
                v,
                kind="cmp:" + v.kind,
                cmp_offset=float(c.reshape(-1)[0]),
                cmp_source=node.input[0],
            )
        if op == "Where":
            return self.where(node, v)
        if op == "MaxPool":
            return self.maxpool(node, v)
        if op in ("Flatten", "Reshape", "Squeeze", "Unsqueeze"):
            return self.reshape(node, v)
        if op == "Pad":
            return self.pad(node, v)
        if op == "Transpose":
            return self.transpose(node, v)
        hint = f"supported: {SUPPORTED_OPS}"
        if op in ("Softmax", "LogSoftmax"):
            hint = "remove the final softmax before export (top-1 does not change); " + hint
        raise ModelError("operator not supported", node=node.name, op=op, hint=hint)

    # --- elementwise float ops -------------------------------------------------------------
    def elementwise(self, node: onnx.NodeProto, v: Value) -> Value:
        op = node.op_type
        const_first = node.input[0] not in self.values
        c = self.const(node, 0 if const_first else 1, "constant operand")
        if v.kind in ("float", "native_cast"):
            return self.host_op(node, v, c, const_first)
        if v.kind == "native_int":
            raise ModelError("integer input must be Cast to float first", node=node.name, op=op)
        if v.kind.startswith("cmp") or v.kind == "acc_float":
            raise ModelError("unexpected elementwise op here", node=node.name, op=op)
        vec = self.channel_vector(node, v, c)
        kind = {"Mul": "mul", "Add": "add", "Sub": "sub", "Div": "div"}[op]
        if const_first:
            if op == "Div":
                raise ModelError("constant / tensor is not supported", node=node.name, op=op)
            kind = "rsub" if op == "Sub" else kind
        if kind == "div" and np.any(vec == 0):
            raise ModelError("division by zero", node=node.name, op=op)
        return replace(v, chain=[*v.chain, FloatOp(kind, {"a": vec})])

    def host_op(self, node: onnx.NodeProto, v: Value, c: np.ndarray, const_first: bool) -> Value:
        """A float op on the raw input: run on the host before quantisation (ONNX layout)."""
        op = node.op_type
        if const_first and op == "Div":
            raise ModelError("constant / input is not supported", node=node.name, op=op)
        kind = {"Mul": "mul", "Add": "add", "Sub": "sub", "Div": "div"}[op]
        if const_first and op == "Sub":
            kind = "rsub"
        c = np.asarray(c, np.float32)
        try:
            shape = np.broadcast_shapes(c.shape, v.onnx_shape)
        except ValueError:
            raise ModelError(
                f"constant of shape {c.shape} does not broadcast to the input",
                node=node.name,
                op=op,
            ) from None
        if shape != v.onnx_shape:
            raise ModelError("constant would grow the input tensor", node=node.name, op=op)
        # keep the constant broadcastable against (N, ...) in ONNX layout
        a = c.reshape((1,) * (len(v.onnx_shape) - c.ndim) + c.shape) if c.ndim else c
        self.host_ops.append(FloatOp(kind, {"a": a}))
        return v

    def batchnorm(self, node: onnx.NodeProto, v: Value) -> Value:
        self.require_nchw(node, v)
        if attr_int(node, "training_mode", 0):
            raise ModelError(
                "training-mode BatchNormalization",
                node=node.name,
                op=node.op_type,
                hint="export the model in eval() mode",
            )
        if len([o for o in node.output if o]) > 1:
            raise ModelError(
                "BatchNormalization with running-stat outputs",
                node=node.name,
                op=node.op_type,
                hint="export the model in eval() mode",
            )
        if v.kind in ("float", "native_cast", "native_int") or v.kind.startswith("cmp"):
            raise ModelError(
                "BatchNormalization on the raw input is not supported",
                node=node.name,
                op=node.op_type,
            )
        params = {}
        for i, key in enumerate(("scale", "bias", "mean", "var"), start=1):
            vec = np.asarray(self.const(node, i, f"BatchNorm {key}"), np.float32).reshape(-1)
            params[key] = self.channel_vector(
                node,
                v,
                vec.reshape(1, -1, *([1] * (len(v.onnx_shape) - 2)))
                if len(v.onnx_shape) >= 2
                else vec,
            )
        if np.any(params["var"] < 0):
            raise ModelError("negative running variance", node=node.name, op=node.op_type)
        eps = float(np.float32(attr_float(node, "epsilon", 1e-5)))
        return replace(v, chain=[*v.chain, FloatOp("bn", params, eps)])

    # --- quantisers and activations --------------------------------------------------------
    def make_input_layer(
        self,
        v: Value,
        mode: str,
        *,
        bits: int = 8,
        signed: bool = True,
        narrow: bool = False,
        scale: float = 1.0,
        zero_point: float = 0.0,
        rounding: str = "ROUND",
    ) -> Value:
        if self.input_layer is not None:
            raise ModelError("internal: second input quantiser")
        shape = v.onnx_shape[1:]
        ir_shape: tuple[int, ...]
        if len(shape) == 3:
            layout, ir_shape = "nchw_to_nhwc", (shape[1], shape[2], shape[0])
        elif len(shape) == 1:
            layout, ir_shape = "none", shape
        else:
            raise ModelError(
                f"the quantised input has shape {shape}; expected (C, H, W) or (F,)",
                hint="reshape the input to an image or a vector before quantising",
            )
        layer = ir.InputQuant(
            self.name("input"),
            shape,
            ir_shape,
            "input",
            onnx_shape=self.in_shape,
            host_ops=self.host_ops,
            layout_steps=self.host_layout,
            layout=layout,
            mode=mode,
            bits=bits,
            signed=signed,
            narrow=narrow,
            scale=scale,
            zero_point=zero_point,
            rounding=rounding,
        )
        self.input_layer = layer
        self.emit(layer)
        kind = "bit" if mode == "bipolar" else "int"
        return Value(kind, v.onnx_shape, ir_shape)

    def quant(self, node: onnx.NodeProto, v: Value) -> Value:
        scale = np.asarray(self.const(node, 1, "scale"), np.float32)
        zeropt = np.asarray(self.const(node, 2, "zero point"), np.float32)
        bits_arr = np.asarray(self.const(node, 3, "bit width"))
        if v.kind == "native_int":
            raise ModelError(
                "Cast the integer input to float before Quant", node=node.name, op=node.op_type
            )
        if v.kind != "float" and v.kind != "native_cast":
            bw = int(bits_arr.reshape(-1)[0]) if bits_arr.size else -1
            raise ModelError(
                f"{bw}-bit activation quantiser after the first layer; only binary "
                "(1-bit, BipolarQuant) activations are supported there",
                node=node.name,
                op=node.op_type,
            )
        if scale.size != 1 or zeropt.size != 1 or bits_arr.size != 1:
            raise ModelError(
                "per-channel input quantisation is not supported",
                node=node.name,
                op=node.op_type,
                hint="use one scale and zero point for the input",
            )
        bits = float(bits_arr.reshape(-1)[0])
        if bits != int(bits) or not 2 <= bits <= 16:
            raise ModelError(
                f"input bit width {bits:g} is not supported (2..16)",
                node=node.name,
                op=node.op_type,
            )
        s, z = float(scale.reshape(-1)[0]), float(zeropt.reshape(-1)[0])
        if not (np.isfinite(s) and s > 0) or z != round(z):
            raise ModelError(
                "the input scale must be positive and the zero point an integer",
                node=node.name,
                op=node.op_type,
            )
        mode = attr_str(node, "rounding_mode", "ROUND")
        if mode not in ROUNDING_MODES:
            raise ModelError(
                f"rounding mode {mode!r} is not supported",
                node=node.name,
                op=node.op_type,
                hint=f"use one of {', '.join(ROUNDING_MODES)}",
            )
        out = self.make_input_layer(
            v,
            "int",
            bits=int(bits),
            signed=bool(attr_int(node, "signed", 1)),
            narrow=bool(attr_int(node, "narrow", 0)),
            scale=s,
            zero_point=z,
            rounding=mode,
        )
        return replace(out, chain=[FloatOp("mul", {"a": np.full(1, s, np.float32)})])

    def where(self, node: onnx.NodeProto, v: Value) -> Value:
        if not v.kind.startswith("cmp") or node.input[0] not in self.values:
            raise ModelError(
                "only Where(GreaterOrEqual(x, c), a, -a) is supported",
                node=node.name,
                op=node.op_type,
            )
        a = np.asarray(self.const(node, 1, "value if true"), np.float32)
        b = np.asarray(self.const(node, 2, "value if false"), np.float32)
        if (
            a.size != 1
            or b.size != 1
            or not (a.reshape(-1)[0] > 0 and b.reshape(-1)[0] == -a.reshape(-1)[0])
        ):
            raise ModelError(
                "Where must choose between a and -a (a > 0), e.g. +1 and -1",
                node=node.name,
                op=node.op_type,
            )
        inner = replace(v, kind=v.kind.split(":", 1)[1])
        if v.cmp_offset != 0.0:
            if inner.kind in ("float", "native_cast"):
                self.host_ops.append(FloatOp("sub", {"a": np.float32(v.cmp_offset)}))
            else:
                inner.chain = [
                    *inner.chain,
                    FloatOp("sub", {"a": np.full(1, v.cmp_offset, np.float32)}),
                ]
        out = self.activation(node, inner, "ge", src=v.cmp_source)
        scale = float(a.reshape(-1)[0])
        if scale != 1.0:
            out.chain = [FloatOp("mul", {"a": np.full(1, scale, np.float32)})]
        return out

    def activation(self, node: onnx.NodeProto, v: Value, how: str, src: str = "") -> Value:
        """Sign / BipolarQuant / Where(GreaterOrEqual): the value becomes bipolar bits."""
        scale_chain: list[FloatOp] = []
        if how == "bipolar":
            scale = np.asarray(self.const(node, 1, "scale"), np.float32)
            if np.any(scale <= 0):
                raise ModelError(
                    "BipolarQuant scale must be positive", node=node.name, op=node.op_type
                )
            if not np.all(scale == 1):
                scale_chain = [FloatOp("mul", {"a": self.channel_vector(node, v, scale)})]
        src = src or node.input[0]
        if v.kind in ("float", "native_cast"):
            self.info.pre_activations.append((src, "sign" if how == "sign" else "ge"))
            return replace(self.make_input_layer(v, "bipolar"), chain=scale_chain)
        if v.kind == "bit":
            a, b = compose_affine64(v.chain, v.ir_shape[-1])
            if np.all(b == 0) and np.all(a > 0):  # sign of a positive multiple: same bits
                return replace(v, chain=scale_chain)
            raise ModelError(
                "a quantiser applied to binary values with an offset or negative "
                "scale is not supported",
                node=node.name,
                op=node.op_type,
            )
        if v.kind in ("int", "native_int"):
            raise ModelError(
                "binarising the quantised input again is not supported",
                node=node.name,
                op=node.op_type,
            )
        if v.kind not in ("acc", "acc_float"):
            raise ModelError("unexpected activation here", node=node.name, op=node.op_type)
        self.info.pre_activations.append((src, "sign" if how == "sign" else "ge"))
        v = self.flush_chain(v, "activation")
        self.emit(ir.Sign(self.name("sign"), v.ir_shape, v.ir_shape))
        out = Value(
            "bit", v.onnx_shape, v.ir_shape, chain=scale_chain, pending_flatten=v.pending_flatten
        )
        return self.emit_flatten(out, "bit")

    # --- linear layers ---------------------------------------------------------------------
    def linear_input(self, node: onnx.NodeProto, v: Value) -> tuple[float, tuple[int, int]]:
        """Check the linear layer's input; return its float scale and integer range."""
        if v.kind in ("float", "native_cast"):
            raise ModelError(
                "the first layer's input is not quantised",
                node=node.name,
                op=node.op_type,
                hint="quantise the input (QONNX Quant / "
                "BipolarQuant, Sign, or an 8-bit integer input tensor)",
            )
        if v.kind in ("acc", "acc_float"):
            raise ModelError(
                "two linear layers follow each other without a binary activation between them",
                node=node.name,
                op=node.op_type,
                hint="insert a sign/BipolarQuant activation",
            )
        if v.kind not in ("bit", "int", "native_int"):
            raise ModelError("unexpected input to a linear layer", node=node.name, op=node.op_type)
        a, b = compose_affine64(v.chain, v.ir_shape[-1])
        if np.any(b != 0) or np.any(a != a[0]) or a[0] == 0:
            raise ModelError(
                "the layer's input has a per-channel scale or an offset; binary "
                "inputs must be +-s with one s",
                node=node.name,
                op=node.op_type,
            )
        lo, hi = self.input_layer.out_range() if self.input_layer else (0, 1)
        return float(a[0]), (lo, hi)

    def binary_weights(self, node: onnx.NodeProto, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(bits, per-output scale) from +-s weights (first axis = output)."""
        w = np.asarray(w, dtype=np.float64)
        flat = w.reshape(w.shape[0], -1)
        mag = np.abs(flat)
        s = mag[:, 0].copy() if flat.shape[1] else np.ones(flat.shape[0])
        if not np.all(np.isfinite(flat)) or np.any(s <= 0) or not np.all(mag == s[:, None]):
            values = np.unique(flat)
            shown = ", ".join(f"{x:g}" for x in values[:6]) + (", ..." if values.size > 6 else "")
            raise ModelError(
                f"weights are not binary: {values.size} distinct values ({shown}); "
                "each output channel needs weights +s or -s",
                node=node.name,
                op=node.op_type,
                hint="binarise the weights (BipolarQuant, or sign() before export)",
            )
        return (flat > 0).astype(np.uint8).reshape(w.shape), s

    def linear(self, node: onnx.NodeProto, v: Value) -> Value:
        op = node.op_type
        if node.input[0] not in self.values:
            raise ModelError("the weights must be the second operand", node=node.name, op=op)
        if v.kind == "native_int":  # integer image input straight into the first layer
            signed = self.in_elem in (onnx.TensorProto.INT8, onnx.TensorProto.INT16)
            in_bits = 8 if self.in_elem in (onnx.TensorProto.INT8, onnx.TensorProto.UINT8) else 16
            v = self.make_input_layer(v, "int", bits=in_bits, signed=signed, scale=1.0)
        in_scale, in_range = self.linear_input(node, v)
        input_kind = "bit" if v.kind == "bit" else "int"
        bias: np.ndarray | None = None
        alpha = 1.0
        layer_w: ir.Linear
        if op == "Conv":
            out, layer_w, scale = self.conv(node, v)
            if len(node.input) > 2 and node.input[2]:
                bias = np.asarray(self.const(node, 2, "bias"), np.float32).reshape(-1)
        else:
            if len(v.onnx_shape) != 2:
                raise ModelError(
                    f"{op} input has rank {len(v.onnx_shape)}; flatten it to (N, features) first",
                    node=node.name,
                    op=op,
                )
            w = np.asarray(self.const(node, 1, "weight"))
            if w.ndim != 2:
                raise ModelError(
                    f"{op} weight has rank {w.ndim}; expected 2", node=node.name, op=op
                )
            if op == "Gemm":
                if attr_int(node, "transA", 0):
                    raise ModelError("Gemm with transA=1 is not supported", node=node.name, op=op)
                w = w if attr_int(node, "transB", 0) else w.T
                alpha = attr_float(node, "alpha", 1.0)
                if len(node.input) > 2 and node.input[2]:
                    bias = (
                        attr_float(node, "beta", 1.0)
                        * np.asarray(self.const(node, 2, "bias"), np.float32)
                    ).reshape(-1)
            else:
                w = w.T
            features = v.onnx_shape[1]
            if w.shape[1] != features:
                raise ModelError(
                    f"weight shape {w.shape} does not match {features} inputs",
                    node=node.name,
                    op=op,
                )
            bits, scale = self.binary_weights(node, w)
            v, perm = self.emit_flatten_for_dense(v, input_kind)
            if perm is not None:
                bits = np.ascontiguousarray(bits[:, perm])
            n_out = bits.shape[0]
            layer_w = ir.Dense(
                self.name("dense"),
                v.ir_shape,
                (n_out,),
                "dense",
                weights=bits,
                input_kind=input_kind,
                input_range=in_range,
            )
            out = Value("acc", (1, n_out), (n_out,))
        self.emit(layer_w)
        mul = in_scale * alpha * scale
        chain: list[FloatOp] = []
        if np.any(mul != 1.0):
            m = mul.astype(np.float32)
            chain.append(FloatOp("mul", {"a": m if np.any(m != m[0]) else m[:1]}))
        if bias is not None:
            if bias.size not in (1, layer_w.out_channels):
                raise ModelError(
                    f"bias of size {bias.size} for {layer_w.out_channels} outputs",
                    node=node.name,
                    op=op,
                )
            if np.any(bias != 0):
                chain.append(FloatOp("add", {"a": bias}))
        out.chain = chain
        return out

    def emit_flatten_for_dense(self, v: Value, input_kind: str) -> tuple[Value, np.ndarray | None]:
        """Emit a pending Flatten; return the column permutation for the dense weights."""
        if not v.pending_flatten:
            return v, None
        if v.nhwc:  # flattened channels-last: already the stream order
            return self.emit_flatten(v, input_kind), None
        h, w, c = v.ir_shape
        # stream index j = (y * W + x) * C + ch  <-  ONNX flatten index ch * H * W + y * W + x
        ys, xs, cs = np.meshgrid(np.arange(h), np.arange(w), np.arange(c), indexing="ij")
        perm = (cs * h * w + ys * w + xs).reshape(-1)
        return self.emit_flatten(v, input_kind), perm

    def conv(self, node: onnx.NodeProto, v: Value) -> tuple[Value, ir.Conv, np.ndarray]:
        self.require_nchw(node, v)
        op = node.op_type
        if len(v.onnx_shape) != 4 or v.pending_flatten:
            raise ModelError(
                f"Conv input has shape {v.onnx_shape}; only 2-D convolutions on "
                "(N, C, H, W) are supported",
                node=node.name,
                op=op,
            )
        w = np.asarray(self.const(node, 1, "weight"))
        _, c, h, wd = v.onnx_shape
        if w.ndim != 4:
            raise ModelError("only 2-D convolutions are supported", node=node.name, op=op)
        if attr_int(node, "group", 1) != 1:  # type: ignore[arg-type]
            raise ModelError(
                "grouped/depthwise convolution is not supported",
                node=node.name,
                op=op,
                hint="use group=1",
            )
        if w.shape[1] != c:
            raise ModelError(
                f"weight shape {w.shape} does not match {c} input channels", node=node.name, op=op
            )
        kh, kw = w.shape[2], w.shape[3]
        dil = attr_ints(node, "dilations", [1, 1])
        if dil != [1, 1]:
            raise ModelError("dilated convolution is not supported", node=node.name, op=op)
        sh, sw = attr_ints(node, "strides", [1, 1])
        auto_pad = attr_str(node, "auto_pad", "NOTSET")
        if auto_pad in ("NOTSET", "VALID"):
            pads = attr_ints(node, "pads", [0, 0, 0, 0]) if auto_pad == "NOTSET" else [0] * 4
            top, left, bottom, right = pads[0], pads[1], pads[2], pads[3]
        elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            outs = [-(-h // sh), -(-wd // sw)]
            tot = [max(0, (outs[0] - 1) * sh + kh - h), max(0, (outs[1] - 1) * sw + kw - wd)]
            small = [t // 2 for t in tot]
            big = [t - s for t, s in zip(tot, small)]
            (top, left), (bottom, right) = (
                (small, big) if auto_pad == "SAME_UPPER" else (big, small)
            )
        else:
            raise ModelError(f"auto_pad {auto_pad!r} is not supported", node=node.name, op=op)
        pad_value = 0
        if v.pad is not None:
            (pt, pl, pb, pr), pad_value = v.pad
            if pad_value != 0 and any((top, left, bottom, right)):
                raise ModelError(
                    "a Pad node with a non-zero value followed by a padded Conv",
                    node=node.name,
                    op=op,
                )
            top, left, bottom, right = top + pt, left + pl, bottom + pb, right + pr
        if min(top, left, bottom, right) < 0 or max(top, bottom) >= kh or max(left, right) >= kw:
            raise ModelError(
                f"padding {(top, left, bottom, right)} must be smaller than the kernel {kh}x{kw}",
                node=node.name,
                op=op,
            )
        oh = (h + top + bottom - kh) // sh + 1
        ow = (wd + left + right - kw) // sw + 1
        if oh < 1 or ow < 1:
            raise ModelError(
                f"the kernel {kh}x{kw} does not fit the {h}x{wd} input", node=node.name, op=op
            )
        bits, scale = self.binary_weights(node, w)
        layer = ir.Conv(
            self.name("conv"),
            v.ir_shape,
            (oh, ow, w.shape[0]),
            "conv",
            weights=np.ascontiguousarray(bits.transpose(0, 2, 3, 1)),
            input_kind="bit" if v.kind == "bit" else "int",
            input_range=self.input_layer.out_range() if self.input_layer else (0, 1),
            kernel=(kh, kw),
            stride=(sh, sw),
            pads=(top, left, bottom, right),
            pad_value=pad_value,
        )
        return Value("acc", (1, w.shape[0], oh, ow), (oh, ow, w.shape[0])), layer, scale

    def pad(self, node: onnx.NodeProto, v: Value) -> Value:
        self.require_nchw(node, v)
        if v.kind not in ("bit", "int") or len(v.onnx_shape) != 4 or v.pad is not None:
            raise ModelError(
                "Pad is supported only on 4-D binary or quantised-input tensors "
                "right before a Conv",
                node=node.name,
                op=node.op_type,
            )
        mode = attr_str(node, "mode", "constant")
        if mode != "constant":
            raise ModelError(f"Pad mode {mode!r} is not supported", node=node.name, op=node.op_type)
        pads = [int(p) for p in self.const(node, 1, "pads").reshape(-1)]
        if len(pads) != 8 or any(pads[i] for i in (0, 1, 4, 5)) or min(pads) < 0:
            raise ModelError(
                "only spatial, non-negative padding is supported", node=node.name, op=node.op_type
            )
        value = 0.0
        if len(node.input) > 2 and node.input[2]:
            value = float(np.asarray(self.const(node, 2, "pad value")).reshape(-1)[0])
        a, _ = compose_affine64(v.chain, v.ir_shape[-1])
        if v.kind == "bit" and value != 0:
            unit = value / a[0]
            if unit not in (1.0, -1.0):
                raise ModelError(
                    f"pad value {value:g} is neither 0 nor +-1 times the activation scale",
                    node=node.name,
                    op=node.op_type,
                )
            pad_value = int(unit)
        elif value != 0:
            raise ModelError(
                "non-zero padding of the integer input is not supported",
                node=node.name,
                op=node.op_type,
            )
        else:
            pad_value = 0
        _, c, h, w = v.onnx_shape
        t, left, b, r = pads[2], pads[3], pads[6], pads[7]
        return replace(
            v, onnx_shape=(1, c, h + t + b, w + left + r), pad=((t, left, b, r), pad_value)
        )

    def transpose(self, node: onnx.NodeProto, v: Value) -> Value:
        op = node.op_type
        rank = len(v.onnx_shape)
        perm = attr_ints(node, "perm", list(range(rank))[::-1])
        if sorted(perm) != list(range(rank)) or perm[0] != 0:
            raise ModelError(f"Transpose {perm} moves the batch axis", node=node.name, op=op)
        shape = tuple(v.onnx_shape[p] for p in perm)
        if v.kind in ("float", "native_cast"):
            self.host_layout.append(
                (len(self.host_ops), "transpose", tuple(p - 1 for p in perm[1:]))
            )
            return replace(v, onnx_shape=shape, ir_shape=shape[1:])
        if rank == 4 and not v.pending_flatten and not v.pad:
            if perm == [0, 2, 3, 1] and not v.nhwc:
                return replace(v, onnx_shape=shape, nhwc=True)
            if perm == [0, 3, 1, 2] and v.nhwc:
                return replace(v, onnx_shape=shape, nhwc=False)
        if perm == list(range(rank)):
            return v
        raise ModelError(
            f"Transpose {perm} is supported only on the input, or as NCHW <-> NHWC before a "
            "flatten",
            node=node.name,
            op=op,
        )

    # --- pooling and layout ----------------------------------------------------------------
    def maxpool(self, node: onnx.NodeProto, v: Value) -> Value:
        self.require_nchw(node, v)
        op = node.op_type
        if len([o for o in node.output if o]) > 1:
            raise ModelError(
                "MaxPool with an Indices output is not supported", node=node.name, op=op
            )
        if len(v.onnx_shape) != 4 or v.pending_flatten:
            raise ModelError("MaxPool needs a (N, C, H, W) tensor", node=node.name, op=op)
        if v.kind in ("float", "native_cast", "native_int", "int"):
            raise ModelError("MaxPool on the input image is not supported", node=node.name, op=op)
        k = attr_ints(node, "kernel_shape", [])
        s = attr_ints(node, "strides", [1] * len(k))
        pads = attr_ints(node, "pads", [0, 0, 0, 0])
        if len(k) != 2 or any(pads) or attr_ints(node, "dilations", [1, 1]) != [1, 1]:
            raise ModelError(
                "only 2-D MaxPool without padding or dilation is supported", node=node.name, op=op
            )
        if attr_str(node, "auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
            raise ModelError("MaxPool auto_pad is not supported", node=node.name, op=op)
        _, c, h, w = v.onnx_shape
        oh, ow = (h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1
        if attr_int(node, "ceil_mode", 0) and ((h - k[0]) % s[0] or (w - k[1]) % s[1]):
            raise ModelError(
                "MaxPool ceil_mode=1 with a partial last window is not supported",
                node=node.name,
                op=op,
            )
        if oh < 1 or ow < 1:
            raise ModelError("MaxPool window larger than its input", node=node.name, op=op)
        if v.kind == "bit":
            if v.chain:
                a, b = compose_affine64(v.chain, c)
                if not (np.all(a > 0) and np.all(b == 0)):
                    raise ModelError(
                        "MaxPool of binary values with a negative scale", node=node.name, op=op
                    )
            value_type = "bit"
        else:
            v = self.flush_chain(v, "pool")
            value_type = "float" if v.kind == "acc_float" else "int"
        self.emit(
            ir.MaxPool(
                self.name("maxpool"),
                v.ir_shape,
                (oh, ow, c),
                "maxpool",
                kernel=(k[0], k[1]),
                stride=(s[0], s[1]),
                value_type=value_type,
                and_channels=np.zeros(c, bool),
            )
        )
        return replace(v, onnx_shape=(1, c, oh, ow), ir_shape=(oh, ow, c))

    def reshape(self, node: onnx.NodeProto, v: Value) -> Value:
        op = node.op_type
        target: tuple[int, ...]
        if op == "Flatten":
            axis = attr_int(node, "axis", 1)
            if axis < 0:
                axis += len(v.onnx_shape)
            target = (int(np.prod(v.onnx_shape[:axis])), int(np.prod(v.onnx_shape[axis:])))
        elif op == "Reshape":
            shape = [int(x) for x in self.const(node, 1, "shape").reshape(-1)]
            allowzero = attr_int(node, "allowzero", 0)
            shape = [
                v.onnx_shape[i] if (x == 0 and not allowzero) else x for i, x in enumerate(shape)
            ]
            try:
                target = np.empty(v.onnx_shape, dtype=np.uint8).reshape(shape).shape
            except ValueError:
                raise ModelError(
                    f"cannot reshape {v.onnx_shape} to {shape}", node=node.name, op=op
                ) from None
        else:
            axes = node.input[1] if len(node.input) > 1 else None
            ax = (
                self.const(node, 1, "axes").reshape(-1).tolist()
                if axes
                else attr_ints(node, "axes", [])
            )
            arr = np.empty(v.onnx_shape, dtype=np.uint8)
            try:
                res = (
                    np.squeeze(arr, axis=tuple(ax))
                    if op == "Squeeze"
                    else np.expand_dims(arr, axis=tuple(ax))
                )
            except (ValueError, np.exceptions.AxisError):
                raise ModelError(f"bad axes {ax}", node=node.name, op=op) from None
            target = res.shape
        target = tuple(int(t) for t in target)
        if target == v.onnx_shape:
            return v
        if v.kind in ("float", "native_cast"):
            if target[0] != 1:
                raise ModelError("reshapes must keep the batch dimension", node=node.name, op=op)
            self.host_layout.append((len(self.host_ops), "reshape", target[1:]))
            return replace(v, onnx_shape=target, ir_shape=target[1:])
        if target[0] != 1:
            raise ModelError(
                f"reshape to {target} mixes the batch dimension", node=node.name, op=op
            )
        rest = target[1:]
        if len(rest) == 1 and len(v.onnx_shape) == 4 and not v.pending_flatten:
            if v.kind.startswith("cmp"):
                raise ModelError("unexpected reshape", node=node.name, op=op)
            return replace(v, onnx_shape=target, pending_flatten=True)
        if len(rest) == 1 and len(v.onnx_shape) == 2:
            return v
        raise ModelError(
            f"reshape from {v.onnx_shape} to {target} is not a flatten; only "
            "(N, C, H, W) -> (N, C*H*W) is supported",
            node=node.name,
            op=op,
        )

    def finish(self, v: Value, name: str) -> None:
        if v.kind not in ("acc", "acc_float"):
            what = {
                "bit": "binary activations",
                "int": "the quantised input",
                "float": "the raw input",
            }.get(v.kind, v.kind)
            raise ModelError(
                f"the model output {quote_name(name)} is {what}; it must be the "
                "scores of a final linear layer (optionally followed by a float "
                "affine such as BatchNorm or TensorNorm)"
            )
        if v.kind == "acc_float":
            raise ModelError(
                "the model output comes after a MaxPool of float scores; pool "
                "before the last layer instead"
            )
        if v.pending_flatten or len(v.ir_shape) == 3:
            if int(np.prod(v.ir_shape[:-1])) != 1:
                raise ModelError(
                    "the model output is a feature map; it must be a vector of class scores"
                )
            v = replace(v, pending_flatten=True)
            v = self.emit_flatten(v, "int")
        self.emit(ir.Scores(self.name("scores"), v.ir_shape, v.ir_shape, "scores", ops=v.chain))


def import_model(model: onnx.ModelProto, source_file: str = "") -> tuple[ir.Model, SourceInfo]:
    return Importer(model, source_file).run()
