"""The zero-padding correction of a conv, compressed into row and column classes.

A binary conv's sliding window feeds padded taps as bit 0 (-1), a conv on a staircase
activation's codes as code 0 (its lowest value); the MVTU (and the result-sharing unit) then
add, per output pixel and channel, minus that value times the sum of the weights over the
padded taps (golden.border_correction). Output rows (columns) whose windows cover the same
padded taps form one class, so the table is (row classes, column classes, O) instead of
(OH, OW, O)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import golden, ir
from .layer_cache import LayerCache


@dataclass
class BorderTables:
    row_class: np.ndarray  # (OH,) uint8
    col_class: np.ndarray  # (OW,) uint8
    correction: np.ndarray  # (row classes, col classes, O) int64

    @property
    def classes(self) -> int:
        """Row classes x column classes."""
        return int(np.prod(self.correction.shape[:2]))


def _classes(n_out: int, stride: int, pad: int, k: int, size: int) -> np.ndarray:
    keys = [tuple(0 <= o * stride - pad + i < size for i in range(k)) for o in range(n_out)]
    unique = {key: idx for idx, key in enumerate(dict.fromkeys(keys))}
    return np.array([unique[key] for key in keys], np.uint8)


def pad_input(layer: ir.Conv) -> int:
    """The value of what the window feeds for a padded tap (an all-zero element): -1 for bits,
    0 for integer codes, the value of code 0 for a staircase activation's codes."""
    if layer.input_kind == "bit":
        return -1
    if not layer.mapped_input:
        return 0
    lo, n = layer.input_code_lo, layer.input_levels.size
    assert lo <= 0 < lo + n, "a staircase's codes include 0"
    return int(layer.input_values(np.zeros(1, np.int64))[0])


def _border_tables(layer: ir.Conv) -> BorderTables | None:
    value = pad_input(layer)
    if value == 0 or layer.pad_value != 0 or not any(layer.pads):
        return None
    full = golden.border_correction(layer, value)  # (OH, OW, O)
    oh, ow, _ = layer.out_shape
    h, w, _ = layer.in_shape
    kh, kw = layer.kernel
    t, left, _, _ = layer.pads
    rows = _classes(oh, layer.stride[0], t, kh, h)
    cols = _classes(ow, layer.stride[1], left, kw, w)
    table = np.zeros((rows.max() + 1, cols.max() + 1, layer.out_channels), np.int64)
    for oy in range(oh):
        for ox in range(ow):
            table[rows[oy], cols[ox]] = full[oy, ox]
    # the table must reproduce the full correction exactly
    assert np.array_equal(table[rows][:, cols], full)
    return BorderTables(rows, cols, table)


_CACHE: LayerCache[BorderTables | None] = LayerCache(_border_tables)


def border_tables(layer: ir.Linear) -> BorderTables | None:
    """None when no correction is needed (a dense layer, no zero padding, integer inputs)."""
    if not isinstance(layer, ir.Conv):
        return None
    return _CACHE(layer)
