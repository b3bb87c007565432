"""The MVTU over binary bases (docs/pa.md): a layer's integer weights and inputs written as
sums of binary bases, so that its dot product is a few popcounts per base pair.

    w = cw + sum_m dw_m * bw_m        x = cx + sum_n dx_n * bx_n        (bw, bx in {0, 1})

With base 0 the constant 1 on both sides (coefficients cw and cx), the dot product over SIMD
inputs is sum_{m, n} C[m][n] * popcount(bw_m AND bx_n), C[m][n] = dw_m * dx_n (C[0][0] =
cw * cx counts every input). Weights are decomposed by their steps (bw_m = w >= l_m over the
sorted distinct levels l_0 < ... < l_M: dw_m = l_m - l_(m-1), cw = l_0: M bases for M + 1
levels, the piecewise approximation's form) or by their two's-complement bit-planes
(dw = 1, 2, 4, ..., -2**(B-1), cw = 0), whichever needs fewer bases. Inputs: bits (x = -1 +
2 b), the bit-planes of integer codes, or the steps of a staircase activation's codes
(bx_n = code >= lo + n, dx_n = v_n - v_(n-1), cx = v_0). Every decomposition is exact for
every code, so the sum equals the golden model's integer dot product (padded taps aside:
border.py corrects them with pad_input_value).

Sign-magnitude weights (`weight_sign`, chosen where it needs fewer per-PE popcounts: ternary
weights need one magnitude base instead of two): w = (1 - 2 s) |w|, |w| = cw + sum_m dw_m
bw_m, and since (1 - 2 s) b = (b XOR s) - s for a bit b, the dot product is

    sum_{m, n>=1} C[m][n] * popcount(bw_m AND (bx_n XOR s))  +  offset

per output channel, offset = cx * sum(w) - (sum_n dx_n) * sum over negative w of |w|. The
offset depends on the weights only: the stage takes it off the thresholds
(`channel_offsets`), so the kernel computes no constant-input pairs at all. Layers that output
scores keep the other forms (their sum is the output)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import ir
from ..packing import bit_planes

# the input bases' forms (the kernels' XFORM parameter)
X_BITS = 0  # base n is bit n of the input element
X_STEPS = 1  # base n (n = 1..N) is code >= XLO + n


@dataclass(frozen=True)
class Bases:
    weight_coeffs: tuple[int, ...]  # (cw, dw_1, ..., dw_M)
    weight_steps: tuple[int, ...]  # steps form: (l_1, ..., l_M); empty: bit-planes
    weight_plane_bits: int  # bit-planes form: the planes' count (two's complement)
    input_form: int  # X_BITS or X_STEPS
    input_coeffs: tuple[int, ...]  # (cx, dx_1, ..., dx_N)
    input_lo: int  # steps form: the lowest code
    # sign-magnitude weights: the weight_* fields describe |w|, the sign is one more bit
    weight_sign: bool = False

    @property
    def weight_bases(self) -> int:
        """M: the weights' bases (without the constant)."""
        return len(self.weight_coeffs) - 1

    @property
    def input_bases(self) -> int:
        """N: the inputs' bases (without the constant)."""
        return len(self.input_coeffs) - 1

    @property
    def stored_bits(self) -> int:
        """Bits of a stored weight element: its M base bits, then the sign if signed."""
        return self.weight_bases + int(self.weight_sign)

    def pair_coeffs(self) -> np.ndarray:
        """(M + 1, N + 1) int64: C[m][n] = (weight coefficient m) * (input coefficient n);
        sign-magnitude: column 0 (the constant input base) is in the offset instead."""
        c = np.outer(np.array(self.weight_coeffs, np.int64), np.array(self.input_coeffs, np.int64))
        if self.weight_sign:
            c[:, 0] = 0
        return c

    def per_pe_pairs(self) -> int:
        """Base pairs with a popcount of each PE's own (the others count inputs only, once)."""
        c = self.pair_coeffs()
        return int(np.count_nonzero(c if self.weight_sign else c[1:]))

    def weight_bits(self, w: np.ndarray) -> np.ndarray:
        """(..., stored_bits) uint8: the base bits of integer weights w (bit m - 1 is base m;
        sign-magnitude: of |w|, and the last bit is w < 0)."""
        w = np.asarray(w, np.int64)
        mag = np.abs(w) if self.weight_sign else w
        if self.weight_steps:
            bits = (mag[..., None] >= np.array(self.weight_steps, np.int64)).astype(np.uint8)
        else:
            bits = bit_planes(mag, self.weight_plane_bits)
        if self.weight_sign:
            bits = np.concatenate([bits, (w < 0).astype(np.uint8)[..., None]], axis=-1)
        return bits

    def channel_offsets(self, layer: ir.Linear) -> np.ndarray:
        """(O,) int64: the layer's dot product less the kernel's sum, per output channel (0
        unless sign-magnitude)."""
        if not self.weight_sign:
            return np.zeros(layer.out_channels, np.int64)
        w = layer.int_weights().reshape(layer.out_channels, -1)
        cx, *dx = self.input_coeffs
        negative = np.where(w < 0, -w, 0).sum(1)
        return cx * w.sum(1) - sum(dx) * negative

    def input_value(self, code: int) -> int:
        """The value the kernel gives input element `code` (a padded tap's, for border.py)."""
        cx, *dx = self.input_coeffs
        if self.input_form == X_STEPS:
            return cx + sum(d for n, d in enumerate(dx) if code >= self.input_lo + n + 1)
        return cx + sum(d for n, d in enumerate(dx) if (code >> n) & 1)

    def check(self, layer: ir.Linear, codes: np.ndarray) -> None:
        """The decompositions reproduce every weight and the value of every input code."""
        w = layer.int_weights()
        bits = self.weight_bits(w)
        m = self.weight_bases
        back = self.weight_coeffs[0] + (bits[..., :m] * np.array(self.weight_coeffs[1:])).sum(-1)
        if self.weight_sign:
            back = back * (1 - 2 * bits[..., m].astype(np.int64))
        assert np.array_equal(back, w), "weight bases do not reproduce the weights"
        values = layer.input_values(codes) if layer.input_kind == "int" else codes * 2 - 1
        got = np.array([self.input_value(int(c)) for c in codes])
        assert np.array_equal(got, values), "input bases do not reproduce the inputs"


def _planes(bits: int) -> tuple[int, ...]:
    """Coefficients of a two's-complement number's bit-planes, LSB first."""
    return tuple([1 << j for j in range(bits - 1)] + [-(1 << (bits - 1))])


def _weight_decomposition(layer: ir.Linear) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    if layer.binary_weights:  # +-1: one step at 1
        return (-1, 2), (1,), 0
    levels = layer.weight_level_set()
    plane_bits = layer.weight_bits()
    if levels.size - 1 < plane_bits:  # steps: fewer bases
        steps = tuple(int(v) for v in levels[1:])
        return (int(levels[0]), *(int(d) for d in np.diff(levels))), steps, 0
    return (0, *_planes(plane_bits)), (), plane_bits


def _input_decomposition(layer: ir.Linear, in_bits: int) -> tuple[int, tuple[int, ...], int]:
    if layer.input_kind == "bit":
        return X_BITS, (-1, 2), 0
    if layer.mapped_input:
        v = layer.input_levels.astype(np.int64)
        return X_STEPS, (int(v[0]), *(int(d) for d in np.diff(v))), layer.input_code_lo
    return X_BITS, (0, *_planes(in_bits)), 0


def _magnitude_decomposition(layer: ir.Linear) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    """|w| by its steps or its (unsigned) bit-planes, whichever needs fewer bases."""
    mags = np.unique(np.abs(layer.weight_level_set()))
    plane_bits = int(mags[-1]).bit_length()
    if mags.size - 1 <= plane_bits:
        steps = tuple(int(v) for v in mags[1:])
        return (int(mags[0]), *(int(d) for d in np.diff(mags))), steps, 0
    return (0, *[1 << j for j in range(plane_bits)]), (), plane_bits


def decompose(layer: ir.Linear, in_bits: int, offsets: bool = False) -> Bases:
    """The layer's weights and inputs (elements of in_bits bits) as binary bases; with
    `offsets` (the stage can take a per-channel constant off its thresholds), sign-magnitude
    weights where they need fewer per-PE popcounts."""
    weight_coeffs, steps, plane_bits = _weight_decomposition(layer)
    form, input_coeffs, lo = _input_decomposition(layer, in_bits)
    plain = Bases(weight_coeffs, steps, plane_bits, form, input_coeffs, lo)
    if not offsets or layer.binary_weights:
        return plain
    mag_coeffs, mag_steps, mag_planes = _magnitude_decomposition(layer)
    if len(mag_coeffs) < 2:  # one magnitude (+-a): the plain form's one base is as cheap
        return plain
    signed = Bases(mag_coeffs, mag_steps, mag_planes, form, input_coeffs, lo, weight_sign=True)
    return signed if signed.per_pe_pairs() < plain.per_pe_pairs() else plain
