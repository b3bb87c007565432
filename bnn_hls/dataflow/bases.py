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
border.py corrects them with pad_input_value)."""

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

    @property
    def weight_bases(self) -> int:
        """M: the weights' bases (without the constant)."""
        return len(self.weight_coeffs) - 1

    @property
    def input_bases(self) -> int:
        """N: the inputs' bases (without the constant)."""
        return len(self.input_coeffs) - 1

    def pair_coeffs(self) -> np.ndarray:
        """(M + 1, N + 1) int64: C[m][n] = (weight coefficient m) * (input coefficient n)."""
        return np.outer(
            np.array(self.weight_coeffs, np.int64), np.array(self.input_coeffs, np.int64)
        )

    def weight_bits(self, w: np.ndarray) -> np.ndarray:
        """(..., M) uint8: the base bits of integer weights w (bit m - 1 is base m)."""
        w = np.asarray(w, np.int64)
        if self.weight_steps:
            steps = np.array(self.weight_steps, np.int64)
            return (w[..., None] >= steps).astype(np.uint8)
        return bit_planes(w, self.weight_plane_bits)

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
        back = self.weight_coeffs[0] + (bits * np.array(self.weight_coeffs[1:])).sum(-1)
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


def decompose(layer: ir.Linear, in_bits: int) -> Bases:
    """The layer's weights and inputs (elements of in_bits bits) as binary bases."""
    weight_coeffs, steps, plane_bits = _weight_decomposition(layer)
    form, input_coeffs, lo = _input_decomposition(layer, in_bits)
    return Bases(weight_coeffs, steps, plane_bits, form, input_coeffs, lo)
