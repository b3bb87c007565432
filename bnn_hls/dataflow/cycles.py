"""The cycle model: cycles per image of every stage (Stage.cycles) and the pipeline's
initiation interval (II), the slowest stage's. The RTL kernels reach exactly these numbers
when they are not stalled (docs/rtl.md); RTL simulation measures the II and the tests compare
the two."""

from __future__ import annotations

from dataclasses import dataclass

from .plan import Plan

CLOCK_HZ = 100e6  # the one clock every design, report and build uses
CLOCK_MHZ = round(CLOCK_HZ / 1e6)
CLOCK_PERIOD_NS = round(1e9 / CLOCK_HZ)


@dataclass
class StageCycles:
    name: str
    kind: str
    cycles: int  # per image, when neither starved nor blocked
    layer: str | None


def cycle_model(plan: Plan) -> list[StageCycles]:
    return [
        StageCycles(st.name, st.kind, st.cycles(), st.layer.name if st.layer else None)
        for st in plan.stages
    ]


def initiation_interval(plan: Plan) -> int:
    return max(st.cycles() for st in plan.stages)


def images_per_second(ii: float, clock_hz: float = CLOCK_HZ) -> float:
    """Throughput of a pipeline whose initiation interval is `ii` cycles."""
    return clock_hz / ii
