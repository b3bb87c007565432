"""Lowering: the IR after the passes -> the pipeline plan. One small function per IR layer type
(LOWERINGS) turns a layer, paired with its threshold (pairing.py), into stages; a width
converter goes in front of a linear layer whose SIMD differs from its producer's word, and
the streams are named in order once the chain is complete."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import lru_cache

import numpy as np

from .. import ir
from ..errors import ModelError
from .convert import converter
from .folding import Fold, Folding
from .io import InputStage, OutputStage
from .kernels import KERNELS
from .pairing import Step, device_steps
from .plan import Plan
from .pool import PoolStage, WindowMaxStage, pool_refusal
from .stage import Stage
from .streams import MAX_AXI_BITS, MAX_WORD_BITS, SCORE_BITS, Stream, axi_width
from .window import WindowStage

log = logging.getLogger(__name__)


def linear_layer_stages(
    layer: ir.Linear,
    threshold: ir.ThresholdLayer | None,
    fold: Fold,
    src: Stream,
) -> list[Stage]:
    """The stages of one linear layer at one folding, from an input stream of SIMD elements per
    word: a conv's sliding window, then the folding's kernel."""
    stages: list[Stage] = []
    elem_bits = 1 if layer.input_kind == "bit" else src.bits
    pixels = 1
    if isinstance(layer, ir.Conv):
        oh, ow, _ = layer.out_shape
        pixels = oh * ow
        windows = Stream("", fold.simd, elem_bits, layer.fan_in * pixels // fold.simd)
        stages.append(WindowStage(src, windows, layer))
        src = windows
    if threshold is None:
        out_bits = SCORE_BITS
    else:
        out_bits = threshold.out_bits() if isinstance(threshold, ir.MultiThreshold) else 1
    dst = Stream("", fold.pe, out_bits, layer.out_channels * pixels // fold.pe)
    kernel = KERNELS[fold.kernel]
    stages.append(kernel.build(layer, threshold, fold, src, dst))
    return stages


def lower_linear(step: Step, folding: Folding, cur: Stream) -> list[Stage]:
    assert isinstance(step.layer, ir.Linear)
    fold = folding[step.layer.name]
    stages: list[Stage] = []
    if cur.elems != fold.simd:
        per_image = cur.elems * cur.words_per_image
        conv = converter(cur, Stream("", fold.simd, cur.bits, per_image // fold.simd))
        stages.append(conv)
        cur = conv.dst
    return stages + linear_layer_stages(step.layer, step.threshold, fold, cur)


def lower_pool(step: Step, folding: Folding, cur: Stream) -> list[Stage]:
    """The streaming max-pool; windows that overlap (or are not square): a sliding window and
    the max over each window's taps."""
    layer = step.layer
    assert isinstance(layer, ir.MaxPool)
    elements = int(np.prod(layer.out_shape))
    out = Stream("", cur.elems, cur.bits, elements // cur.elems)
    if pool_refusal(layer) is None:
        return [PoolStage(cur, out, layer)]
    taps = layer.kernel[0] * layer.kernel[1]
    windows = Stream("", cur.elems, cur.bits, elements * taps // cur.elems)
    return [WindowStage(cur, windows, layer), WindowMaxStage(windows, out, layer)]


def lower_flatten(step: Step, folding: Folding, cur: Stream) -> list[Stage]:
    return []  # the stream order is already the flattened order


def lower_scores(step: Step, folding: Folding, cur: Stream) -> list[Stage]:
    assert isinstance(step.layer, ir.Scores)
    classes = step.layer.out_shape[-1]
    return [OutputStage(cur, Stream("axis_out", 1, SCORE_BITS, classes), step.layer)]


LOWERINGS: dict[type[ir.Layer], Callable[[Step, Folding, Stream], list[Stage]]] = {
    ir.Dense: lower_linear,
    ir.Conv: lower_linear,
    ir.MaxPool: lower_pool,
    ir.Flatten: lower_flatten,
    ir.Scores: lower_scores,
}


# the widest sums a hidden layer may have: its thresholds and border corrections are computed
# as 64-bit integers (stored at the sum's width + 2)
MAX_HIDDEN_ACC_BITS = 62


@lru_cache(maxsize=64)
def warn_wide_scores(layer: str, bits: int) -> None:
    """Once per layer and width (the optimiser builds many plans)."""
    log.warning(
        "layer %s: its fixed-point sums could need %d bits (a bound), the score words carry "
        "%d: a larger sum would wrap; lower --coeff-bits to be sure",
        layer,
        bits,
        SCORE_BITS,
    )


def check_accumulators(model: ir.Model) -> None:
    """Every linear layer has a nonzero weight and its sums fit what carries them: the score
    words for the last layer, 64-bit arithmetic for the others."""
    layers = model.linear_layers()
    for layer in layers:
        if not layer.has_nonzero_weight():
            raise ModelError(
                f"layer {layer.name} ({layer.source or layer.kind}): every weight is 0, so its "
                "output does not depend on its input (a quantiser's scale that rounds every "
                "weight to 0?)",
                hint="check this layer's weight quantiser, or retrain; the hardware needs a "
                "nonzero weight",
            )
        bits = layer.acc_bits()
        limit = SCORE_BITS if layer is layers[-1] else MAX_HIDDEN_ACC_BITS
        if bits > limit and limit == SCORE_BITS and layer.fixed_point:
            # a piecewise approximation's bound (every fixed-point level at its extreme) is
            # far above what its inputs reach: the shipped examples bound 33 bits and stay
            # within 32 on their data; verify compares C-sim and RTL-sim with the golden model
            warn_wide_scores(layer.name, bits)
        elif bits > limit:
            what = f"{SCORE_BITS}-bit score words" if limit == SCORE_BITS else "64-bit arithmetic"
            raise ModelError(
                f"layer {layer.name} ({layer.source or layer.kind}): its integer sums need "
                f"{bits} bits; the hardware carries them in {what}",
                hint="quantise this layer's input or weights to fewer bits, or lower "
                "--coeff-bits (a piecewise approximation, docs/pa.md)",
            )


def build_plan(model: ir.Model, folding: Folding) -> Plan:
    """The pipeline of a model (after BatchShift) at a folding."""
    check_accumulators(model)
    inq = model.input
    simd0 = folding[model.linear_layers()[0].name].simd
    elements = int(np.prod(inq.out_shape))
    first = Stream("", simd0, inq.out_bits(), elements // simd0)
    axi_in = Stream("axis_in", simd0, inq.out_bits(), first.words_per_image)
    stages: list[Stage] = [InputStage(axi_in, first, axi_width(first.width))]
    cur = first
    for step in device_steps(model):
        lower = LOWERINGS.get(type(step.layer))
        if lower is None:
            raise ModelError(
                f"layer {step.layer.name} ({step.layer.kind}) has no hardware form",
                hint="it should have been fused by BatchShift; please report this model",
            )
        new = lower(step, folding, cur)
        stages += new
        if new:
            cur = new[-1].dst
    streams = [st.dst for st in stages if not st.dst.name]
    for i, s in enumerate(streams):
        s.name = "s_in" if i == 0 else f"s{i}"
    check_widths(stages)
    return Plan(stages, streams, first, model.scores.out_shape[-1], axi_width(first.width))


def check_widths(stages: list[Stage]) -> None:
    """Every word within MAX_WORD_BITS, the AXI-Stream input within the DMA's MAX_AXI_BITS."""
    if stages[0].dst.width > MAX_AXI_BITS:
        raise ModelError(
            f"the input stream carries {stages[0].dst.width} bits per word; the AXI DMA takes "
            f"at most {MAX_AXI_BITS}",
            hint="give the first layer a smaller SIMD",
        )
    for st in stages:
        if st.widest_word() > MAX_WORD_BITS:
            raise ModelError(
                f"stage {st.name} handles {st.widest_word()}-bit words; HLS and the stream "
                f"formats allow at most {MAX_WORD_BITS}",
                hint=f"give layer {st.layer_name} a smaller PE or SIMD",
            )
