"""The generated hardware of a model at a folding, run in simulation: the HLS C++ compiled with
g++ (C-sim) or the RTL in Verilator (RTL-sim). Both take the packed input words the board's
DMA would send and return the integer scores; RTL-sim also measures cycles."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import golden, ir
from .backends.hls import write_hls_project
from .backends.rtl import write_rtl_project
from .csim import CSim
from .dataflow.cycles import images_per_second, initiation_interval
from .dataflow.folding import Folding
from .errors import ToolFailure

log = logging.getLogger(__name__)


@dataclass
class RtlSummary:
    """Cycle figures of an RTL simulation next to the analytic model."""

    cycles_per_image_measured: float | None
    cycles_per_image_model: int
    latency_cycles: int | None
    images_per_second_at_100MHz: float | None
    backpressure_run_agrees: bool
    verilator_build_s: float
    verilator_build_cached: bool
    simulation_s: float
    simulated_images_per_s: float  # the simulator's own speed, both runs counted
    harness: str  # the testbench: "native" (C++) or "cocotb"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def csim_scores(
    model: ir.Model, folding: Folding, x: np.ndarray, flavor: str = "vitis"
) -> np.ndarray:
    """Integer scores (N, classes) of the generated HLS C++ compiled with g++."""
    with tempfile.TemporaryDirectory(prefix="bnn-hls-verify-") as tmp:
        hls_dir = Path(tmp) / "hls"
        plan = write_hls_project(model, folding, hls_dir, flavor=flavor)
        sim = CSim(hls_dir)
        sim.build()
        words = plan.pack_inputs(golden.input_quant(model.input, x))
        log.info("running the C simulation on %d images...", len(x))
        return sim.run(words, len(x), plan.classes)


def rtlsim_scores(
    model: ir.Model, folding: Folding, x: np.ndarray, seed: int = 0
) -> tuple[np.ndarray, RtlSummary]:
    """Integer scores of the generated RTL in Verilator (a run without stalls, then one with
    random backpressure that must agree), and the measured cycles."""
    from .rtlsim.runner import RtlSim

    with tempfile.TemporaryDirectory(prefix="bnn-hls-rtlsim-") as tmp:
        plan = write_rtl_project(model, folding, Path(tmp) / "rtl")
        words = plan.pack_inputs(golden.input_quant(model.input, x))
        sim = RtlSim(Path(tmp) / "rtl", Path(tmp) / "build")
        res = sim.run(words, golden.run(model, x).acc, seed=seed)
        first = res.runs[0]
        errors = [r["error"] for r in res.runs if "error" in r]
        if errors:
            raise ToolFailure(f"RTL simulation stalled: {errors[0]}")
        measured = first.get("cycles_per_image")
        summary = RtlSummary(
            cycles_per_image_measured=measured,
            cycles_per_image_model=initiation_interval(plan),
            latency_cycles=first.get("latency_cycles"),
            images_per_second_at_100MHz=images_per_second(measured) if measured else None,
            backpressure_run_agrees=all(not r["mismatched_images"] for r in res.runs),
            verilator_build_s=round(res.build_seconds, 1),
            verilator_build_cached=res.build_cached,
            simulation_s=round(res.sim_seconds, 1),
            simulated_images_per_s=round(
                sum(r["images"] for r in res.runs) / max(res.sim_seconds, 1e-9), 1
            ),
            harness=res.harness,
        )
        if not summary.backpressure_run_agrees:
            raise ToolFailure(
                f"RTL simulation under random backpressure gave wrong scores: {res.runs}"
            )
        assert res.scores is not None
        return res.scores, summary
