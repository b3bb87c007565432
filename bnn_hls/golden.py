"""The golden model: a bit-exact executor of the IR, batched and vectorised with numpy.

Every backend is checked against it. Integer layers are exact: binary products are evaluated
either as a bit-packed XNOR-popcount (method "xnor", the hardware's arithmetic, with the zero
padding border correction) or as a float matrix product (method "blas": bits as their 0/1
values, x . w = 2 (b . w) - sum(w); float32 while every partial sum is exact in it, which the
IR's accumulator ranges decide, else float64). Float layers (only in the un-fused IR and the
host-side scores) run in float32 in the source model's op order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import ir
from .floatops import apply_ops
from .packing import bits_to_u64, popcount64, quantise_codes, quantise_input

log = logging.getLogger(__name__)

# keep im2col chunks around this many bytes
CHUNK_BYTES = 4 << 20
EXACT_F32 = 1 << 24


@dataclass
class Result:
    scores: np.ndarray  # float32 (N, classes): the model's output
    acc: np.ndarray  # int64 (N, classes): the device's integer scores
    labels: np.ndarray  # int64 (N,): top-1 of scores
    trace: list[np.ndarray] | None = None  # every layer's output, when asked for


def run(model: ir.Model, x: np.ndarray, method: str = "blas", trace: bool = False) -> Result:
    """Execute the IR on a batch x of shape (N, *input shape of the ONNX model)."""
    values: list[np.ndarray] = []
    v: np.ndarray = np.asarray(x)
    acc: np.ndarray | None = None
    layers = model.layers
    i = 0
    while i < len(layers):
        layer = layers[i]
        if isinstance(layer, ir.Scores):
            acc = v.astype(np.int64)
        nxt = layers[i + 1] if i + 1 < len(layers) else None
        if isinstance(layer, (ir.Conv, ir.Dense)) and isinstance(nxt, ir.Threshold) and not trace:
            # fused: no accumulator array
            if isinstance(layer, ir.Conv):
                v = conv(layer, v, method, nxt.thresholds)
            else:
                v = dense(layer, v, method, nxt.thresholds)
            i += 2
            continue
        v = run_layer(layer, v, method)
        if trace:
            values.append(v)
        i += 1
    assert acc is not None, "the IR must end with a Scores layer"
    scores = v.reshape(v.shape[0], -1).astype(np.float32)
    return Result(
        scores, acc.reshape(acc.shape[0], -1), np.argmax(scores, axis=1), values if trace else None
    )


def run_layer(layer: ir.Layer, v: np.ndarray, method: str = "blas") -> np.ndarray:
    fn = _RUNNERS.get(type(layer))
    if fn is None:
        raise TypeError(f"golden model cannot execute {layer.kind}")
    return fn(layer, v, method)


# --- host-side input quantiser ---------------------------------------------------------------
def input_quant(layer: ir.InputQuant, x: np.ndarray, method: str = "") -> np.ndarray:
    return quantise_input(x, layer.host_spec())


# --- linear layers ---------------------------------------------------------------------------
class _FloatProducts:
    """A linear layer's integer products as one float matrix product, exact: float32 (fast
    BLAS) while every partial sum is exactly representable, else float64. Bits run as their
    0/1 values (no pass turning them into +-1): a +-1 input x = 2b - 1 gives
    x . w = 2 (b . w) - sum(w), and a pad value p is the bit value (p + 1) / 2."""

    def __init__(self, layer: ir.Linear, thresholds: np.ndarray | None) -> None:
        self.layer = layer
        self.bits = layer.input_kind == "bit"
        lo, hi = layer.out_range()
        self.bound = max(-lo, hi)
        # 0/1 bits padded with 1/2 give halves: one bit less of integer range
        self.dtype = np.float32 if self.bound < EXACT_F32 >> (2 if self.bits else 0) else np.float64
        w = layer.int_weights().reshape(layer.out_channels, -1).astype(self.dtype)
        self.w_t = np.ascontiguousarray(w.T)
        self.wsum = w.sum(1)  # exact: |sum| <= bound
        pad_value = layer.pad_value if isinstance(layer, ir.Conv) else 0
        self.pad = (pad_value + 1) / 2 if self.bits else float(pad_value)
        self.acc_type = _acc_dtype(layer)
        self.thresholds = None if thresholds is None else self._on_dot(thresholds)

    def _on_dot(self, thresholds: np.ndarray) -> np.ndarray:
        """acc >= t as dot >= t': t' = (t + sum(w)) / 2 for bits. Thresholds beyond the
        reachable +-bound are clipped to just past it (same comparison) so that they convert
        to the float type exactly."""
        t = np.clip(thresholds, -self.bound - 1, self.bound + 1).astype(np.float64)
        return (t if not self.bits else (t + self.wsum) / 2).astype(self.dtype)

    def inputs(self, codes: np.ndarray) -> np.ndarray:
        """What the product multiplies: bits as they are, integer codes as their values."""
        return codes if self.bits else self.layer.input_values(codes)

    def dot(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, self.dtype).reshape(-1, self.w_t.shape[0]) @ self.w_t

    def finish(self, dot: np.ndarray, out: np.ndarray) -> None:
        """Write the accumulators (or with thresholds, the output bits) of dot into out."""
        dot = dot.reshape(out.shape)
        if self.thresholds is not None:
            np.greater_equal(dot, self.thresholds, out=out.view(np.bool_))
        else:
            out[...] = np.rint(2 * dot - self.wsum if self.bits else dot).astype(self.acc_type)

    def empty(self, shape: tuple[int, ...]) -> np.ndarray:
        return np.empty(shape, self.acc_type if self.thresholds is None else np.uint8)


def _acc_dtype(layer: ir.Linear) -> type:
    lo, hi = layer.out_range()
    return np.int32 if max(-lo, hi) < (1 << 31) else np.int64


def _as_signed(layer: ir.Linear, v: np.ndarray) -> np.ndarray:
    """Layer input as +-1 (bits) or integer values in float64 (the shared conv's form)."""
    if layer.input_kind == "bit":
        return v.astype(np.float64) * 2 - 1
    return layer.input_values(v).astype(np.float64)


def _weights_pm1(layer: ir.Linear, dtype: type) -> np.ndarray:
    """The integer weights (+-1, or the levels) as (out, fan-in) in a float type."""
    return layer.int_weights().reshape(layer.out_channels, -1).astype(dtype)


def dense(
    layer: ir.Dense, v: np.ndarray, method: str = "blas", thresholds: np.ndarray | None = None
) -> np.ndarray:
    """The layer's accumulators; with thresholds, directly the bits acc >= thresholds."""
    v = v.reshape(v.shape[0], -1)
    if method == "xnor" and layer.input_kind == "bit" and layer.binary_weights:
        acc = xnor_popcount_acc(v, layer.weights)
        return acc if thresholds is None else (acc >= thresholds).astype(np.uint8)
    products = _FloatProducts(layer, thresholds)
    out = products.empty((v.shape[0], layer.out_channels))
    products.finish(products.dot(products.inputs(v)), out)
    return out


def _pad(x: np.ndarray, pads: tuple[int, int, int, int], value: float) -> np.ndarray:
    return _pad_as(x, pads, value, x.dtype.type)


def im2col(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """(N, H, W, C) padded -> (N, OH, OW, kh*kw*C) with taps in (ky, kx, c) order."""
    kh, kw = kernel
    sh, sw = stride
    x = np.ascontiguousarray(x)
    n, h, w, c = x.shape
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    cols = np.empty((n, oh, ow, kh * kw * c), x.dtype)
    s_n, s_h, s_w, s_c = x.strides
    row = kw * c
    for ky in range(kh):
        # one kernel row of a window is kw*c consecutive elements of x: one copy per row
        taps = np.lib.stride_tricks.as_strided(
            x[:, ky:], (n, oh, ow, row), (s_n, s_h * sh, s_w * sw, s_c), writeable=False
        )
        cols[..., ky * row : (ky + 1) * row] = taps
    return cols


def _chunks(n: int, bytes_per_item: int) -> list[slice]:
    step = max(1, CHUNK_BYTES // max(1, bytes_per_item))
    return [slice(i, min(n, i + step)) for i in range(0, n, step)]


def conv(
    layer: ir.Conv, v: np.ndarray, method: str = "blas", thresholds: np.ndarray | None = None
) -> np.ndarray:
    """The conv's accumulators; with thresholds, directly the bits acc >= thresholds. A conv
    with a sharing plan is executed in its shared form."""
    if layer.shared:
        acc = conv_shared(layer, v)
        return acc if thresholds is None else (acc >= thresholds).astype(np.uint8)
    if method == "xnor" and layer.input_kind == "bit" and layer.binary_weights:
        acc = conv_xnor(layer, v)
        return acc if thresholds is None else (acc >= thresholds).astype(np.uint8)
    products = _FloatProducts(layer, thresholds)
    out = products.empty((v.shape[0], *layer.out_shape))
    # small chunks: every temporary is reused from the allocator instead of fresh pages
    for sl in _chunks(v.shape[0], int(np.prod(layer.out_shape[:2])) * layer.fan_in * 4):
        x = _pad_as(products.inputs(v[sl]), layer.pads, products.pad, products.dtype)
        products.finish(products.dot(im2col(x, layer.kernel, layer.stride)), out[sl])
    return out


def _pad_as(
    x: np.ndarray, pads: tuple[int, int, int, int], value: float, dtype: type
) -> np.ndarray:
    """x padded with value, converted to dtype in the same copy."""
    t, left, b, r = pads
    n, h, w, c = x.shape
    out = np.empty((n, t + h + b, left + w + r, c), dtype)
    out[:, t : t + h, left : left + w] = x
    for rows in (slice(0, t), slice(t + h, None)):
        out[:, rows] = value
    for columns in (slice(0, left), slice(left + w, None)):
        out[:, t : t + h, columns] = value
    return out


def conv_shared(layer: ir.Conv, v: np.ndarray) -> np.ndarray:
    """Result sharing (passes/sharing.py): per window, every distinct 2-D filter's result on
    its input channel once, then each output adds its channels' shared results, negated where
    its filter is the inverse."""
    oh, ow, o = layer.out_shape
    c = layer.in_shape[-1]
    t = layer.kernel[0] * layer.kernel[1]
    offsets = layer.share_offsets
    distinct = layer.share_filters.shape[0]
    # gather matrix: shared result r -> output o with sign +-1
    gather = np.zeros((distinct, o))
    rows = offsets[:-1][None, :] + layer.share_index  # (O, C)
    signs = 1.0 - 2.0 * layer.share_invert
    np.add.at(gather, (rows.T, np.arange(o)[None, :].repeat(c, 0)), signs.T)
    filters = layer.share_filters.astype(np.float64) * 2 - 1  # (D, T)
    out: np.ndarray = np.empty((v.shape[0], oh, ow, o), _acc_dtype(layer))
    for sl in _chunks(v.shape[0], oh * ow * layer.fan_in * 8):
        a = _as_signed(layer, v[sl])
        cols = im2col(_pad(a, layer.pads, float(layer.pad_value)), layer.kernel, layer.stride)
        cols = cols.reshape(-1, t, c)
        shared = np.empty((cols.shape[0], distinct))
        for ch in range(c):
            lo, hi = offsets[ch], offsets[ch + 1]
            shared[:, lo:hi] = cols[:, :, ch] @ filters[lo:hi].T
        out[sl] = np.rint(shared @ gather).astype(out.dtype).reshape(-1, oh, ow, o)
    return out


# --- the hardware's arithmetic: bit-packed XNOR + popcount -----------------------------------
def xnor_popcount_acc(a_bits: np.ndarray, w_bits: np.ndarray) -> np.ndarray:
    """acc = 2 * popcount(xnor(a, w)) - K for every (row of a, row of w)."""
    n, k = a_bits.shape[0], int(np.prod(w_bits.shape[1:]))
    a = bits_to_u64(a_bits.reshape(n, k))
    w = bits_to_u64(w_bits.reshape(w_bits.shape[0], k))
    out = np.empty((n, w.shape[0]), np.int64)
    per_row = w.shape[0] * w.shape[1] * 8 * 2
    for sl in _chunks(n, per_row):
        # padding bits are 0 in both, so they never count as mismatches
        mismatches = popcount64(a[sl, None, :] ^ w[None, :, :]).sum(-1, dtype=np.int64)
        out[sl] = k - 2 * mismatches
    return out


def border_correction(layer: ir.Conv, pad_input: int = -1) -> np.ndarray:
    """(OH, OW, O) int64: what to add to the all-taps accumulator of a zero-padded conv whose
    padded taps were fed as an input of value pad_input (a binary conv: bit 0, -1; a staircase
    activation: code 0, its value). A padded tap then contributed pad_input * w instead of
    nothing, so the correction is -pad_input times the sum of the weights over the padded
    taps."""
    h, w, _ = layer.in_shape
    padded = np.ones((1, h, w, 1), np.float64)
    mask = 1.0 - _pad(padded, layer.pads, 0.0)  # 1 where a tap reads padding
    cols = im2col(mask, layer.kernel, layer.stride)[0]  # (OH, OW, kh*kw)
    wsum = (
        _weights_pm1(layer, np.float64).reshape(layer.out_channels, -1, layer.in_shape[-1]).sum(-1)
    )  # (O, kh*kw)
    return -pad_input * np.rint(cols @ wsum.T).astype(np.int64)


def conv_xnor(layer: ir.Conv, v: np.ndarray) -> np.ndarray:
    oh, ow, o = layer.out_shape
    pad_bit = 1 if layer.pad_value == 1 else 0
    bits = _pad(v.astype(np.uint8), layer.pads, pad_bit)
    cols = im2col(bits, layer.kernel, layer.stride).reshape(-1, layer.fan_in)
    acc = xnor_popcount_acc(cols, layer.weights).reshape(v.shape[0], oh, ow, o)
    if layer.pad_value == 0 and any(layer.pads):
        acc = acc + border_correction(layer)[None]
    return acc


# --- the rest --------------------------------------------------------------------------------
def maxpool(layer: ir.MaxPool, v: np.ndarray, method: str = "") -> np.ndarray:
    kh, kw = layer.kernel
    if layer.overlapping:
        win = np.lib.stride_tricks.sliding_window_view(v, (kh, kw), axis=(1, 2))
        win = win[:, :: layer.stride[0], :: layer.stride[1]]  # (N, OH, OW, C, kh, kw)
        axes: tuple[int, ...] = (-2, -1)
    else:  # windows side by side: a reshape, no window view
        n, h, w, c = v.shape
        oh, ow = h // kh, w // kw
        win = v[:, : oh * kh, : ow * kw].reshape(n, oh, kh, ow, kw, c)
        axes = (2, 4)
    high = win.max(axis=axes)
    if layer.and_channels.size and layer.and_channels.any():
        low = win.min(axis=axes)
        return np.where(layer.and_channels, low, high)
    return np.ascontiguousarray(high)


def threshold(layer: ir.Threshold, v: np.ndarray, method: str = "") -> np.ndarray:
    return (v >= layer.thresholds).astype(np.uint8)


def multithreshold(layer: ir.MultiThreshold, v: np.ndarray, method: str = "") -> np.ndarray:
    lo = layer.code_range[0]
    counts = np.zeros(v.shape, np.int64)
    for i in range(layer.thresholds.shape[1]):
        counts += v >= layer.thresholds[:, i]
    return counts + lo


def quantise(layer: ir.Quantise, v: np.ndarray, method: str = "") -> np.ndarray:
    return quantise_codes(
        v.astype(np.float32),
        layer.scale,
        layer.zero_point,
        ir.quant_range(layer.bits, layer.signed, layer.narrow),
        layer.rounding,
    )


def staircase(layer: ir.Staircase, v: np.ndarray, method: str = "") -> np.ndarray:
    return layer.codes(v.astype(np.float32))


def channel_thresholds(layer: ir.ChannelThresholds, v: np.ndarray, method: str = "") -> np.ndarray:
    return layer.codes(v.astype(np.float32))


def affine(layer: ir.Affine, v: np.ndarray, method: str = "") -> np.ndarray:
    return apply_ops(v.astype(np.float32), layer.ops)


def sign(layer: ir.Sign, v: np.ndarray, method: str = "") -> np.ndarray:
    return (v >= 0).astype(np.uint8)


def flatten(layer: ir.Flatten, v: np.ndarray, method: str = "") -> np.ndarray:
    return v.reshape(v.shape[0], -1)


def scores(layer: ir.Scores, v: np.ndarray, method: str = "") -> np.ndarray:
    return apply_ops(v.astype(np.float32), layer.ops)


_RUNNERS: dict[type, Callable[..., np.ndarray]] = {
    ir.InputQuant: input_quant,
    ir.Dense: dense,
    ir.Conv: conv,
    ir.MaxPool: maxpool,
    ir.Threshold: threshold,
    ir.MultiThreshold: multithreshold,
    ir.Quantise: quantise,
    ir.Staircase: staircase,
    ir.ChannelThresholds: channel_thresholds,
    ir.Affine: affine,
    ir.Sign: sign,
    ir.Flatten: flatten,
    ir.Scores: scores,
}
