"""Refit the resource model's three bases features (base_pair_bits, base_coeff_adders,
input_base_bits: the MVTU over binary bases) on every Yosys measurement of a bases stage this
repository has recorded: the small layers of benchmarks/bases_mvtu.py (LUT ROMs, constant
thresholds) and the CNV layers of benchmarks/multibit_reference.py --yosys (deep LUT ROMs or
block RAM, writable thresholds: where the first fit under-counted by 25-60 %).

    .venv/bin/python benchmarks/refit_bases.py [--no-update]

No synthesis runs here: the rows are read from benchmarks/results/bases_mvtu.json and
multibit_reference.json (each row: the stage's resource features and Yosys' LUT and FF). The
fit is non-negative least squares of the residual above the rest of the model, each row
weighted by 1 / its Yosys figure, so that a 20,000-LUT CNV layer and a 300-LUT test layer
count alike (relative error). Writes benchmarks/results/bases_refit.{json,md} and, unless
--no-update, the three coefficients in bnn_hls/dataflow/resource_model.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bases_mvtu import NEW_FEATURES, base_estimate, mean_abs, model_with, nnls

from bnn_hls.dataflow import resource_model as rm

RESULTS = Path(__file__).resolve().parent / "results"
COMMAND = ".venv/bin/python benchmarks/refit_bases.py"
NOTE_KEY = "bases_note"
TARGETS = ("lut", "ff")


def recorded_rows() -> list[dict[str, Any]]:
    """Every recorded bases stage: {"source", "stage", "features", "lut", "ff"}."""
    rows = []
    small = json.loads((RESULTS / "bases_mvtu.json").read_text())
    for r in small["rows"]:
        if r["kernel"] == "bases":
            rows.append(
                {
                    "source": f"bases_mvtu {r['group']} {r['layer']} PE {r['pe']} x SIMD "
                    f"{r['simd']}",
                    "features": r["features"],
                    "lut": r["lut"],
                    "ff": r["ff"],
                }
            )
    reference = json.loads((RESULTS / "multibit_reference.json").read_text())
    for case in reference:
        for s in case.get("stages", []):
            if s["cost_kind"] == "mvtu" and s["features"].get("base_pair_bits", 0) > 0:
                rows.append(
                    {
                        "source": f"{case['case']} {s['stage']}",
                        "features": s["features"],
                        "lut": s["yosys_lut"],
                        "ff": s["yosys_ff"],
                    }
                )
    return rows


def fit(rows: list[dict[str, Any]], target: str) -> dict[str, float]:
    """The three coefficients: relative-error NNLS of the residual above the base estimate."""
    w = np.array([1.0 / max(r[target], 1) for r in rows])
    a = np.array([[r["features"].get(f, 0.0) for f in NEW_FEATURES] for r in rows]) * w[:, None]
    resid = np.array([r[target] - base_estimate(r["features"], target) for r in rows]) * w
    return {f: round(float(v), 4) for f, v in zip(NEW_FEATURES, nnls(a, resid))}


def relative_error(row: dict[str, Any], target: str, coef: dict[str, float]) -> float:
    return (model_with(row["features"], target, coef) - row[target]) / row[target]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--no-update", action="store_true", help="leave resource_model.json as is")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rows = recorded_rows()
    current = rm.coefficients()["mvtu"]
    before = {t: {f: current[t].get(f, 0.0) for f in NEW_FEATURES} for t in TARGETS}
    after = {t: fit(rows, t) for t in TARGETS}
    for r in rows:
        r["error_before"] = {t: round(relative_error(r, t, before[t]), 3) for t in TARGETS}
        r["error_after"] = {t: round(relative_error(r, t, after[t]), 3) for t in TARGETS}
        others = [o for o in rows if o is not r]
        r["error_loo"] = {t: round(relative_error(r, t, fit(others, t)), 3) for t in TARGETS}
    summary = {
        f"{t.upper()} {what}": round(mean_abs([r[key][t] for r in rows]), 3)
        for t in TARGETS
        for what, key in (
            ("before", "error_before"),
            ("after", "error_after"),
            ("leave-one-out", "error_loo"),
        )
    }
    doc = {
        "command": COMMAND + (" --no-update" if args.no_update else ""),
        "adopted": not args.no_update,
        "coefficients_before": before,
        "coefficients_after": after,
        "mean_abs_error": summary,
        "rows": rows,
    }
    (RESULTS / "bases_refit.json").write_text(json.dumps(doc, indent=1) + "\n")
    (RESULTS / "bases_refit.md").write_text(markdown(doc))
    if not args.no_update:
        coeffs = json.loads(rm.COEFFICIENTS_FILE.read_text())
        for t in TARGETS:
            coeffs["coefficients"]["mvtu"][t].update(after[t])
        coeffs[NOTE_KEY] = (
            "base_pair_bits, base_coeff_adders, input_base_bits (the MVTU over binary bases): "
            "relative-error non-negative least squares of the bases stages' Yosys LUT/FF above "
            "the rest of the model, on the small layers of benchmarks/bases_mvtu.py and the CNV "
            "layers of benchmarks/multibit_reference.py --yosys (benchmarks/refit_bases.py, "
            "results/bases_refit.md)"
        )
        rm.COEFFICIENTS_FILE.write_text(json.dumps(coeffs, indent=1) + "\n")
    logging.info("before %s\nafter %s\n%s", before, after, summary)


def markdown(doc: dict[str, Any]) -> str:
    lines = [
        "# Refit of the resource model's bases features on every recorded Yosys run",
        "",
        f"Command: `{doc['command']}` (no synthesis: the rows of results/bases_mvtu.json and",
        "the per-stage Yosys figures of results/multibit_reference.json). Error = (model -",
        "Yosys) / Yosys with the coefficients before and after this fit; LOO: the error when",
        "the fit leaves that row out.",
        "",
        "These coefficients were written to resource_model.json."
        if doc["adopted"]
        else "Not adopted (--no-update): resource_model.json keeps the coefficients before.",
        "",
        "| stage | Yosys LUT | LUT error before -> after (LOO) | Yosys FF | "
        "FF error before -> after (LOO) |",
        "|---|---|---|---|---|",
    ]
    for r in doc["rows"]:
        cells = []
        for t in TARGETS:
            b, a, loo = r["error_before"][t], r["error_after"][t], r["error_loo"][t]
            cells.append(f"{r[t]:,} | {100 * b:+.0f} % -> {100 * a:+.0f} % ({100 * loo:+.0f} %)")
        lines.append(f"| {r['source']} | {cells[0]} | {cells[1]} |")
    lines += [
        "",
        "| coefficient | LUT before | LUT after | FF before | FF after |",
        "|---|---|---|---|---|",
    ]
    for f in NEW_FEATURES:
        b, a = doc["coefficients_before"], doc["coefficients_after"]
        lines.append(f"| {f} | {b['lut'][f]} | {a['lut'][f]} | {b['ff'][f]} | {a['ff'][f]} |")
    lines += ["", "Mean |error| over these rows:", ""]
    lines += [f"- {k}: {100 * v:.0f} %" for k, v in doc["mean_abs_error"].items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
