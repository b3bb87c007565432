"""What the importer knows about the tensors it walks, and about the source graph."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from ..floatops import FloatOp


class ValueKind(Enum):
    """What a dynamic tensor holds, as far as the IR is concerned."""

    RAW_FLOAT = "float"  # the model's float input, before its quantiser (host-side ops)
    RAW_INT = "native_int"  # an integer image input tensor, before any Cast
    CAST_INT = "native_cast"  # an integer image input cast to float (still host side)
    QUANTISED = "int"  # the input quantiser's integers
    BITS = "bit"  # bipolar activations (1 = +1), possibly times a pending positive scale
    LEVELS = "levels"  # a hidden multi-level activation's integer codes (Value.code_range),
    # times a pending positive scale
    ACC = "acc"  # a linear layer's accumulator, float ops pending in the chain
    ACC_FLOAT = "acc_float"  # an accumulator whose float ops became an Affine layer


@dataclass
class Value:
    """What the importer knows about one dynamic tensor."""

    kind: ValueKind
    onnx_shape: tuple[int, ...]  # with the batch dimension as 1
    ir_shape: tuple[int, ...]  # per image, in the IR layout (H, W, C) or (F,)
    chain: list[FloatOp] = field(default_factory=list)  # float ops still to apply
    pending_flatten: bool = False  # ONNX flattened it; the IR Flatten comes later
    pad: tuple[tuple[int, int, int, int], int] | None = None  # from a Pad node: pads, value
    nhwc: bool = False  # a Transpose(0, 2, 3, 1) made the ONNX tensor channels-last
    # a 4-D tensor straight from the input quantiser whose layout nothing has shown yet: taken
    # as NCHW, until an op that only makes sense on NHWC (a Transpose to NCHW, a Pad on axes 1
    # and 2) shows that the model (a tf2onnx export) quantised its NHWC input
    layout_open: bool = False
    code_range: tuple[int, int] = (0, 1)  # LEVELS: the codes' range (value = scale * code)
    # LEVELS of a staircase activation (docs/pa.md): the real value of each code, from the
    # lowest; the next linear layer takes them in fixed point. None: value = scale * code
    level_values: tuple[float, ...] | None = None
    cmp: bool = False  # the boolean x >= cmp_offset of a GreaterOrEqual (Where comes next)
    cmp_offset: float = 0.0
    cmp_source: str = ""  # the compared tensor (a pre-activation)


@dataclass
class SourceInfo:
    """Facts about the source graph that verification needs (never written to output files)."""

    input_name: str
    output_name: str
    # (tensor, "sign" | "ge" | "round" | "at", (scale, zero point, rounding mode) for "round",
    # (v, 0, "") for "at"): where the source model decides between two outputs (a sign's 0, a
    # rounding boundary, a piecewise approximation's Where term at x = v)
    pre_activations: list[tuple[str, str, tuple[float, float, str] | None]] = field(
        default_factory=list
    )
    input_batch_fixed: bool = False
    input_dtype: str = "float32"
    # the rank of each MultiThreshold's input (its channel axis depends on it; ONNX shape
    # inference cannot always tell, e.g. after a Reshape to a computed shape)
    tensor_ranks: dict[str, int] = field(default_factory=dict)
