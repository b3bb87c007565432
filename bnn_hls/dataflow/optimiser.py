"""Folding optimiser: PE, SIMD and the weights' memory for every layer, so that the pipeline is
balanced and fits the chip.

For a candidate initiation interval (II, cycles per image) every layer takes its cheapest
folding whose stages (sliding window and MVTU or result-sharing unit) need at most II
cycles, under the stream rule that a layer's SIMD and its producer's PE divide one another: a
shortest path over the chain of layers (state: the previous layer's PE). Cost is the resource
model's LUTs and block RAM as fractions of the budget. With a target throughput the II follows
from it; without one the smallest II whose design fits the budget is found by bisection over
the achievable IIs.

A conv with a sharing plan can run on the result-sharing unit: `shared_kernel` "always" (what
--sharing exact and similar:D ask for) gives it only that kernel, "choose" (--sharing auto)
lets the resource model pick, per layer, whichever kernel is cheaper at the II, "never" only
the MVTU.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .. import ir
from ..errors import ModelError
from . import resource_model as rm
from .cycles import CLOCK_HZ, images_per_second, initiation_interval
from .folding import (
    ROM_STYLES,
    Fold,
    Folding,
    check_folding,
    compatible,
    divisors,
    simd_domain,
)
from .kernels import KERNELS, claimed_by, legal_kernels
from .lowering import build_plan, linear_layer_stages
from .pairing import linear_steps
from .resource_model import XC7Z020
from .signgen import generator_refusal
from .streams import MAX_WORD_BITS, Stream

log = logging.getLogger(__name__)

DEFAULT_BUDGET = 0.7
# The first layer reads at most this many input bits per cycle: the PS7 high-performance
# port that feeds the DMA is 64 bits wide at the fabric clock.
MAX_INPUT_BITS_PER_CYCLE = 64
# prices of block RAM relative to LUTs tried (a Lagrangian sweep: the cheapest chain at each
# price, of which the one with the fewest LUTs that fits the budget wins)
BRAM_WEIGHTS = tuple(0.01 * 1.5**i for i in range(20))


@dataclass(frozen=True)
class Candidate:
    fold: Fold
    cycles: int
    cost: rm.Estimate


@dataclass
class Result:
    folding: Folding
    ii: int
    estimate: rm.Estimate  # whole design, resource model
    limits: rm.Estimate  # the budget
    target_ii: int | None = None
    notes: list[str] = field(default_factory=list)


SHARED_KERNEL_MODES = ("always", "choose", "never")


def shared_kernel_mode(sharing: str) -> str:
    """The optimiser's SHARED_KERNEL_MODES entry for a `--sharing` mode: under "auto" the
    resource model picks the kernel of every shared conv per layer; otherwise a layer with a
    sharing plan stays on the result-sharing unit."""
    return "choose" if sharing == "auto" else "always"


def candidate(model: ir.Model, layer: ir.Linear, fold: Fold) -> Candidate:
    """One folding of one layer: its cycles per image (window and MVTU or result-sharing
    unit: the slower) and its cost (their sum), from the stages themselves."""
    threshold = next(th for la, th in linear_steps(model) if la is layer)
    found = _candidate(model, layer, threshold, fold)
    if found is None:
        raise ModelError(f"layer {layer.name}: {fold} makes words wider than {MAX_WORD_BITS} bits")
    return found


def _candidate(
    model: ir.Model, layer: ir.Linear, threshold: ir.ThresholdLayer | None, fold: Fold
) -> Candidate | None:
    src_bits = layer.input_element_bits()
    src = Stream("", fold.simd, src_bits, int(np.prod(layer.in_shape)) // fold.simd)
    stages = linear_layer_stages(layer, threshold, fold, src)
    if max(st.widest_word() for st in stages) > MAX_WORD_BITS:
        return None  # wider words than HLS allows
    cost = rm.Estimate()
    for st in stages:
        cost = cost + st.resource_estimate()
    return Candidate(fold, max(st.cycles() for st in stages), cost)


def layer_candidates(
    model: ir.Model,
    layer: ir.Linear,
    threshold: ir.ThresholdLayer | None,
    first: bool,
    shared_kernel: str = "always",
    thresholds: str = "writable",
) -> list[Candidate]:
    """Every legal (PE, SIMD, ROM, kernel) of one layer with its cycles and cost, dominated
    ones (slower and no cheaper in LUTs and in block RAM) removed. The first layer reads at
    most MAX_INPUT_BITS_PER_CYCLE input bits per cycle."""
    in_bits = layer.input_element_bits()
    legal = legal_kernels(layer, threshold)
    claimed = claimed_by(legal) if shared_kernel != "never" else []
    if claimed and shared_kernel != "choose":
        kernels = claimed
    else:
        kernels = [k for k in legal if k in claimed or not KERNELS[k].claims_layer]
    out: list[Candidate] = []
    for pe in divisors(layer.out_channels):
        for simd in divisors(simd_domain(layer)):
            if first and simd * in_bits > MAX_INPUT_BITS_PER_CYCLE and simd > 1:
                continue
            for kernel in kernels:
                roms: tuple[str, ...] = ROM_STYLES if KERNELS[kernel].uses_rom else ("lut",)
                if generator_refusal(layer) is not None or not KERNELS[kernel].generates_weights:
                    roms = tuple(r for r in roms if r != "gen")
                for rom in roms:
                    found = _candidate(
                        model, layer, threshold, Fold(pe, simd, rom, kernel, thresholds)
                    )
                    if found is not None:
                        out.append(found)
    out.sort(key=lambda c: (c.cycles, c.cost.lut, c.cost.bram36))
    kept: list[Candidate] = []
    for c in out:
        if not any(
            k.cycles <= c.cycles and k.cost.lut <= c.cost.lut and k.cost.bram36 <= c.cost.bram36
            for k in kept
        ):
            kept.append(c)
    return kept


def limits_for(budget: float) -> rm.Estimate:
    return rm.Estimate(budget * XC7Z020["lut"], budget * XC7Z020["ff"], budget * XC7Z020["bram36"])


def _weighted(c: Candidate, limits: rm.Estimate, bram_weight: float) -> float:
    return c.cost.lut / limits.lut + bram_weight * c.cost.bram36 / limits.bram36


def cheapest_chain(
    cands: list[list[Candidate]], ii: int, limits: rm.Estimate, bram_weight: float
) -> list[Candidate] | None:
    """Cheapest legal choice per layer with cycles <= ii (shortest path over the chain)."""

    def cost(c: Candidate) -> float:
        # a little extra for parallelism: among equal costs, the slower (balanced) fold wins
        return _weighted(c, limits, bram_weight) + 1e-9 * c.fold.pe * c.fold.simd

    # best[pe] = (total cost, chosen candidates) for the layers so far, ending with that PE
    best: dict[int | None, tuple[float, list[Candidate]]] = {None: (0.0, [])}
    for layer_cands in cands:
        nxt: dict[int | None, tuple[float, list[Candidate]]] = {}
        for c in layer_cands:
            if c.cycles > ii:
                continue
            for prev_pe, (total, chain) in best.items():
                if prev_pe is not None and not compatible(c.fold.simd, prev_pe):
                    continue
                value = total + cost(c)
                if c.fold.pe not in nxt or value < nxt[c.fold.pe][0]:
                    nxt[c.fold.pe] = (value, [*chain, c])
        if not nxt:
            return None
        best = nxt
    return min(best.values(), key=lambda v: v[0])[1]


def budget_chains(
    cands: list[list[Candidate]], ii: int, limits: rm.Estimate
) -> list[list[Candidate]]:
    """Chains with cycles <= ii whose layers fit the budget in LUTs and in block RAM together,
    fewest LUTs first: a shortest path whose state is the previous layer's PE and the block
    RAM used so far (in RAMB18 halves), keeping per PE only the chains that no other beats in
    both. Exact where the price sweep of design_at only finds the trade-offs on the convex
    hull of LUT against block RAM."""
    bram_cap = round(limits.bram36 * 2)
    # best[(pe, bram halves)] = (LUTs, chain)
    best: dict[tuple[int | None, int], tuple[float, list[Candidate]]] = {(None, 0): (0.0, [])}
    for layer_cands in cands:
        nxt: dict[tuple[int | None, int], tuple[float, list[Candidate]]] = {}
        for c in layer_cands:
            if c.cycles > ii:
                continue
            halves = round(c.cost.bram36 * 2)
            for (prev_pe, used), (lut, chain) in best.items():
                if prev_pe is not None and not compatible(c.fold.simd, prev_pe):
                    continue
                state: tuple[int | None, int] = (c.fold.pe, used + halves)
                total = lut + c.cost.lut
                if state[1] > bram_cap or total > limits.lut:
                    continue
                if state not in nxt or total < nxt[state][0]:
                    nxt[state] = (total, [*chain, c])
        best = {}
        lowest: dict[int | None, float] = {}
        for key in sorted(nxt, key=lambda k: k[1]):  # less block RAM first, per PE
            lut, chain = nxt[key]
            if lut < lowest.get(key[0], math.inf):
                lowest[key[0]] = lut
                best[key] = (lut, chain)
        if not best:
            return []
    return [chain for _, chain in sorted(best.values(), key=lambda v: v[0])]


# the exact search: rounds, and plans checked per round (fewest LUTs first)
EXACT_ROUNDS = 6
EXACT_PLANS_PER_ROUND = 4


def _exact_design(
    cands: list[list[Candidate]],
    ii: int,
    limits: rm.Estimate,
    fitting: Callable[[list[Candidate]], tuple[Result | None, rm.Estimate]],
) -> list[Result]:
    """budget_chains under the limits less what the plan adds to its layers (FIFOs, the
    input and output stages, which depend on the folding): each round that finds no fitting
    plan lowers the layers' share by the least overshoot it saw."""
    room = rm.Estimate(limits.lut, limits.ff, limits.bram36)
    for _ in range(EXACT_ROUNDS):
        least = rm.Estimate(math.inf, 0.0, math.inf)
        chains = budget_chains(cands, ii, room)
        if not chains:
            return []
        for chain in chains[:EXACT_PLANS_PER_ROUND]:
            found, over = fitting(chain)
            if found is not None:
                return [found]
            least = rm.Estimate(min(least.lut, over.lut), 0.0, min(least.bram36, over.bram36))
        room = rm.Estimate(
            room.lut - max(1.0, least.lut), room.ff, room.bram36 - max(0.5, least.bram36)
        )
    return []


def design_at(
    model: ir.Model, cands: list[list[Candidate]], ii: int, limits: rm.Estimate
) -> Result | None:
    """The cheapest design with II <= ii that fits `limits`, or None. A sweep over prices of
    block RAM first; when none of its designs fits and its bound (a chain that fits costs at
    most 1 + price at every price) does not rule the II out, the exact search."""
    layers = model.linear_layers()
    results: list[Result] = []
    seen: set[tuple[Fold, ...]] = set()
    ruled_out = False

    def fitting(chain: list[Candidate]) -> tuple[Result | None, rm.Estimate]:
        """The chain's design if it fits, and by how much its plan is over the limits."""
        folding = {layer.name: c.fold for layer, c in zip(layers, chain)}
        plan = build_plan(model, folding)
        _, total = plan.resource_estimate()
        over = rm.Estimate(total.lut - limits.lut, 0.0, total.bram36 - limits.bram36)
        if initiation_interval(plan) > ii:
            # a stage the folding does not control is slower (the scores output)
            return None, rm.Estimate(math.inf, 0.0, math.inf)
        if over.lut <= 0 and over.bram36 <= 0:
            return Result(folding, initiation_interval(plan), total, limits), over
        return None, over

    for weight in BRAM_WEIGHTS:
        chain = cheapest_chain(cands, ii, limits, weight)
        if chain is None:
            return None  # no legal folding is this fast
        ruled_out |= sum(_weighted(c, limits, weight) for c in chain) > 1 + weight + 1e-9
        key = tuple(c.fold for c in chain)
        if key in seen:
            continue
        seen.add(key)
        found, over = fitting(chain)
        if over.lut == math.inf:
            return None  # the stages the folding does not control are slower than ii
        if found is not None:
            results.append(found)
    if not results and not ruled_out:
        results = _exact_design(cands, ii, limits, fitting)
    if not results:
        return None
    # of the trade-offs that fit, the one with the fewest LUTs (the scarce resource of an
    # XNOR-popcount design: block RAM that fits the budget is there to hold weights)
    return min(results, key=lambda r: (round(r.estimate.lut), r.estimate.bram36))


def optimise(
    model: ir.Model,
    target_fps: float | None = None,
    budget: float = DEFAULT_BUDGET,
    clock_hz: float = CLOCK_HZ,
    shared_kernel: str = "always",
    thresholds: str = "writable",
) -> Result:
    """Folding for `target_fps` images/s at `clock_hz` (the cheapest that reaches it), or the
    fastest that fits `budget` (fraction of the xc7z020's LUTs and block RAM). shared_kernel:
    which kernel computes the convs with a sharing plan (SHARED_KERNEL_MODES); thresholds:
    every layer's threshold style (folding.THRESHOLD_STYLES), priced by the resource model."""
    if not 0 < budget <= 1:
        raise ModelError(f"the budget must be a fraction in (0, 1], not {budget}")
    if shared_kernel not in SHARED_KERNEL_MODES:
        raise ValueError(f"shared_kernel must be one of {SHARED_KERNEL_MODES}")
    if target_fps is not None and target_fps <= 0:
        raise ModelError(f"the target must be a positive number of images/s, not {target_fps}")
    cands = [
        layer_candidates(model, layer, threshold, i == 0, shared_kernel, thresholds)
        for i, (layer, threshold) in enumerate(linear_steps(model))
    ]
    forced = [
        layer.name
        for layer, threshold in linear_steps(model)
        if shared_kernel == "always" and claimed_by(legal_kernels(layer, threshold))
    ]
    try:
        return _optimise(model, cands, target_fps, budget, clock_hz)
    except ModelError as exc:
        if not forced:
            raise
        raise ModelError(
            f"{exc} (with {', '.join(forced)} on the result-sharing unit; --sharing auto lets "
            "the optimiser keep a layer on the MVTU where that is cheaper)"
        ) from None


def _optimise(
    model: ir.Model,
    cands: list[list[Candidate]],
    target_fps: float | None,
    budget: float,
    clock_hz: float,
) -> Result:
    limits = limits_for(budget)
    fastest = fastest_possible(model, cands)
    if target_fps is not None:
        target_ii = math.floor(clock_hz / target_fps)
        if target_ii < fastest:
            raise ModelError(
                f"{target_fps:,.0f} images/s needs {target_ii} cycles per image at "
                f"{clock_hz / 1e6:g} MHz; no folding of this model is faster than {fastest} "
                f"cycles ({images_per_second(fastest, clock_hz):,.0f} images/s)",
                hint="lower --target-fps",
            )
        res = design_at(model, cands, target_ii, limits)
        if res is None:
            best = fastest_within(model, cands, limits)
            raise ModelError(
                f"{target_fps:,.0f} images/s does not fit {budget:.0%} of the xc7z020 by the "
                f"resource model; the fastest design that fits runs at "
                f"{images_per_second(best.ii, clock_hz):,.0f} images/s ({best.ii} cycles per "
                "image)",
                hint="lower --target-fps or raise --budget",
            )
        res.target_ii = target_ii
    else:
        res = fastest_within(model, cands, limits)
    check_folding(model, res.folding)
    log.info(
        "folding: %d cycles per image (%s images/s at %g MHz), model estimate %d LUT, %.1f BRAM36",
        res.ii,
        f"{images_per_second(res.ii, clock_hz):,.0f}",
        clock_hz / 1e6,
        res.estimate.lut,
        res.estimate.bram36,
    )
    return res


def weight_bram(model: ir.Model) -> float:
    """RAMB36 that all weights need at PE = SIMD = 1 (one bit per word: the densest shape)."""
    return sum(rm.bram18_count(1, layer.weights.size) / 2 for layer in model.linear_layers())


def slowest_needs(
    model: ir.Model, cands: list[list[Candidate]], ii: int, limits: rm.Estimate
) -> str:
    """What the cheapest design at the slowest II needs against the limits: the resource that
    does not fit first (it was block RAM in the message before; 8-bit activations overflow the
    LUTs)."""
    free = design_at(model, cands, ii, rm.Estimate(math.inf, math.inf, math.inf))
    if free is None:  # a stage the folding does not control is too slow: say the weights
        return (
            f"its weights alone need {weight_bram(model):.0f} of the xc7z020's "
            f"{XC7Z020['bram36']} RAMB36 in block RAM"
        )
    need = free.estimate
    parts = [
        f"~{need.lut:,.0f} LUT (the budget allows {limits.lut:,.0f})"
        if need.lut > limits.lut
        else "",
        f"~{need.bram36:.1f} RAMB36 (the budget allows {limits.bram36:.1f})"
        if need.bram36 > limits.bram36
        else "",
    ]
    shown = [p for p in parts if p] or [f"~{need.lut:,.0f} LUT, ~{need.bram36:.1f} RAMB36"]
    return "its cheapest form needs " + " and ".join(shown)


def fastest_possible(model: ir.Model, cands: list[list[Candidate]]) -> int:
    """No design is faster than its slowest layer at full parallelism, nor than the scores
    output, which sends one score per cycle."""
    slowest_layer = max(min(c.cycles for c in layer_cands) for layer_cands in cands)
    return max(slowest_layer, int(model.scores.out_shape[-1]))


def fastest_within(model: ir.Model, cands: list[list[Candidate]], limits: rm.Estimate) -> Result:
    """Smallest II whose cheapest design fits (bisection over the achievable IIs)."""
    fastest = fastest_possible(model, cands)
    iis = sorted(
        {fastest} | {c.cycles for layer_cands in cands for c in layer_cands if c.cycles >= fastest}
    )
    lo, hi = 0, len(iis) - 1
    best = design_at(model, cands, iis[hi], limits)
    if best is None:
        raise ModelError(
            "even the slowest folding (PE = SIMD = 1) does not fit the budget by the resource "
            f"model: {slowest_needs(model, cands, iis[hi], limits)}",
            hint="raise --budget, or give --folding FILE.json to generate it anyway",
        )
    while lo < hi:
        mid = (lo + hi) // 2
        res = design_at(model, cands, iis[mid], limits)
        if res is not None:
            best, hi = res, mid
        else:
            lo = mid + 1
    return best
