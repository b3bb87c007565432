"""The IR: a chain of typed layers with per-image shapes (NHWC or flat), bit widths and numpy
parameters. Layers are data; the golden model executes them and the backends generate from them.

Value types between layers:
  "float"  float32 (only inside the un-fused IR, or the host-side scores)
  "int"    signed integers (the quantised input, accumulators), with a known range
  "bit"    bipolar bits: 1 means +1, 0 means -1
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np

from .floatops import FloatOp

T = TypeVar("T")

Shape = tuple[int, ...]


def signed_bits(lo: int, hi: int) -> int:
    """Bits of a two's-complement integer holding every value in [lo, hi]."""
    bits = 1
    while not (-(1 << (bits - 1)) <= lo and hi <= (1 << (bits - 1)) - 1):
        bits += 1
    return bits


def unsigned_bits(hi: int) -> int:
    return max(1, int(hi).bit_length())


def quant_range(bits: int, signed: bool, narrow: bool) -> tuple[int, int]:
    """The integers a uniform quantiser (QONNX Quant) clips to, before its zero point."""
    if signed:
        return -(1 << (bits - 1)) + int(narrow), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1 - int(narrow)


@dataclass
class Layer:
    """Base layer: a name made by the compiler (never taken from the model) and shapes per image."""

    name: str
    in_shape: Shape
    out_shape: Shape
    source: str = ""  # a sanitised hint of the source node, for reports only

    kind: ClassVar[str] = "layer"
    in_type: ClassVar[str] = "bit"
    out_type: ClassVar[str] = "bit"
    array_fields: ClassVar[tuple[str, ...]] = ()

    def out_range(self) -> tuple[int, int]:
        """Range of the integer output (for "int" outputs); bits give (0, 1)."""
        return (0, 1)

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "in_shape": list(self.in_shape),
            "out_shape": list(self.out_shape),
            "in_type": self.value_in_type(),
            "out_type": self.value_out_type(),
        }

    def value_in_type(self) -> str:
        return self.in_type

    def value_out_type(self) -> str:
        return self.out_type


@dataclass
class InputQuant(Layer):
    """Host side: the model's float input -> device integers or bits.

    host_ops are float32 ops in the ONNX layout of the input (the 2x-1 scaling and the like);
    then the layout change (`layout`: "nchw_to_nhwc", "flatten" or "none") and the quantiser:
      mode "int":     v = clip(round(x / scale + zero_point), qmin, qmax) - zero_point
      mode "bipolar": bit = x >= 0
    """

    onnx_shape: Shape = ()
    host_ops: list[FloatOp] = field(default_factory=list)
    # layout steps among the host ops: (index of the host op they precede, "reshape" | "transpose",
    # target shape | axis permutation), both without the batch axis
    layout_steps: list[tuple[int, str, Shape]] = field(default_factory=list)
    layout: str = "none"
    mode: str = "int"
    bits: int = 8
    signed: bool = True
    narrow: bool = False
    scale: float = 1.0
    zero_point: float = 0.0
    rounding: str = "ROUND"

    kind: ClassVar[str] = "input_quant"
    in_type: ClassVar[str] = "float"

    def host_layout_index(self) -> np.ndarray:
        """For each element after the host steps, its flat index in the model's input."""
        size = int(np.prod(self.onnx_shape))
        probe = np.arange(size, dtype=np.float64).reshape(1, *self.onnx_shape)
        return InputQuant(**{**self.__dict__, "host_ops": []}).host_float(probe).reshape(-1)

    def host_spec(self) -> dict[str, Any]:
        """The host-side quantiser as plain data (what packing.quantise_input and the board
        driver's model.json use)."""
        return {
            "onnx_shape": list(self.onnx_shape),
            "device_shape": list(self.out_shape),
            "host_ops": [op.to_json() for op in self.host_ops],
            "layout_steps": [[i, k, list(a)] for i, k, a in self.layout_steps],
            "layout": self.layout,
            "mode": self.mode,
            "bits": self.out_bits(),
            "scale": self.scale,
            "zero_point": self.zero_point,
            "qrange": list(self.qrange()),
            "rounding": self.rounding,
        }

    def host_float(self, x: np.ndarray) -> np.ndarray:
        """The host's float32 preprocessing: host ops and layout steps in the model's order."""
        from .packing import host_preprocess

        return host_preprocess(x, self.host_spec())

    def qrange(self) -> tuple[int, int]:
        return quant_range(self.bits, self.signed, self.narrow)

    def out_range(self) -> tuple[int, int]:
        if self.mode == "bipolar":
            return (0, 1)
        lo, hi = self.qrange()
        z = round(self.zero_point)
        return lo - z, hi - z

    def value_out_type(self) -> str:
        return "bit" if self.mode == "bipolar" else "int"

    def out_bits(self) -> int:
        if self.mode == "bipolar":
            return 1
        return signed_bits(*self.out_range())

    def summary(self) -> dict[str, Any]:
        s = super().summary()
        s.update(mode=self.mode, layout=self.layout, out_bits=self.out_bits())
        if self.mode == "int":
            s.update(scale=self.scale, zero_point=self.zero_point, range=list(self.out_range()))
        return s


@dataclass
class Linear(Layer):
    """Linear layer: weights are bits (1: +1, 0: -1); or, with more than two levels (a QONNX
    Quant of 2..8 bits on the weights), weight_levels holds the integer weights (same shape)
    and weights their sign bits (w >= 0). The output is the exact integer dot product of the
    integer weights and inputs (an accumulator); zero padding contributes nothing."""

    weights: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.uint8))
    input_kind: str = "bit"  # "bit" or "int"
    input_range: tuple[int, int] = (0, 1)
    weight_levels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))
    # the seed of the fixed-sign generator (packing.fsb_signs, docs/fsb.md) whose signs the
    # weights are, up to a sign per output channel (BatchShift negates a channel whose
    # BatchNorm scale is negative); -1: none
    sign_seed: int = -1
    # integer inputs that are codes of a non-uniform activation (a piecewise approximation,
    # docs/pa.md): input code input_code_lo + i stands for the value input_levels[i]; empty:
    # the code is the value
    input_levels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    input_code_lo: int = 0
    # what the frontend rounded to fixed point (frontend/fixedpoint.py): "weights" and/or
    # "input" -> coefficient bits, real and integer levels, step, largest relative error
    fixed_point: dict[str, Any] = field(default_factory=dict)

    kind: ClassVar[str] = "linear"
    out_type: ClassVar[str] = "int"
    array_fields: ClassVar[tuple[str, ...]] = ("weights", "weight_levels", "input_levels")

    @property
    def binary_weights(self) -> bool:
        return self.weight_levels.size == 0

    def _derived(self, name: str, compute: Callable[[], T]) -> T:
        """A value computed from the layer's arrays and input fields, kept while they stay the
        same (the folding optimiser asks for the same ranges of a layer thousands of times).
        The arrays are made read-only when a value is kept: replacing an array, changing an
        input field or making an array writable again (a copy is) discards the kept values."""
        arrays = (self.weights, self.weight_levels, self.input_levels)
        scalars = (self.input_kind, self.input_range, self.input_code_lo)
        memo: dict[str, Any] = self.__dict__.setdefault("_derived_values", {})
        kept = memo.get("_arrays")
        if (
            kept is None
            or any(a is not b for a, b in zip(arrays, kept))
            or memo.get("_scalars") != scalars
            or any(a.flags.writeable for a in arrays)
        ):
            memo.clear()
            for a in arrays:
                a.flags.writeable = False
            memo.update(_arrays=arrays, _scalars=scalars)
        if name not in memo:
            memo[name] = compute()
        value: T = memo[name]
        return value

    def weight_level_set(self) -> np.ndarray:
        """The distinct integer weights, ascending."""
        return self._derived("weight_level_set", lambda: np.unique(self.int_weights()))

    def int_weights(self) -> np.ndarray:
        """The weights as integers: +-1, or the levels."""
        if self.binary_weights:
            return self.weights.astype(np.int64) * 2 - 1
        return self.weight_levels.astype(np.int64)

    def weight_bits(self) -> int:
        """Bits per weight: 1 for binary, else the levels' two's-complement width."""
        if self.binary_weights:
            return 1
        # at least 2: one bit means +-1 to every kernel (levels {0} or {-1, 0} need two)
        return max(2, signed_bits(int(self.weight_levels.min()), int(self.weight_levels.max())))

    @property
    def out_channels(self) -> int:
        return int(self.weights.shape[0])

    @property
    def fan_in(self) -> int:
        """K: inputs summed per output (taps x channels for a conv)."""
        return int(np.prod(self.weights.shape[1:]))

    def value_in_type(self) -> str:
        return self.input_kind

    @property
    def mapped_input(self) -> bool:
        """The input codes stand for the values input_levels (not themselves)."""
        return self.input_levels.size > 0

    def input_element_bits(self) -> int:
        """Bits of one input element on the stream: a bit, or a code's two's-complement width
        (a staircase's codes, not the values they stand for)."""
        if self.input_kind == "bit":
            return 1
        if self.mapped_input:
            lo = self.input_code_lo
            return signed_bits(lo, lo + self.input_levels.size - 1)
        return signed_bits(*self.input_range)

    def input_values(self, codes: np.ndarray) -> np.ndarray:
        """The integer values of input codes (the codes themselves unless mapped)."""
        if not self.mapped_input:
            return codes
        return self.input_levels.astype(np.int64)[codes.astype(np.int64) - self.input_code_lo]

    def out_range(self) -> tuple[int, int]:
        if self.input_kind == "bit" and self.binary_weights:
            return -self.fan_in, self.fan_in
        return self._derived("out_range", self._out_range)

    def _out_range(self) -> tuple[int, int]:
        acc_lo, acc_hi = self.channel_ranges()
        return int(acc_lo.min()), int(acc_hi.max())

    def channel_ranges(self) -> tuple[np.ndarray, np.ndarray]:
        """(O,) lowest and highest integer dot product of each output channel."""
        lo, hi = (-1, 1) if self.input_kind == "bit" else self.input_range
        w = self.int_weights().reshape(self.out_channels, -1)
        # each term's range is widened to include 0: a padded tap contributes nothing
        t_lo, t_hi = min(lo, 0), max(hi, 0)
        return np.minimum(w * t_lo, w * t_hi).sum(1), np.maximum(w * t_lo, w * t_hi).sum(1)

    def acc_bits(self) -> int:
        return signed_bits(*self.out_range())

    def has_nonzero_weight(self) -> bool:
        """Whether any weight is nonzero (kept: asked for every plan the optimiser builds)."""
        return self._derived("has_nonzero_weight", lambda: bool(self.int_weights().any()))

    def popcount_bits(self) -> int:
        return unsigned_bits(self.fan_in)

    def macs(self) -> int:
        """Multiply-accumulates per image."""
        return self.fan_in * int(np.prod(self.out_shape))

    def summary(self) -> dict[str, Any]:
        s = super().summary()
        s.update(
            fan_in=self.fan_in,
            out_channels=self.out_channels,
            acc_bits=self.acc_bits(),
            acc_range=list(self.out_range()),
            macs=self.macs(),
            weight_bits=int(self.weights.size) * self.weight_bits(),
            bits_per_weight=self.weight_bits(),
            input_kind=self.input_kind,
        )
        if self.input_kind == "bit":
            s["popcount_bits"] = self.popcount_bits()
        else:
            s["input_range"] = list(self.input_range)
        if self.mapped_input:
            s["input_levels"] = [int(v) for v in self.input_levels]
        if self.fixed_point:
            s["fixed_point"] = self.fixed_point
        return s


@dataclass
class Dense(Linear):
    """weights: (out_features, in_features); in_features in the stream order (see Flatten)."""

    kind: ClassVar[str] = "dense"


@dataclass
class Conv(Linear):
    """weights: (out_channels, kh, kw, in_channels) NHWC tap order; pads (top, left, bottom, right).
    pad_value 0 means ONNX zero padding (a padded tap adds nothing); +1/-1 pad with that value."""

    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)
    pad_value: int = 0
    # result-sharing plan (passes/sharing.py), empty when the layer is not shared: per input
    # channel c the distinct 2-D filters share_filters[share_offsets[c]:share_offsets[c + 1]]
    # (kh*kw bits each); output o's 2-D filter on channel c is the distinct filter
    # share_index[o, c] of that channel, bit-inverted when share_invert[o, c]
    share_index: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int32))
    share_invert: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.uint8))
    share_filters: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.uint8))
    share_offsets: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))

    kind: ClassVar[str] = "conv"
    array_fields: ClassVar[tuple[str, ...]] = (
        *Linear.array_fields,
        "share_index",
        "share_invert",
        "share_filters",
        "share_offsets",
    )

    @property
    def shared(self) -> bool:
        return self.share_index.size > 0

    def summary(self) -> dict[str, Any]:
        s = super().summary()
        s.update(
            kernel=list(self.kernel),
            stride=list(self.stride),
            pads=list(self.pads),
            pad_value=self.pad_value,
        )
        return s


@dataclass
class Affine(Layer):
    """Float32 elementwise ops per channel (BatchNorm, bias, scale). Only in the un-fused IR."""

    ops: list[FloatOp] = field(default_factory=list)

    kind: ClassVar[str] = "affine"
    in_type: ClassVar[str] = "float"
    out_type: ClassVar[str] = "float"

    def value_in_type(self) -> str:
        return "float"


@dataclass
class Sign(Layer):
    """Float -> bit: x >= 0 gives 1 (+1). Only in the un-fused IR."""

    kind: ClassVar[str] = "sign"
    in_type: ClassVar[str] = "float"


@dataclass
class Threshold(Layer):
    """Integer accumulator -> bit, per channel: bit = acc >= thresholds[c] (BatchShift's result).
    Thresholds at or below the accumulator's minimum give a constant 1, above its maximum a
    constant 0."""

    thresholds: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    acc_range: tuple[int, int] = (0, 0)

    kind: ClassVar[str] = "threshold"
    in_type: ClassVar[str] = "int"
    array_fields: ClassVar[tuple[str, ...]] = ("thresholds",)

    def threshold_bits(self) -> int:
        lo, hi = self.acc_range
        t = np.clip(self.thresholds, lo, hi + 1)
        return signed_bits(int(t.min()), int(t.max()))

    def constant_channels(self) -> tuple[int, int]:
        lo, hi = self.acc_range
        return int((self.thresholds <= lo).sum()), int((self.thresholds > hi).sum())

    def summary(self) -> dict[str, Any]:
        s = super().summary()
        ones, zeros = self.constant_channels()
        s.update(
            threshold_bits=self.threshold_bits(),
            constant_one_channels=ones,
            constant_zero_channels=zeros,
        )
        return s


@dataclass
class Quantise(Layer):
    """Float -> integer codes of a uniform multi-level activation quantiser (QONNX Quant with
    2..8 bits after a hidden layer): code = clip(round(x / scale + zero_point), qmin, qmax) -
    zero_point, so that the value is scale * code and 0 stays 0. Only in the un-fused IR."""

    scale: float = 1.0
    zero_point: int = 0
    bits: int = 2
    signed: bool = True
    narrow: bool = False
    rounding: str = "ROUND"

    kind: ClassVar[str] = "quantise"
    in_type: ClassVar[str] = "float"
    out_type: ClassVar[str] = "int"

    def out_range(self) -> tuple[int, int]:
        lo, hi = quant_range(self.bits, self.signed, self.narrow)
        return lo - self.zero_point, hi - self.zero_point

    def summary(self) -> dict[str, Any]:
        s = super().summary()
        s.update(bits=self.bits, scale=self.scale, code_range=list(self.out_range()))
        return s


@dataclass
class MultiThreshold(Layer):
    """Integer accumulator -> integer code, per channel c: code = lo + #{i : acc >=
    thresholds[c, i]} for (lo, hi) = code_range and hi - lo thresholds per channel, sorted
    (BatchShift of a multi-level activation). As for Threshold, a channel whose activation
    decreases with the accumulator had its weights negated; a threshold at or below the
    accumulator's minimum always counts, one above its maximum never does."""

    thresholds: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int64))
    acc_range: tuple[int, int] = (0, 0)
    code_range: tuple[int, int] = (0, 1)

    kind: ClassVar[str] = "multithreshold"
    in_type: ClassVar[str] = "int"
    out_type: ClassVar[str] = "int"
    array_fields: ClassVar[tuple[str, ...]] = ("thresholds",)

    def out_range(self) -> tuple[int, int]:
        return int(self.code_range[0]), int(self.code_range[1])

    def out_bits(self) -> int:
        return signed_bits(*self.out_range())

    def threshold_bits(self) -> int:
        lo, hi = self.acc_range
        t = np.clip(self.thresholds, lo, hi + 1)
        return signed_bits(int(t.min()), int(t.max()))

    def summary(self) -> dict[str, Any]:
        s = super().summary()
        s.update(
            levels=int(self.thresholds.shape[1]) + 1,
            code_range=list(self.out_range()),
            out_bits=self.out_bits(),
            threshold_bits=self.threshold_bits(),
        )
        return s


@dataclass
class Staircase(Layer):
    """Float -> integer codes of a piecewise-approximation activation (docs/pa.md): the source
    computes offset + sum_n coeffs[n] * s_n(x) with s_n = +1 above thresholds[n], -1 below
    (at x == thresholds[n]: ONNX Sign gives 0 ("sign"), Where(Greater) -1 ("gt"),
    Where(GreaterOrEqual) +1 ("ge")). The code is the number of thresholds reached, 0..N
    (thresholds ascending); the next layer takes values[code] in fixed point. Only in the
    un-fused IR: BatchShift turns it into a MultiThreshold. A "sign" tie counts as reached
    (the source's value there lies between two levels; verify counts such inputs as ties,
    as for a binary Sign's 0)."""

    thresholds: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    ties: tuple[str, ...] = ()  # per threshold: "sign", "gt" or "ge"
    values: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))  # (N + 1,)

    kind: ClassVar[str] = "staircase"
    in_type: ClassVar[str] = "float"
    out_type: ClassVar[str] = "int"
    array_fields: ClassVar[tuple[str, ...]] = ("thresholds", "values")

    def out_range(self) -> tuple[int, int]:
        return 0, int(self.thresholds.size)

    def codes(self, y: np.ndarray) -> np.ndarray:
        """The code of float32 pre-activations y (a "sign" tie counts as reached)."""
        counts = np.zeros(y.shape, np.int64)
        for t, tie in zip(self.thresholds.astype(np.float32), self.ties):
            counts += (y > t) if tie == "gt" else (y >= t)
        return counts

    def summary(self) -> dict[str, Any]:
        s = super().summary()
        s.update(
            bases=int(self.thresholds.size),
            thresholds=[float(t) for t in self.thresholds],
            values=[float(v) for v in self.values],
        )
        return s


@dataclass
class ChannelThresholds(Layer):
    """Float -> integer codes by per-channel thresholds, QONNX MultiThreshold's semantics:
    code = code_lo + #{n : x >= thresholds[c, n]} for channel c (thresholds (C, N), any
    order); the source's value is out_scale * code, the scale going into the next layer's
    float ops as a Quant's does. Only in the un-fused IR: BatchShift turns it into a
    MultiThreshold on the accumulator."""

    thresholds: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    code_lo: int = 0

    kind: ClassVar[str] = "channel_thresholds"
    in_type: ClassVar[str] = "float"
    out_type: ClassVar[str] = "int"
    array_fields: ClassVar[tuple[str, ...]] = ("thresholds",)

    def out_range(self) -> tuple[int, int]:
        return self.code_lo, self.code_lo + int(self.thresholds.shape[1])

    def codes(self, y: np.ndarray, channels: np.ndarray | None = None) -> np.ndarray:
        """The code of float32 values y (channels on the last axis: all of them, or those
        listed in `channels`)."""
        t = self.thresholds.astype(np.float32)
        if channels is not None:
            t = t[channels]
        counts = np.zeros(y.shape, np.int64)
        for n in range(t.shape[1]):
            counts += y >= t[:, n]
        return counts + self.code_lo

    def summary(self) -> dict[str, Any]:
        s = super().summary()
        s.update(
            thresholds_per_channel=int(self.thresholds.shape[1]), code_range=list(self.out_range())
        )
        return s


# what BatchShift puts after a linear layer: bits (Threshold) or multi-level codes
ThresholdLayer = Threshold | MultiThreshold


@dataclass
class MaxPool(Layer):
    """kxk max-pool, no padding. On bits it is an OR over the window, or an AND for the channels
    in and_channels (a max taken before a decreasing comparison, see BatchShift). On int/float
    values it is the numeric max (un-fused IR only)."""

    kernel: tuple[int, int] = (2, 2)
    stride: tuple[int, int] = (2, 2)
    value_type: str = "bit"
    and_channels: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))

    kind: ClassVar[str] = "maxpool"
    array_fields: ClassVar[tuple[str, ...]] = ("and_channels",)

    # a sliding window reads a pool's windows as it reads a conv's: no padding
    pads: ClassVar[tuple[int, int, int, int]] = (0, 0, 0, 0)
    pad_value: ClassVar[int] = 0

    @property
    def overlapping(self) -> bool:
        """Windows that overlap or skip (stride other than the size) or are not square."""
        return self.kernel != self.stride or self.kernel[0] != self.kernel[1]

    def value_in_type(self) -> str:
        return self.value_type

    def value_out_type(self) -> str:
        return self.value_type

    def summary(self) -> dict[str, Any]:
        s = super().summary()
        s.update(
            kernel=list(self.kernel),
            stride=list(self.stride),
            and_channels=int(np.count_nonzero(self.and_channels)),
        )
        return s


@dataclass
class Flatten(Layer):
    """(H, W, C) -> (H*W*C,) in stream order (pixel-major, channel fastest). No data moves; the
    frontend permuted the next layer's weights from ONNX's (C, H, W) order."""

    value_type: str = "bit"
    kind: ClassVar[str] = "flatten"

    def value_in_type(self) -> str:
        return self.value_type

    def value_out_type(self) -> str:
        return self.value_type


@dataclass
class Scores(Layer):
    """Host side: integer scores -> the model's float outputs through float32 ops (bias,
    BatchNorm, TensorNorm). The device may also report the top-1 label when the ops are the
    same increasing map for every class (device_label_ok)."""

    ops: list[FloatOp] = field(default_factory=list)

    kind: ClassVar[str] = "scores"
    in_type: ClassVar[str] = "int"
    out_type: ClassVar[str] = "float"

    def device_label_ok(self) -> bool:
        from .floatops import ORDER_KEEPING, compose_affine64

        ops = list(self.ops)
        while ops and ops[-1].kind in ORDER_KEEPING:  # a final softmax keeps the top-1
            ops.pop()
        if any(op.kind in ORDER_KEEPING for op in ops):
            return False
        a, b = compose_affine64(ops, self.out_shape[-1])
        return bool(np.all(a > 0) and np.all(a == a[0]) and np.all(b == b[0]))


LAYER_TYPES: dict[str, type[Layer]] = {
    cls.kind: cls
    for cls in (
        InputQuant,
        Dense,
        Conv,
        Affine,
        Sign,
        Quantise,
        Staircase,
        ChannelThresholds,
        Threshold,
        MultiThreshold,
        MaxPool,
        Flatten,
        Scores,
    )
}


@dataclass
class Model:
    """The IR graph: a chain of layers from InputQuant to Scores."""

    layers: list[Layer]
    source_file: str = ""
    passes: list[str] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def input(self) -> InputQuant:
        layer = self.layers[0]
        assert isinstance(layer, InputQuant)
        return layer

    @property
    def scores(self) -> Scores:
        layer = self.layers[-1]
        assert isinstance(layer, Scores)
        return layer

    def linear_layers(self) -> list[Linear]:
        return [layer for layer in self.layers if isinstance(layer, Linear)]

    def coeff_bits(self) -> int | None:
        """The fixed-point bits of a piecewise approximation's rounded values (docs/pa.md);
        None when the integer model is exact."""
        bits = [
            int(part["coeff_bits"])
            for layer in self.linear_layers()
            for part in layer.fixed_point.values()
        ]
        return min(bits) if bits else None

    def is_integer_only(self) -> bool:
        """True when no float op remains between the input quantiser and the scores."""
        float_layers = (Affine, Sign, Quantise, Staircase, ChannelThresholds)
        return not any(isinstance(layer, float_layers) for layer in self.layers)

    def copy(self) -> Model:
        import copy

        return copy.deepcopy(self)

    # --- serialisation: ir.json + one .npy per array -------------------------------------
    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        arrays = folder / "arrays"
        arrays.mkdir(exist_ok=True)
        out = []
        for layer in self.layers:
            entry: dict[str, Any] = {"kind": layer.kind}
            for f in fields(layer):
                value = getattr(layer, f.name)
                if f.name in layer.array_fields:
                    file = f"{layer.name}.{f.name}.npy"
                    np.save(arrays / file, value)
                    entry[f.name] = {"npy": f"arrays/{file}"}
                elif f.name in ("ops", "host_ops"):
                    entry[f.name] = {"float_ops": [op.to_json() for op in value]}
                else:
                    entry[f.name] = value
            entry["summary"] = layer.summary()
            out.append(entry)
        doc = {
            "format": "bnn-hls-ir",
            "version": 1,
            "source_file": self.source_file,
            "passes": self.passes,
            "notes": self.notes,
            "layers": out,
        }
        (folder / "ir.json").write_text(json.dumps(doc, indent=1, default=_json_default) + "\n")

    @classmethod
    def load(cls, folder: Path) -> Model:
        doc = json.loads((folder / "ir.json").read_text())
        layers: list[Layer] = []
        for entry in doc["layers"]:
            layer_cls = LAYER_TYPES[entry["kind"]]
            kwargs: dict[str, Any] = {}
            for f in fields(layer_cls):
                if f.name not in entry:
                    continue
                value = entry[f.name]
                if isinstance(value, dict) and "npy" in value:
                    value = np.load(folder / value["npy"], allow_pickle=False)
                elif isinstance(value, dict) and "float_ops" in value:
                    value = [FloatOp.from_json(op) for op in value["float_ops"]]
                elif f.name == "layout_steps":
                    value = [(int(i), str(k), tuple(a)) for i, k, a in value]
                elif isinstance(value, list):
                    value = tuple(value)
                kwargs[f.name] = value
            layers.append(layer_cls(**kwargs))
        return cls(layers, doc.get("source_file", ""), doc.get("passes", []), doc.get("notes", {}))


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot serialise {type(value)}")


_IDENT = re.compile(r"[^A-Za-z0-9_]+")


def sanitize(name: str, limit: int = 48) -> str:
    """A model-provided name reduced to [A-Za-z0-9_], for reports and identifiers."""
    cleaned = _IDENT.sub("_", str(name)).strip("_")[:limit]
    return cleaned or "unnamed"
