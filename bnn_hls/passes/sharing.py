"""Result sharing of 2-D filters (after "A Convolutional Result Sharing Approach for Binarized
Neural Network Inference", DATE 2020).

A conv's kh x kw x C filter is C two-dimensional kh x kw filters, one per input channel. On one
input channel many output channels use the same 2-D filter (repeated) or its bitwise complement
(inverse: in the +-1 domain the result is negated), so each distinct 2-D result can be computed
once per window and shared. Exact sharing groups repeated and inverse filters and is lossless;
`similar:D` also merges filters within Hamming distance D of a representative (lossy: the
layer's weights change, and the report says which filters changed by how many bits).

The plan is stored in the IR (ir.Conv.share_*); the golden model executes the shared form. A
dense layer is the degenerate 1 x 1 case (every 1-bit "filter" equals the first or its inverse):
it is counted in the report but never shared, since it saves nothing in hardware.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import ir
from .base import Pass, PassOptions, PassResult, SharingMode

log = logging.getLogger(__name__)


def filters_2d(layer: ir.Conv) -> np.ndarray:
    """(O, C, kh*kw) bits: the 2-D filter of every (output, input) channel pair."""
    o, kh, kw, c = layer.weights.shape
    return np.ascontiguousarray(layer.weights.transpose(0, 3, 1, 2).reshape(o, c, kh * kw))


@dataclass
class ChannelPlan:
    filters: np.ndarray  # (D, T) distinct filters
    index: np.ndarray  # (O,)
    invert: np.ndarray  # (O,) uint8
    changed_bits: np.ndarray  # (O,) bits by which each output's filter changed (similar)


def _canonical(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(canonical filters, inverted?): of a filter and its complement, the one whose first
    bit is 0."""
    inv = f[:, 0] == 1
    return np.where(inv[:, None], 1 - f, f), inv.astype(np.uint8)


def plan_channel(f: np.ndarray, distance: int = 0) -> ChannelPlan:
    """Distinct filters of one input channel's (O, T) 2-D filters, up to inversion; with
    distance > 0 greedily merge filters within that Hamming distance (up to inversion) of a
    representative chosen among them to change the fewest bits."""
    canon, inv = _canonical(f)
    uniq, inverse, counts = np.unique(canon, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    t = f.shape[1]
    if distance <= 0 or len(uniq) == 1:
        return ChannelPlan(uniq.astype(np.uint8), inverse, inv, np.zeros(len(f), np.int64))
    # distance between canonical patterns, up to inversion
    h = (uniq[:, None, :] != uniq[None, :, :]).sum(-1)
    h = np.minimum(h, t - h)
    remaining = np.ones(len(uniq), bool)
    rep_of = np.full(len(uniq), -1)
    reps: list[int] = []
    while remaining.any():
        cover = (h <= distance) & remaining[None, :]
        covered = (cover * counts[None, :]).sum(1)
        covered[~remaining] = -1
        error = (np.where(cover, h, 0) * counts[None, :]).sum(1)
        # most filters covered, then the fewest changed bits
        best = max(np.flatnonzero(remaining), key=lambda i: (covered[i], -error[i], -i))
        group = np.flatnonzero(cover[best])
        # the representative within the group that changes the fewest bits and still covers it
        inner = [g for g in group if (h[g, group] <= distance).all()]  # always contains best
        rep = min(inner, key=lambda g: ((h[g, group] * counts[group]).sum(), g))
        reps.append(int(rep))
        rep_of[group] = len(reps) - 1
        remaining[group] = False
    filters = uniq[reps].astype(np.uint8)
    index = rep_of[inverse]
    # the merged filter is the representative or its complement, whichever is closer
    rep_rows = filters[index]
    d_same = (rep_rows != canon).sum(1)
    flip = d_same > t - d_same
    invert = (inv ^ flip).astype(np.uint8)
    changed = np.minimum(d_same, t - d_same)
    return ChannelPlan(filters, index, invert, changed)


def share_layer(layer: ir.Conv, distance: int = 0) -> tuple[ir.Conv, dict[str, Any]]:
    """The layer with its sharing plan (and, for distance > 0, the merged weights)."""
    f2 = filters_2d(layer)
    o, c, _ = f2.shape
    index = np.zeros((o, c), np.int32)
    invert = np.zeros((o, c), np.uint8)
    offsets = [0]
    parts = []
    changed = np.zeros((o, c), np.int64)
    for ch in range(c):
        cp = plan_channel(f2[:, ch, :], distance)
        index[:, ch] = cp.index
        invert[:, ch] = cp.invert
        changed[:, ch] = cp.changed_bits
        parts.append(cp.filters)
        offsets.append(offsets[-1] + len(cp.filters))
    filters = np.concatenate(parts).astype(np.uint8)
    offs = np.array(offsets, np.int32)
    new_f2 = filters[offs[:-1][None, :] + index] ^ invert[..., None]  # (O, C, T)
    kh, kw = layer.kernel
    weights = new_f2.reshape(o, c, kh, kw).transpose(0, 2, 3, 1).astype(np.uint8)
    if distance == 0:
        assert np.array_equal(weights, layer.weights), "exact sharing must reproduce the weights"
    shared = dataclasses.replace(
        layer,
        weights=np.ascontiguousarray(weights),
        share_index=index,
        share_invert=invert,
        share_filters=filters,
        share_offsets=offs,
    )
    changed_pairs = np.argwhere(changed > 0)
    stats = {
        "changed_filters": len(changed_pairs),
        "changed_bits": int(changed.sum()),
        "changed": [
            {"out": int(a), "in": int(b), "bits": int(changed[a, b])} for a, b in changed_pairs[:50]
        ],
    }
    return shared, stats


def op_counts(layer: ir.Linear) -> dict[str, Any]:
    """Per image, before and after sharing: XNOR bit-operations, popcount additions (within
    each 2-D filter) and the additions over input channels; and the paper's count (2-D filter
    evaluations)."""
    if isinstance(layer, ir.Conv):
        o, kh, kw, c = layer.weights.shape
        pixels = layer.out_shape[0] * layer.out_shape[1]
        t = kh * kw
        distinct = (
            int(layer.share_filters.shape[0])
            if layer.shared
            else int(
                sum(len(plan_channel(f).filters) for f in filters_2d(layer).transpose(1, 0, 2))
            )
        )
    else:
        o, c = layer.out_channels, layer.fan_in
        pixels, t, distinct = 1, 1, c  # 1x1: one filter per input, up to inversion
    before = {
        "xnor": pixels * o * c * t,
        "popcount_adds": pixels * o * c * (t - 1),
        "channel_adds": pixels * o * (c - 1),
    }
    after = {
        "xnor": pixels * distinct * t,
        "popcount_adds": pixels * distinct * (t - 1),
        "channel_adds": pixels * o * (c - 1),
    }
    total_before, total_after = sum(before.values()), sum(after.values())
    return {
        "layer": layer.name,
        "kind": layer.kind,
        "degenerate_1x1": not isinstance(layer, ir.Conv),
        "filters_2d": o * c,
        "distinct_2d": distinct,
        "before": before,
        "after": after,
        "ops_reduction": round(1 - total_after / total_before, 4) if total_before else 0.0,
        "paper_xnor_reduction": round(1 - distinct / (o * c), 4),
    }


def _apply_sharing(model: ir.Model, mode: SharingMode) -> tuple[ir.Model, dict[str, Any]]:
    """The model with sharing plans on its convs (mode exact, similar:D; auto gives the exact
    plans too: which kernel computes each conv is the folding's choice), and the report."""
    report: dict[str, Any] = {"mode": str(mode), "layers": []}
    if mode.kind == "off":
        return model, sharing_report(model)
    distance = mode.distance if mode.kind == "similar" else 0
    layers: list[ir.Layer] = []
    for layer in model.layers:
        if isinstance(layer, ir.Conv) and layer.binary_weights:  # filters of +-1 only
            shared, stats = share_layer(layer, distance)
            layers.append(shared)
            entry = op_counts(shared)
            entry.update(stats)
            report["layers"].append(entry)
            log.info(
                "sharing %s: %d of %d 2-D filters distinct%s",
                layer.name,
                entry["distinct_2d"],
                entry["filters_2d"],
                f", {stats['changed_filters']} changed" if distance else "",
            )
        else:
            layers.append(layer)
            if isinstance(layer, ir.Linear):
                report["layers"].append(op_counts(layer))
    new_model = dataclasses.replace(model, layers=layers)
    new_model.passes = [*model.passes, f"sharing({mode})"]
    return new_model, _totals(report)


def sharing_report(model: ir.Model) -> dict[str, Any]:
    """What exact sharing would save, for a model without sharing plans."""
    binary = [layer for layer in model.linear_layers() if layer.binary_weights]
    report = {"mode": "off", "layers": [op_counts(layer) for layer in binary]}
    return _totals(report)


def _totals(report: dict[str, Any]) -> dict[str, Any]:
    convs = [e for e in report["layers"] if not e["degenerate_1x1"]]
    before = sum(sum(e["before"].values()) for e in convs)
    after = sum(sum(e["after"].values()) for e in convs)
    xb = sum(e["before"]["xnor"] for e in convs)
    xa = sum(e["after"]["xnor"] for e in convs)
    report["conv_totals"] = {
        "ops_before": before,
        "ops_after": after,
        "ops_reduction": round(1 - after / before, 4) if before else 0.0,
        "xnor_before": xb,
        "xnor_after": xa,
        "paper_xnor_reduction": round(1 - xa / xb, 4) if xb else 0.0,
    }
    return report


class ResultSharing(Pass):
    """--sharing: sharing plans on the binary convs (off: nothing changes; the report then
    says what exact sharing would find)."""

    name = "sharing"

    def run(self, model: ir.Model, options: PassOptions) -> PassResult:
        mode = options.sharing
        shared, report = _apply_sharing(model, mode)
        if mode.kind == "similar":
            log.warning(
                "--sharing %s changes weights (lossy): %d 2-D filters changed",
                mode,
                sum(e.get("changed_filters", 0) for e in report["layers"]),
            )
        return PassResult(shared, report)
