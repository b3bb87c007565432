"""BatchShift: fuse the float ops between a binary layer's accumulator and its sign (weight and
input scales, bias, BatchNorm) into one integer threshold per output channel; before a
multi-level quantiser (ir.Quantise), into one sorted set of thresholds per channel
(ir.MultiThreshold: the code counts the thresholds reached; fuse_levels).

For a layer followed by float ops f (and optionally a MaxPool) and a sign, output channel c is
sign(f(acc)). f is evaluated in float32, exactly as the un-fused IR (and the ONNX reference)
evaluate it, on every accumulator value the layer can produce. The result must be a single step:
  - non-decreasing: bit = acc >= t
  - non-increasing: bit = acc <= t'. The output channel's weights are negated (all its bits
    flipped), so acc becomes -acc and the bit is -acc >= -t'. The inversion is absorbed by the
    producing layer itself, so no invert bit and no change to the next layer are needed.
  - constant (gamma = 0, or a threshold beyond the reachable range): t at the range's minimum
    (always 1) or above its maximum (always 0).
A MaxPool between the accumulator and the float ops commutes with the threshold: a max before
a non-decreasing map is an OR of the output bits; before a non-increasing map it is a min,
which after the threshold is an AND (MaxPool.and_channels).
Each threshold is then proved: the integer comparison is checked against the float evaluation
on every grid value, and any difference stops the compiler.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from .. import ir
from ..errors import ModelError
from ..floatops import FloatOp, apply_ops
from .base import Pass, PassOptions, PassResult

log = logging.getLogger(__name__)

GRID_CHUNK_BYTES = 32 << 20


def _binary_parity_grid(layer: ir.Linear) -> bool:
    """A binary unpadded layer's accumulators are K, K - 2, ..., -K: every other integer."""
    unpadded = not (isinstance(layer, ir.Conv) and any(layer.pads))
    return layer.input_kind == "bit" and layer.binary_weights and unpadded


def grid_size(layer: ir.Linear) -> int:
    """How many values accumulator_grid holds (without making it)."""
    if _binary_parity_grid(layer):
        return layer.fan_in + 1
    lo, hi = layer.out_range()
    return hi - lo + 1


def accumulator_grid(layer: ir.Linear) -> np.ndarray:
    """Every accumulator value the layer can produce (a superset is fine)."""
    if _binary_parity_grid(layer):
        return np.arange(-layer.fan_in, layer.fan_in + 1, 2, dtype=np.int64)
    lo, hi = layer.out_range()
    return np.arange(lo, hi + 1, dtype=np.int64)


def _eval_ops(ops: list[FloatOp], x: np.ndarray, channels: np.ndarray) -> np.ndarray:
    return apply_ops(x, [op.select_channels(channels) for op in ops])


def _evaluate(
    layer: ir.Linear,
    f1: list[FloatOp],
    f2: list[FloatOp],
    grid: np.ndarray,
    ch: np.ndarray,
    before: str,
) -> tuple[np.ndarray, np.ndarray]:
    """The float ops on every grid value for channels ch: (f2(f1(acc)) as (grid, channels),
    whether f1 decreases per channel). A NaN or infinity stops the compiler naming the channel."""
    x = np.broadcast_to(grid.astype(np.float32)[:, None], (grid.size, ch.size))
    y1 = _eval_ops(f1, x, ch)
    y = _eval_ops(f2, y1, ch)
    if not np.all(np.isfinite(y)):
        bad = int(ch[np.nonzero(~np.all(np.isfinite(y), axis=0))[0][0]])
        raise ModelError(
            f"layer {layer.name}: channel {bad} evaluates to NaN/inf before its "
            f"{before} (e.g. a negative BatchNorm variance or a zero divisor)"
        )
    d = np.diff(y1, axis=0)
    return y, np.all(d <= 0, axis=0) & np.any(d < 0, axis=0)


def fuse_channels(
    layer: ir.Linear, f1: list[FloatOp], f2: list[FloatOp]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per channel: (threshold on the possibly negated accumulator, negate?, f1 decreasing?,
    constant?). On a grid too large to evaluate, the bisection of fuse_levels with the sign
    as a two-level code."""
    if grid_size(layer) > MAX_EXHAUSTIVE_GRID:
        t2, negate, f1_dec, constant = _fuse_levels_bisect(layer, f1, f2, None)
        return t2[:, 0], negate, f1_dec, constant
    grid = accumulator_grid(layer)
    n_ch = layer.out_channels
    t = np.zeros(n_ch, np.int64)
    negate = np.zeros(n_ch, bool)
    f1_dec = np.zeros(n_ch, bool)
    constant = np.zeros(n_ch, bool)
    lo, hi = int(grid[0]), int(grid[-1])
    step = max(1, GRID_CHUNK_BYTES // (4 * grid.size))
    for start in range(0, n_ch, step):
        ch = np.arange(start, min(n_ch, start + step))
        y, f1_dec[ch] = _evaluate(layer, f1, f2, grid, ch, "sign")
        bits = y >= 0
        changes = (np.diff(bits.astype(np.int8), axis=0) != 0).sum(axis=0)
        if np.any(changes > 1):
            bad = int(ch[np.nonzero(changes > 1)[0][0]])
            raise ModelError(
                f"layer {layer.name}: channel {bad} switches sign more than once "
                "over the accumulator range; it cannot become one threshold"
            )
        first, last = bits[0], bits[-1]
        rising = ~first & last
        falling = first & ~last
        const = first == last
        idx_first_true = np.argmax(bits, axis=0)
        idx_last_true = grid.size - 1 - np.argmax(bits[::-1], axis=0)
        t_ch = np.where(rising, grid[idx_first_true], 0)
        t_ch = np.where(falling, -grid[idx_last_true], t_ch)
        # constants: always 1 -> threshold at the minimum; always 0 -> above the maximum
        t_ch = np.where(const & first, -max(abs(lo), abs(hi)) - 1, t_ch)
        t_ch = np.where(const & ~first, max(abs(lo), abs(hi)) + 1, t_ch)
        t[ch], negate[ch], constant[ch] = t_ch, falling, const
        # the proof: the integer comparison equals the float evaluation on every grid value
        signed = np.where(falling, -1, 1)[None, :] * grid[:, None]
        if not np.array_equal(signed >= t_ch[None, :], bits):
            raise AssertionError(f"BatchShift proof failed for layer {layer.name}")
    return t, negate, f1_dec, constant


# above this many accumulator values, fuse_levels finds thresholds by bisection instead of
# evaluating every value (fixed-point layers of a piecewise approximation reach millions)
MAX_EXHAUSTIVE_GRID = 1 << 20
SAMPLED_PROOF_POINTS = 4096


def _codes_function(
    act: ir.Quantise | ir.Staircase | ir.ChannelThresholds | None,
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The activation's code of float32 pre-activations y (rows of the channels `ch`; None:
    the sign, 0 or 1)."""
    from ..golden import quantise  # the golden model's quantiser: one definition

    if act is None:
        return lambda y, ch: (y >= 0).astype(np.int64)
    if isinstance(act, ir.Quantise):
        return lambda y, ch: quantise(act, y)
    if isinstance(act, ir.ChannelThresholds):
        return act.codes
    staircase = act
    return lambda y, ch: staircase.codes(y)


def fuse_levels(
    layer: ir.Linear,
    f1: list[FloatOp],
    f2: list[FloatOp],
    act: ir.Quantise | ir.Staircase | ir.ChannelThresholds,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The multi-level case: per channel, the thresholds (C, levels - 1) of the code on the
    possibly negated accumulator, negate?, f1 decreasing?, constant?. The code of the float
    chain must be monotone in the accumulator; a non-increasing channel is negated (its
    weights), which makes it non-decreasing. Proved on every grid value like the binary case;
    on a grid of more than MAX_EXHAUSTIVE_GRID values, found by bisection and checked on
    SAMPLED_PROOF_POINTS values per channel and on both sides of every threshold."""
    if grid_size(layer) > MAX_EXHAUSTIVE_GRID:
        return _fuse_levels_bisect(layer, f1, f2, act)
    grid = accumulator_grid(layer)
    codes_of = _codes_function(act)
    n_ch = layer.out_channels
    code_lo, code_hi = act.out_range()
    levels = code_hi - code_lo
    t = np.zeros((n_ch, levels), np.int64)
    negate = np.zeros(n_ch, bool)
    f1_dec = np.zeros(n_ch, bool)
    constant = np.zeros(n_ch, bool)
    step = max(1, GRID_CHUNK_BYTES // (8 * grid.size))
    for start in range(0, n_ch, step):
        ch = np.arange(start, min(n_ch, start + step))
        y, f1_dec[ch] = _evaluate(layer, f1, f2, grid, ch, "quantiser")
        codes = codes_of(y, ch)  # (grid, channels)
        d = np.diff(codes, axis=0)
        rising, falling = np.all(d >= 0, axis=0), np.all(d <= 0, axis=0)
        if not np.all(rising | falling):
            bad = int(ch[np.nonzero(~(rising | falling))[0][0]])
            raise ModelError(
                f"layer {layer.name}: channel {bad}'s quantised activation is not monotone in "
                "the accumulator; it cannot become thresholds"
            )
        neg = falling & ~rising
        const = rising & falling
        # on the negated accumulator a falling channel rises: reverse its grid
        acc = np.where(neg[None, :], -grid[::-1, None], grid[:, None])
        c = np.where(neg[None, :], codes[::-1], codes)
        for k in range(levels):
            reached = c >= code_lo + k + 1
            first = np.argmax(reached, axis=0)
            t[ch, k] = np.where(reached.any(axis=0), acc[first, np.arange(ch.size)], acc[-1] + 1)
        # the proof: the integer count equals the float evaluation on every grid value
        counted = code_lo + (acc[:, :, None] >= t[ch][None, :, :]).sum(axis=2)
        if not np.array_equal(counted, c):
            raise AssertionError(f"BatchShift proof failed for layer {layer.name}")
        negate[ch], constant[ch] = neg, const
    return t, negate, f1_dec, constant


def _fuse_levels_bisect(
    layer: ir.Linear,
    f1: list[FloatOp],
    f2: list[FloatOp],
    act: ir.Quantise | ir.Staircase | ir.ChannelThresholds | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """fuse_levels on a large grid (act None: a sign, codes 0 and 1): the float chain is
    evaluated at O(levels x log(range)) values per channel. Its float32 ops are per-channel
    affine maps, which IEEE rounding keeps monotone; the sampled check below still compares
    the count with the float evaluation."""
    codes_of = _codes_function(act)
    n_ch = layer.out_channels
    ch = np.arange(n_ch)
    code_lo, code_hi = (0, 1) if act is None else act.out_range()
    levels = code_hi - code_lo
    lo, hi = layer.out_range()

    def evaluate(acc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(pre-activations, codes) at acc (rows of one value per channel)."""
        x = acc.astype(np.float32)
        y = _eval_ops(f2, _eval_ops(f1, x, ch), ch)
        if not np.all(np.isfinite(y)):
            bad = int(np.nonzero(~np.all(np.isfinite(y), axis=0))[0][0])
            raise ModelError(
                f"layer {layer.name}: channel {bad} evaluates to NaN/inf before its quantiser"
            )
        return y, codes_of(y, ch)

    ends = np.array([[lo] * n_ch, [hi] * n_ch], np.int64)
    _, c_ends = evaluate(ends)
    y1_ends = _eval_ops(f1, ends.astype(np.float32), ch)
    f1_dec = y1_ends[1] < y1_ends[0]
    neg = c_ends[1] < c_ends[0]
    constant = c_ends[1] == c_ends[0]
    sgn = np.where(neg, -1, 1)
    # on the possibly negated accumulator a' = sgn * acc, every channel is non-decreasing
    a_lo = np.where(neg, -hi, lo).astype(np.int64)
    t = np.zeros((n_ch, levels), np.int64)
    for k in range(levels):
        # the smallest a' in [a_lo, a_lo + (hi - lo) + 1] whose code reaches code_lo + k + 1
        left = a_lo.copy()
        right = a_lo + (hi - lo) + 1  # "never reached"
        while np.any(left < right):
            mid = (left + right) // 2
            _, c = evaluate((sgn * mid)[None, :])
            reached = c[0] >= code_lo + k + 1
            active = left < right
            right = np.where(active & reached, mid, right)
            left = np.where(active & ~reached, mid + 1, left)
        t[:, k] = left
    # the check: counts equal the float evaluation at both sides of every threshold and on
    # evenly spaced values of the whole range
    span = np.linspace(0, hi - lo, SAMPLED_PROOF_POINTS).astype(np.int64)
    points = np.concatenate([a_lo[None, :] + span[:, None], t.T, t.T - 1], axis=0)
    points = np.clip(points, a_lo[None, :], (a_lo + hi - lo)[None, :])
    _, c = evaluate(sgn[None, :] * points)
    counted = code_lo + (points[:, :, None] >= t[None, :, :]).sum(axis=2)
    if not np.array_equal(counted, c):
        bad = int(np.nonzero(np.any(counted != c, axis=0))[0][0])
        raise ModelError(
            f"layer {layer.name}: channel {bad}'s quantised activation is not monotone in "
            "the accumulator; it cannot become thresholds"
        )
    return t, neg, f1_dec, constant


def batchshift(model: ir.Model) -> ir.Model:
    """Fuse Linear -> (Affine | MaxPool)* -> Sign runs into Linear -> Threshold (-> MaxPool)."""
    layers = model.layers
    out: list[ir.Layer] = []
    report: list[dict[str, Any]] = []
    i = 0
    while i < len(layers):
        layer = layers[i]
        if not isinstance(layer, ir.Linear):
            out.append(layer)
            i += 1
            continue
        j = i + 1
        run: list[ir.Layer] = []
        while j < len(layers) and isinstance(layers[j], (ir.Affine, ir.MaxPool)):
            run.append(layers[j])
            j += 1
        if j >= len(layers) or not isinstance(
            layers[j], (ir.Sign, ir.Quantise, ir.Staircase, ir.ChannelThresholds)
        ):
            if run:
                raise ModelError(
                    f"layer {layer.name}: float ops after it do not end in a binary activation"
                )
            out.append(layer)
            i += 1
            continue
        pools = [r for r in run if isinstance(r, ir.MaxPool)]
        if len(pools) > 1:
            raise ModelError(f"layer {layer.name}: more than one MaxPool before its activation")
        pool = pools[0] if pools else None
        cut = run.index(pool) if pool else len(run)
        f1 = [op for r in run[:cut] if isinstance(r, ir.Affine) for op in r.ops]
        f2 = [op for r in run[cut:] if isinstance(r, ir.Affine) for op in r.ops]
        quant = layers[j]
        if isinstance(quant, (ir.Quantise, ir.Staircase, ir.ChannelThresholds)):
            t, negate, f1_dec, constant = fuse_levels(layer, f1, f2, quant)
        else:
            t, negate, f1_dec, constant = fuse_channels(layer, f1, f2)
        weights = layer.weights.copy()
        weights[negate] ^= 1
        levels = layer.weight_levels.copy()
        if levels.size:
            levels[negate] *= -1
            weights = (levels >= 0).astype(np.uint8)
        fused = replace(layer, weights=weights, weight_levels=levels)
        lo, hi = fused.out_range()
        t = np.clip(t, lo, hi + 1)
        entry_index = len(out)
        out.append(fused)
        th: ir.ThresholdLayer
        if isinstance(quant, (ir.Quantise, ir.Staircase, ir.ChannelThresholds)):
            th = ir.MultiThreshold(
                f"{layer.name}_th",
                layer.out_shape,
                layer.out_shape,
                layer.source,
                thresholds=t,
                acc_range=(lo, hi),
                code_range=quant.out_range(),
            )
        else:
            th = ir.Threshold(
                f"{layer.name}_th",
                layer.out_shape,
                layer.out_shape,
                layer.source,
                thresholds=t,
                acc_range=(lo, hi),
            )
        out.append(th)
        if pool is not None:
            # a max before a decreasing map is a min after it (an AND of bits)
            and_ch = (f1_dec ^ negate) & ~constant
            out.append(replace(pool, value_type=th.value_out_type(), and_channels=and_ch))
        elements = int(np.prod(layer.out_shape))
        flops = sum(op.flops_per_element() for op in f1 + f2) + 1  # + the sign's comparison
        entry: dict[str, Any] = {
            "layer": entry_index,
            "float_ops_removed_per_image": flops * elements,
            "float_params_replaced": sum(op.param_count() for op in f1 + f2),
            "float_param_bytes_replaced": 4 * sum(op.param_count() for op in f1 + f2),
            "threshold_bits": th.threshold_bits(),
            "threshold_bytes": (th.threshold_bits() * int(th.thresholds.size) + 7) // 8,
            "levels": int(t.shape[1]) + 1 if t.ndim == 2 else 2,
            "negated_channels": int(negate.sum()),
            "constant_channels": int(constant.sum()),
            "and_pool_channels": int(((f1_dec ^ negate) & ~constant).sum()) if pool else 0,
            "grid_values_checked": checked_values(layer),
        }
        binary = isinstance(th, ir.Threshold)
        if (
            binary
            and layer.input_kind == "bit"
            and layer.binary_weights
            and not (isinstance(layer, ir.Conv) and any(layer.pads))
        ):
            k = layer.fan_in
            pc = np.clip(-(-(t + k) // 2), 0, k + 1)  # popcount >= ceil((t + K) / 2)
            entry["popcount_threshold_range"] = [int(pc.min()), int(pc.max())]
        report.append(entry)
        log.info(
            "BatchShift %s: %d channels, %d negated, %d constant",
            layer.name,
            layer.out_channels,
            entry["negated_channels"],
            entry["constant_channels"],
        )
        i = j + 1
    out = renumber(out)
    for entry in report:
        entry["layer"] = out[entry["layer"]].name
    result = ir.Model(out, model.source_file, [*model.passes, "batchshift"], dict(model.notes))
    result.notes["batchshift"] = report
    return result


def checked_values(layer: ir.Linear) -> int:
    """Accumulator values on which the thresholds were compared with the float evaluation."""
    size = grid_size(layer)
    if size > MAX_EXHAUSTIVE_GRID:  # the bisection's sampled check
        size = SAMPLED_PROOF_POINTS + 2 * (size.bit_length() + 1)
    return size * layer.out_channels


def renumber(layers: list[ir.Layer]) -> list[ir.Layer]:
    """Give layers compiler-made names l<index>_<kind>."""
    return [replace(layer, name=f"l{i}_{layer.kind}") for i, layer in enumerate(layers)]


class BatchShift(Pass):
    """Float scale/BatchNorm/sign runs -> integer thresholds (the report is also kept in the
    IR's notes, where the inspect report reads it)."""

    name = "batchshift"

    def run(self, model: ir.Model, options: PassOptions) -> PassResult:
        fused = batchshift(model)
        return PassResult(fused, {"layers": fused.notes["batchshift"]})
