"""The importer's state while it walks the graph, and the helpers every op family uses."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import onnx

from .. import ir
from ..errors import ModelError
from ..floatops import FloatOp
from .loader import initializers
from .refuse import refuse
from .staircase import DOMAIN as STAIRCASE_DOMAIN
from .values import SourceInfo, Value
from .values import ValueKind as K


class ImportState:
    def __init__(self, model: onnx.ModelProto, source_file: str = "", coeff_bits: int = 8) -> None:
        self.model = model
        self.source_file = source_file
        self.coeff_bits = coeff_bits  # fixed-point precision of approximated values
        # the model has piecewise-approximation activations (staircase.py found some): its
        # few-level real weights are read as a staircase too
        self.staircases = any(n.domain == STAIRCASE_DOMAIN for n in model.graph.node)
        # what the linear layer being read rounds to fixed point (fixedpoint.py)
        self.pending_fixed_point: dict[str, object] = {}
        self.opset = max(
            (o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=13
        )
        self.consts: dict[str, np.ndarray] = initializers(model)
        self.values: dict[str, Value] = {}
        self.layers: list[ir.Layer] = []
        self.input_layer: ir.InputQuant | None = None
        self.host_ops: list[FloatOp] = []
        self.host_layout: list[tuple[int, str, tuple[int, ...]]] = []
        self.in_shape: tuple[int, ...] = ()
        self.in_elem: int = onnx.TensorProto.FLOAT
        self.info = SourceInfo("", "")

    def name(self, kind: str) -> str:
        return f"l{len(self.layers)}_{kind}"

    def emit(self, layer: ir.Layer) -> None:
        self.layers.append(layer)

    def const(self, node: onnx.NodeProto, index: int, what: str) -> np.ndarray:
        if index >= len(node.input) or not node.input[index]:
            refuse(node, f"missing {what} input")
        name = node.input[index]
        if name not in self.consts:
            refuse(
                node, f"the {what} must be a constant (an initializer), not computed at run time"
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
            refuse(
                node,
                f"constant of shape {c.shape} does not broadcast to the tensor "
                f"shape {v.onnx_shape}",
            )
        if full.shape != v.onnx_shape:
            refuse(node, f"constant of shape {c.shape} would grow the tensor {v.onnx_shape}")
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
            refuse(node, f"elementwise op on a rank-{len(v.onnx_shape)} tensor is not supported")
        vec = chw.reshape(chw.shape[0], -1)
        if not np.all(vec == vec[:, :1]):
            refuse(
                node, "the constant varies across pixels; only per-channel constants are supported"
            )
        return vec[:, 0].copy()

    def require_nchw(self, node: onnx.NodeProto, v: Value) -> None:
        if v.nhwc and len(v.onnx_shape) == 4:
            refuse(
                node,
                "this op on a channels-last (transposed) tensor is not supported",
                hint="transpose back to NCHW first",
            )

    def flush_chain(self, v: Value, source: str) -> Value:
        """Emit pending float ops as an Affine layer (un-fused IR)."""
        if not v.chain:
            return v
        self.emit(ir.Affine(self.name("affine"), v.ir_shape, v.ir_shape, source, ops=v.chain))
        return replace(v, kind=K.ACC_FLOAT if v.kind is K.ACC else v.kind, chain=[])

    def emit_flatten(self, v: Value, value_type: str) -> Value:
        if not v.pending_flatten:
            return v
        flat = (int(np.prod(v.ir_shape)),)
        self.emit(ir.Flatten(self.name("flatten"), v.ir_shape, flat, value_type=value_type))
        return replace(v, ir_shape=flat, pending_flatten=False)

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
        kind = K.BITS if mode == "bipolar" else K.QUANTISED
        return Value(kind, v.onnx_shape, ir_shape, layout_open=len(shape) == 3)

    def input_was_nhwc(self, v: Value) -> Value:
        """The input quantiser's tensor was NHWC (the ops after it show it): its device layout
        is then the ONNX one, and the value is channels-last."""
        assert self.input_layer is not None and v.layout_open
        self.input_layer.layout = "none"
        self.input_layer.out_shape = v.onnx_shape[1:]
        return replace(v, ir_shape=v.onnx_shape[1:], nhwc=True, layout_open=False)
