"""What `bnn-hls compile` writes into its output folder: the IR, the HLS project (with sample
data for the tool's C simulation), the RTL, the folding and the reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .. import ir
from ..dataflow.folding import Folding, folding_to_json
from ..report import format_folding, format_report
from ..verify import random_inputs
from .hls import write_hls_project
from .rtl import write_rtl_project

CSIM_SAMPLES = 8


def write_compile_folder(
    model: ir.Model,
    folding: Folding,
    report: dict[str, Any],
    folder: Path,
    *,
    flavor: str = "vitis",
    input_dtype: str = "float32",
) -> None:
    """report: the inspect report with its "folding" section (report.py)."""
    model.save(folder / "ir")
    samples = random_inputs(model.input, CSIM_SAMPLES, seed=0, dtype=input_dtype)
    write_hls_project(model, folding, folder / "hls", flavor=flavor, csim_inputs=samples)
    write_rtl_project(model, folding, folder / "rtl")
    (folder / "folding.json").write_text(json.dumps(folding_to_json(folding), indent=2) + "\n")
    (folder / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (folder / "report.txt").write_text(
        format_report(report) + "\n\n" + format_folding(report["folding"]) + "\n"
    )
