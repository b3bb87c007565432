"""Fixed point for the real values of a piecewise approximation (docs/pa.md): a layer's
weight levels and an activation's level values become integers times one power-free step per
tensor, step = max |value| / (2**(bits - 1) - 1). The hardware then computes exact integer dot
products of these integers; the only error against the source is this rounding, which the
report states (coefficient bits, largest relative error of a value) and `verify` measures on
scores."""

from __future__ import annotations

import numpy as np

DEFAULT_COEFF_BITS = 13
MIN_COEFF_BITS, MAX_COEFF_BITS = 3, 16
# a weight tensor with more distinct values than this is full precision, not a staircase
MAX_STAIRCASE_LEVELS = 17


def to_fixed_point(values: np.ndarray, bits: int) -> tuple[np.ndarray, float]:
    """(integers in [-(2**(bits-1) - 1), 2**(bits-1) - 1], step) with values ~ step * ints."""
    peak = float(np.max(np.abs(values))) if values.size else 0.0
    if peak == 0.0:
        return np.zeros(values.shape, np.int64), 1.0
    step = peak / ((1 << (bits - 1)) - 1)
    return np.rint(np.asarray(values, np.float64) / step).astype(np.int64), step


def rounding_report(
    values: np.ndarray, ints: np.ndarray, step: float, bits: int
) -> dict[str, float | int | list[float]]:
    """What the layer's report says of a rounding: the distinct real levels, their integers,
    the step and the largest error relative to the largest magnitude."""
    err = np.abs(ints * step - np.asarray(values, np.float64))
    peak = float(np.max(np.abs(values))) if values.size else 0.0
    return {
        "coeff_bits": bits,
        "real_levels": [float(x) for x in np.unique(values)],
        "integer_levels": [int(x) for x in np.unique(ints)],
        "step": step,
        "max_relative_error": float(err.max() / peak) if peak else 0.0,
    }
