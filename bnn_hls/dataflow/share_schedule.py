"""How a result-sharing conv unit computes its outputs PE at a time: the schedule that the
HLS kernel (hw/hls/bnn_shared.h) and the generated RTL unit (templates/rtl/share_conv.sv.j2)
are both built from (through dataflow/shared.py), so the two backends cannot disagree.

Per output pixel the unit holds the whole window (T taps x C channels) and takes NF = O / PE
steps. At step nf it computes the outputs o = nf * PE + p. Each input channel c owns m_c
*units*; a unit counts the matches of the channel's T window bits with one distinct 2-D filter
(popcount of the XNOR, 0..T). m_c is the largest number of distinct filters of channel c that
one step's outputs use, so the outputs of a step that use the same (or the inverse) filter
read one unit: that is the sharing. A unit's filter may change from step to step (a
compile-time table indexed by nf); with NF = 1 every unit has one filter and every output
reads fixed units, so the logic is fully specialised.

Lane p of step nf adds, over the channels, the B-bit result of unit lane_unit[nf, p, c],
bitwise inverted where its filter is the inverse (B = bits of T). Inverting B bits gives
2**B - 1 - q instead of the inverse's T - q, so the lane sum S exceeds the true match count M
by n_inv * (2**B - 1 - T), n_inv the number of inverted channels of the output. With the
accumulator acc = 2 * M - K (K = T * C) and the border correction corr of the pixel, the
output bit acc + corr >= T_out becomes 2 * S + corr >= T_out + K + 2 * n_inv * (2**B - 1 - T):
the right side is the stored threshold (`lane_thresholds`), so the hardware adds unsigned
B-bit terms and compares once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import ir
from .layer_cache import LayerCache


@dataclass
class ShareSchedule:
    taps: int  # T: kernel height x width
    channels: int  # C
    outputs: int  # O
    pe: int
    unit_channel: np.ndarray  # (U,) input channel of every unit
    unit_filter: np.ndarray  # (NF, U) index into the layer's share_filters at every step
    lane_unit: np.ndarray  # (NF, PE, C) the unit lane p adds for channel c at step nf
    lane_invert: np.ndarray  # (NF, PE, C) uint8: add its bitwise inverse

    @property
    def nf(self) -> int:
        return self.outputs // self.pe

    @property
    def units(self) -> int:
        return len(self.unit_channel)

    @property
    def term_bits(self) -> int:
        """B: a unit's match count is 0..T."""
        return int(self.taps).bit_length()

    @property
    def sum_bits(self) -> int:
        """Unsigned width of a lane sum (C terms of B bits)."""
        return int(self.channels * ((1 << self.term_bits) - 1)).bit_length()

    def inverted_channels(self) -> np.ndarray:
        """(O,) n_inv: channels each output reads inverted."""
        per_lane = self.lane_invert.sum(-1, dtype=np.int64)  # (NF, PE)
        return per_lane.reshape(-1)

    def unit_patterns(self, filters: np.ndarray) -> np.ndarray:
        """(NF, U, T) bits each unit compares its window bits with, step by step."""
        return filters[self.unit_filter]

    def lane_thresholds(self, thresholds: np.ndarray) -> np.ndarray:
        """(O,) int64: the thresholds in the lane-sum domain, 2 * S + corr >= value."""
        k = self.taps * self.channels
        excess = (1 << self.term_bits) - 1 - self.taps
        return thresholds.astype(np.int64) + k + 2 * excess * self.inverted_channels()

    def varying_unit_bits(self, filters: np.ndarray) -> int:
        """Pattern bits of all units that change between steps (each costs logic)."""
        pat = self.unit_patterns(filters)  # (NF, U, T)
        return int((pat != pat[:1]).any(0).sum())

    def lane_options(self) -> np.ndarray:
        """(PE, C): how many different (unit, invert) choices each lane term takes over the
        steps (1: a fixed wire)."""
        key = self.lane_unit.astype(np.int64) * 2 + self.lane_invert  # (NF, PE, C)
        srt = np.sort(key, axis=0)
        return 1 + (srt[1:] != srt[:-1]).sum(0)


def _owners(g: np.ndarray) -> np.ndarray:
    """For the last axis of g: the index of the first position holding the same value."""
    order = np.argsort(g, axis=-1, kind="stable")
    srt = np.take_along_axis(g, order, -1)
    n = g.shape[-1]
    start = np.ones(srt.shape, bool)
    start[..., 1:] = srt[..., 1:] != srt[..., :-1]
    # position (in sorted order) of the start of each run, carried along the run
    run_start = np.maximum.accumulate(np.where(start, np.arange(n), 0), axis=-1)
    first = np.take_along_axis(order, run_start, -1)  # stable sort: lowest index first
    owners = np.empty_like(order)
    np.put_along_axis(owners, order, first, -1)
    return owners


def share_schedule(layer: ir.Conv, pe: int) -> ShareSchedule:
    """The unit allocation of a shared conv folded to PE outputs per step."""
    if not layer.shared:
        raise ValueError(f"{layer.name} has no sharing plan")
    o, c = layer.share_index.shape
    if o % pe:
        raise ValueError(f"PE {pe} does not divide the {o} outputs of {layer.name}")
    nf = o // pe
    t = layer.kernel[0] * layer.kernel[1]
    gidx = (layer.share_offsets[:-1][None, :] + layer.share_index).astype(np.int64)  # (O, C)
    g = gidx.reshape(nf, pe, c).transpose(0, 2, 1)  # (NF, C, PE)
    owner = _owners(g)
    lanes = np.arange(pe)
    first = owner == lanes  # the first lane of a step that uses each filter
    per_unit = first.sum(-1)  # (NF, C) distinct filters per step and channel
    m = per_unit.max(0)  # (C,) units per channel
    # a filter's first lane p keeps unit p when it exists (with no sharing inside a step,
    # lane p always reads unit p: no multiplexer); the others take the free units in order
    slot = np.where(first & (lanes < m[None, :, None]), lanes, -1)
    overflow = first & (lanes >= m[None, :, None])
    for nfi, ch in zip(*np.nonzero(overflow.any(-1))):
        used = set(slot[nfi, ch][slot[nfi, ch] >= 0].tolist())
        free = (s for s in range(int(m[ch])) if s not in used)
        for p in np.flatnonzero(overflow[nfi, ch]):
            slot[nfi, ch, p] = next(free)
    lane_slot = np.take_along_axis(slot, owner, -1)  # (NF, C, PE)
    base = np.concatenate([[0], np.cumsum(m)[:-1]])
    lane_unit = (base[None, :, None] + lane_slot).transpose(0, 2, 1)  # (NF, PE, C)
    units = int(m.sum())
    unit_channel = np.repeat(np.arange(c), m)
    unit_filter = np.full((nf, units), -1, np.int64)
    steps = np.repeat(np.arange(nf)[:, None, None], c, 1).repeat(pe, 2)
    unit_filter[steps[first], (base[None, :, None] + slot)[first]] = g[first]
    # a unit idle at a step keeps the filter of its first busy step (no change, no logic)
    busy = unit_filter >= 0
    first_busy = busy.argmax(0)
    fill = unit_filter[first_busy, np.arange(units)]
    unit_filter = np.where(busy, unit_filter, fill[None, :])
    invert = layer.share_invert.reshape(nf, pe, c).astype(np.uint8)
    return ShareSchedule(
        taps=t,
        channels=c,
        outputs=o,
        pe=pe,
        unit_channel=unit_channel.astype(np.int64),
        unit_filter=unit_filter,
        lane_unit=np.ascontiguousarray(lane_unit).astype(np.int64),
        lane_invert=invert,
    )


_CACHE: LayerCache[ShareSchedule] = LayerCache(share_schedule)


def cached_schedule(layer: ir.Conv, pe: int) -> ShareSchedule:
    """share_schedule, remembered: the folding optimiser and the lowering ask for the same ones
    many times."""
    return _CACHE(layer, pe)


@dataclass
class ShareTables:
    """The per-output constants of a shared unit: thresholds in the lane-sum domain and the
    border correction, and the signed width that holds them and 2 * S + corr."""

    thresholds: np.ndarray  # (O,) int64, clipped to the reachable range
    compare_bits: int


def share_tables(
    sched: ShareSchedule, thresholds: np.ndarray, correction: np.ndarray | None
) -> ShareTables:
    """correction: the border tables' (RC, CC, O) values, or None."""
    corr_lo = int(correction.min()) if correction is not None else 0
    corr_hi = int(correction.max()) if correction is not None else 0
    s_max = sched.channels * ((1 << sched.term_bits) - 1)
    lo, hi = min(corr_lo, 0), 2 * s_max + max(corr_hi, 0)
    # a threshold outside [lo, hi + 1] gives the same bits as the bound (a constant channel)
    clipped = np.clip(sched.lane_thresholds(thresholds), lo, hi + 1)
    return ShareTables(clipped, ir.signed_bits(lo, hi + 1))
