"""Analytic performance model of the streaming pipeline: cycles per image of every stage from
the folding and the shapes; the pipeline's initiation interval (II) is the slowest stage's.
The RTL kernels are built so that each one reaches exactly these numbers when it is not
stalled (docs/rtl.md); the RTL simulation measures the II and the tests compare the two."""

from __future__ import annotations

from dataclasses import dataclass

from . import ir
from .backends.plan import Plan, Stage

CLOCK_HZ = 100e6


@dataclass
class StageCycles:
    name: str
    kind: str
    cycles: int  # per image, when neither starved nor blocked
    layer: str | None


def window_fill_words(layer: ir.Conv, elems: int) -> int:
    """Input words a sliding window must hold before its first window (its first rows)."""
    h, w, c = layer.in_shape
    return min(h, layer.kernel[0] - layer.pads[0]) * w * (c // elems)


def shared_steps(layer: ir.Conv, pe: int, simd: int) -> int:
    """Cycles per output pixel of a result-sharing unit: it collects a window's words while it
    issues the previous window's output steps (hw/rtl/bnn_share_ctrl.sv)."""
    return max(layer.out_channels // pe, layer.fan_in // simd)


def stage_cycles(st: Stage) -> int:
    if st.kind == "mvtu":
        layer = st.layer
        assert isinstance(layer, ir.Linear)
        nf = layer.out_channels // st.params["pe"]
        sf = layer.fan_in // st.params["simd"]
        return int(st.params["pixels"]) * nf * sf
    if st.kind == "shared":
        layer = st.layer
        assert isinstance(layer, ir.Conv)
        return int(st.params["pixels"]) * shared_steps(layer, st.params["pe"], st.params["simd"])
    if st.kind == "window":
        layer = st.layer
        assert isinstance(layer, ir.Conv)
        h, w, c = layer.in_shape
        oh, ow, _ = layer.out_shape
        cw = c // st.dst.elems
        taps = layer.kernel[0] * layer.kernel[1] * cw
        # loading overlaps emitting, except for the first rows of each image
        return max(h * w * cw, window_fill_words(layer, st.dst.elems) + oh * ow * taps)
    if st.kind in ("input", "gather", "pool"):
        return st.src.words_per_image
    if st.kind == "split":
        return st.dst.words_per_image
    assert st.kind == "output"
    return st.dst.words_per_image


def cycle_model(plan: Plan) -> list[StageCycles]:
    return [
        StageCycles(
            st.name, st.kind, stage_cycles(st), st.layer.name if st.layer is not None else None
        )
        for st in plan.stages
    ]


def initiation_interval(plan: Plan) -> int:
    return max(s.cycles for s in cycle_model(plan))


def images_per_second(ii: float, clock_hz: float = CLOCK_HZ) -> float:
    return clock_hz / ii
