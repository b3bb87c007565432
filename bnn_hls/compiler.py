"""The compile flow every command shares: read and import the model, run the passes in their
named order, and choose the folding (a folding file, or the optimiser)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx

from . import ir
from .dataflow.folding import Folding, load_folding, with_thresholds
from .dataflow.optimiser import DEFAULT_BUDGET, optimise, shared_kernel_mode
from .errors import ModelError
from .frontend import SourceInfo, import_model, load_onnx
from .passes import BatchShift, Pass, PassOptions, ResultSharing

log = logging.getLogger(__name__)

# the passes, in the order they run
PASSES: tuple[Pass, ...] = (BatchShift(), ResultSharing())


@dataclass
class Compiled:
    onnx_model: onnx.ModelProto
    info: SourceInfo
    unfused: ir.Model  # as imported: float BatchNorm/scale ops and signs
    model: ir.Model  # after the passes: integer-only between input quantiser and scores
    seconds: float
    options: PassOptions = field(default_factory=PassOptions)
    reports: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # by pass name

    @property
    def sharing(self) -> dict[str, Any]:
        """The result-sharing pass's report."""
        return self.reports.get("sharing") or {}


def compile_file(path: str | Path, options: PassOptions | None = None) -> Compiled:
    return compile_model(load_onnx(path), ir.sanitize(Path(path).name, 80), options)


def compile_model(
    onnx_model: onnx.ModelProto, name: str, options: PassOptions | None = None
) -> Compiled:
    """A loaded, checked ONNX model (`name`: its sanitised file name) through the frontend
    and the passes."""
    options = options or PassOptions()
    t0 = time.perf_counter()
    unfused, info = import_model(onnx_model, name, coeff_bits=options.coeff_bits)
    log.info("imported %d layers from %s", len(unfused.layers), name)
    model = unfused
    reports: dict[str, dict[str, Any] | None] = {}
    for p in PASSES:
        t1 = time.perf_counter()
        result = p.run(model, options)
        model, reports[p.name] = result.model, result.report
        log.info("pass %s: %.3f s", p.name, time.perf_counter() - t1)
    if not model.is_integer_only():
        raise AssertionError("float ops left between the input quantiser and the scores")
    return Compiled(onnx_model, info, unfused, model, time.perf_counter() - t0, options, reports)


@dataclass(frozen=True)
class FoldingRequest:
    """How the user asked for the folding: a file, a target rate, a budget, or nothing."""

    file: Path | None = None
    target_fps: float | None = None
    budget: float | None = None
    thresholds: str | None = None  # every layer's threshold style (None: the file's, or writable)

    @property
    def explicit(self) -> bool:
        return self.file is not None or self.target_fps is not None or self.budget is not None


@dataclass
class ChosenFolding:
    folding: Folding
    how: str  # for reports: where it came from


def choose_folding(c: Compiled, request: FoldingRequest) -> ChosenFolding:
    """The folding file, else the optimiser: the cheapest design for the target rate, or the
    fastest within the budget."""
    if request.file is not None:
        if request.target_fps is not None or request.budget is not None:
            raise ModelError("--folding cannot be combined with --target-fps or --budget")
        folding = load_folding(request.file, c.model)
        if request.thresholds is not None:
            folding = with_thresholds(folding, request.thresholds)
        return ChosenFolding(folding, f"from {request.file.name}")
    budget = DEFAULT_BUDGET if request.budget is None else request.budget
    shared_kernel = shared_kernel_mode(c.options.sharing.kind)
    target = request.target_fps
    res = optimise(
        c.model,
        target_fps=target,
        budget=budget,
        shared_kernel=shared_kernel,
        thresholds=request.thresholds or "writable",
    )
    if target is not None:
        how = f"optimiser: cheapest design for {target:,.0f} images/s within {budget:.0%}"
    else:
        how = f"optimiser: fastest design within {budget:.0%} of the xc7z020"
    return ChosenFolding(res.folding, how)
