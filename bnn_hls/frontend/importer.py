"""Turn a checked ONNX/QONNX graph into the un-fused IR.

The graph is walked in topological order. Nodes whose inputs are all constant are folded
(weight quantisers, transposes, shape arithmetic). The remaining "dynamic" nodes must form one
chain from the input to the output; each is handled by its op family's module (HANDLERS):

  float input --(Mul/Add/Sub/Div/Reshape: host ops)--> Quant | BipolarQuant | Sign  => InputQuant
  Conv/MatMul/Gemm with +-s weights                                     (linear.py) => Dense/Conv
  BatchNormalization, Add/Sub/Mul/Div by per-channel constants   (normalisation.py) => Affine
  Sign | BipolarQuant | Where(GreaterOrEqual(x, c), a, -a)          (quantisers.py) => Sign
  Relu before an unsigned Quant with zero point 0: dropped first (relu.py, QuantReLU)
  sum of beta_n * Sign(x - v_n) or its Where form (staircase.py, quantisers.py) => Staircase
  MaxPool                                                        (normalisation.py) => MaxPool
  Flatten / Reshape to (N, -1), Transpose, Pad                          (layout.py) => Flatten
  what follows the last linear layer                                                => Scores

Every value between them carries a ValueKind (values.py); every refusal goes through
refuse.refuse (node, message, what to do).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import onnx

from .. import ir
from ..errors import ModelError, quote_name
from .attrs import constant_of
from .constfold import fold_node
from .fixedpoint import DEFAULT_COEFF_BITS
from .fsb import attach_sign_seeds, read_spec
from .layout import LayoutOps
from .linear import LinearOps
from .loader import graph_io, static_input_shape
from .normalisation import NormalisationOps
from .qonnx_ops import QONNX_DOMAINS
from .quantisers import QuantiserOps
from .refuse import SUPPORTED_QONNX, refuse
from .relu import drop_relus_before_unsigned_quants
from .staircase import DOMAIN as STAIRCASE_DOMAIN
from .staircase import rewrite_staircases
from .values import SourceInfo, Value
from .values import ValueKind as K

log = logging.getLogger(__name__)

SUPPORTED_OPS = (
    "Quant, BipolarQuant, MultiThreshold (QONNX); Conv, MatMul, Gemm, BatchNormalization, Sign, "
    "Where(GreaterOrEqual), MaxPool, Flatten, Reshape, Mul/Add/Sub/Div by constants, "
    "a final Softmax/LogSoftmax, Relu directly before an unsigned Quant (QuantReLU), "
    "Identity, Dropout, Cast, Pad, Shape/Gather/Unsqueeze/Concat/Transpose on constants"
)


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
                refuse(n, f"input {quote_name(name)} is produced by no node")
            d.add(produced[name])
        deps[i] = d
    order: list[int] = []
    done: set[int] = set()
    pending = list(range(len(graph.node)))
    while pending:
        ready = [i for i in pending if deps[i] <= done]
        if not ready:
            stuck = [graph.node[i] for i in pending[:4]]
            names = ", ".join(
                quote_name(n.name) if n.name else f"#{pending[k]} ({quote_name(n.op_type)})"
                for k, n in enumerate(stuck)
            )
            raise ModelError(
                f"the graph has a cycle through nodes {names}",
                hint="an ONNX graph must be acyclic; re-export the model",
            )
        for i in ready:
            done.add(i)
            order.append(i)
        pending = [i for i in pending if i not in done]
    return [graph.node[i] for i in order]


class Importer(QuantiserOps, LinearOps, NormalisationOps, LayoutOps):
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
        kind = K.RAW_FLOAT
        if elem in (
            onnx.TensorProto.UINT8,
            onnx.TensorProto.INT8,
            onnx.TensorProto.UINT16,
            onnx.TensorProto.INT16,
        ):
            kind = K.RAW_INT
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
                refuse(node, f"input {quote_name(missing[0])} is not available")
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
                refuse(
                    node,
                    "this node joins two computed tensors; branching graphs "
                    "(residual additions, concatenations) are not supported",
                )
            users = [u for u in consumers[dyn[0]] if u.op_type != "Shape"]
            if len(users) > 1:
                refuse(
                    node,
                    f"tensor {quote_name(dyn[0])} feeds {len(users)} nodes; only "
                    "a single chain of layers is supported",
                    "a piecewise-approximation activation (docs/pa.md) is a sum of 2 to 16 "
                    "terms beta * Sign(x - v) or Where(Greater(x, v), a, b) of one tensor, "
                    "with scalar v, beta > 0 and a > b"
                    if any(u.op_type in ("Sub", "Add", "Greater", "GreaterOrEqual") for u in users)
                    else None,
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
        if node.domain == STAIRCASE_DOMAIN:
            return self.staircase(node, v)
        table = QONNX_HANDLERS if node.domain in QONNX_DOMAINS else HANDLERS
        handler = table.get(node.op_type)
        if handler is not None:
            return handler(self, node, v)
        if node.domain in QONNX_DOMAINS:
            refuse(node, "this QONNX op is not supported", SUPPORTED_QONNX)
        refuse(node, "operator not supported", f"supported: {SUPPORTED_OPS}")

    def finish(self, v: Value, name: str) -> None:
        if v.kind not in (K.ACC, K.ACC_FLOAT):
            what = {
                K.BITS: "binary activations",
                K.LEVELS: "multi-level activations",
                K.QUANTISED: "the quantised input",
                K.RAW_FLOAT: "the raw input",
            }.get(v.kind, "not scores")
            raise ModelError(
                f"the model output {quote_name(name)} is {what}; it must be the "
                "scores of a final linear layer (optionally followed by a float "
                "affine such as BatchNorm or TensorNorm)"
            )
        if v.kind is K.ACC_FLOAT:
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


Handler = Callable[[Importer, onnx.NodeProto, Value], Value]

HANDLERS: dict[str, Handler] = {
    "Identity": Importer.passthrough,
    "Dropout": Importer.passthrough,
    "Cast": Importer.cast,
    "Mul": Importer.elementwise,
    "Add": Importer.elementwise,
    "Sub": Importer.elementwise,
    "Div": Importer.elementwise,
    "BatchNormalization": Importer.batchnorm,
    "Conv": Importer.linear,
    "MatMul": Importer.linear,
    "Gemm": Importer.linear,
    "Sign": lambda imp, node, v: imp.activation(node, v, "sign"),
    "GreaterOrEqual": Importer.greater_or_equal,
    "Where": Importer.where,
    "MaxPool": Importer.maxpool,
    "Softmax": Importer.softmax,
    "LogSoftmax": Importer.softmax,
    "Flatten": Importer.reshape,
    "Reshape": Importer.reshape,
    "Squeeze": Importer.reshape,
    "Unsqueeze": Importer.reshape,
    "Pad": Importer.pad,
    "Transpose": Importer.transpose,
}
QONNX_HANDLERS: dict[str, Handler] = {
    "BipolarQuant": lambda imp, node, v: imp.activation(node, v, "bipolar"),
    "Quant": Importer.quant,
    "MultiThreshold": Importer.multithreshold,
}


def import_model(
    model: onnx.ModelProto, source_file: str = "", coeff_bits: int = DEFAULT_COEFF_BITS
) -> tuple[ir.Model, SourceInfo]:
    """The un-fused IR of a checked model. coeff_bits: the fixed-point precision of
    piecewise-approximation weights and activation values (docs/pa.md)."""
    seeds = read_spec(model)  # fixed-sign layers (docs/fsb.md): checked once the walk is done
    imported, info = Importer(
        rewrite_staircases(drop_relus_before_unsigned_quants(model)), source_file, coeff_bits
    ).run()
    return attach_sign_seeds(imported, seeds), info
