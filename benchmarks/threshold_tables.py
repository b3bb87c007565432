"""What a writable threshold table costs over a constant one (Yosys synth_xilinx -family xc7),
and the resource model's `threshold_ram` coefficients fitted to it.

    .venv/bin/python benchmarks/threshold_tables.py [--jobs 1] [--no-update]

The same stages are synthesised twice, with `--thresholds writable` and `const`: the digits
CNN's threshold stages (the MVTU, and the result-sharing unit with --sharing exact) and three
stages of CNV-W2A2 (bnn_pynq's shape, random weights, the 1,206 images/s folding of
multibit_reference.md) with 64-word tables up to 312 bits wide. The difference per feature
unit (a table's width x ceil(depth / 64), resource_model.threshold_features) is fitted by
least squares through the origin per stage kind; `threshold_ram` = `threshold_rom` + that
difference. Writes benchmarks/results/threshold_tables.{json,md} and (unless --no-update)
the `threshold_ram` coefficients in bnn_hls/dataflow/resource_model.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import onnx

from bnn_hls.backends.rtl import write_rtl_project
from bnn_hls.compiler import Compiled, compile_file
from bnn_hls.dataflow import resource_model as rm
from bnn_hls.dataflow.folding import Fold, Folding, default_folding, with_thresholds
from bnn_hls.modelgen import ActQuant, WeightQuant, reference_topology
from bnn_hls.passes import PassOptions, parse_sharing
from bnn_hls.yosys import estimate_rtl

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
COMMAND = ".venv/bin/python benchmarks/threshold_tables.py --jobs 1"
# the CNV-W2A2 folding of benchmarks/results/multibit_reference.md's 1,206 images/s row
CNV_W2A2_FOLDING = {
    "l11_conv": (4, 8, "block", "bases"),
    "l16_dense": (8, 8, "block", "bases"),
    "l18_dense": (8, 16, "block", "bases"),
}


def cases(tmp: Path) -> list[tuple[str, Compiled, Folding, list[str]]]:
    """(name, compiled model, folding, layers measured)."""
    digits = ROOT / "examples" / "digits" / "digits_cnn.onnx"
    out = []
    for sharing in ("off", "exact"):
        c = compile_file(digits, PassOptions(sharing=parse_sharing(sharing)))
        folding = default_folding(c.model)
        layers = [layer.name for layer in c.model.linear_layers()[:-1]]  # the last: scores
        if sharing != "off":  # the stages the unit took (the others are measured above)
            layers = [name for name in layers if folding[name].kernel == "shared"]
        out.append((f"digits CNN, sharing {sharing}", c, folding, layers))
    path = tmp / "cnv_w2a2.onnx"
    onnx.save(
        reference_topology(
            "cnv", seed=1, act=ActQuant(2, True, False, 0.5), weights=WeightQuant(2, True, False)
        ),
        path,
    )
    c = compile_file(path)
    folding = default_folding(c.model)
    for name, (pe, simd, rom, kernel) in CNV_W2A2_FOLDING.items():
        folding[name] = Fold(pe=pe, simd=simd, rom=rom, kernel=kernel)
    out.append(("CNV-W2A2 (1,206 images/s folding)", c, folding, list(CNV_W2A2_FOLDING)))
    return out


def measure(tmp: Path, jobs: int) -> list[dict[str, Any]]:
    rows = []
    for name, c, folding, layers in cases(tmp):
        figures: dict[str, dict[str, Any]] = {}
        for style in ("writable", "const"):
            fold = with_thresholds(folding, style)
            rtl = tmp / f"rtl_{len(rows)}_{style}"
            plan = write_rtl_project(c.model, fold, rtl)
            stages = [s for s in plan.linear_stages() if s.layer.name in layers]
            for st, est in zip(
                stages,
                estimate_rtl(rtl, replace(plan, stages=stages), fifos=False, jobs_limit=jobs),
            ):
                key = "threshold_ram" if style == "writable" else "threshold_rom"
                units = st.resource_features().get(key)
                entry = figures.setdefault(
                    st.name, {"case": name, "stage": st.name, "kind": st.cost_kind}
                )
                entry[style] = {"lut": est.resources.lut, "ff": est.resources.ff}
                entry["units"] = units
                logging.info("%s %s %s: %s", name, st.name, style, entry[style])
        rows.extend(figures.values())
    return rows


def fit(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """{kind: {"lut": d, "ff": d}}: the writable-minus-const difference per feature unit."""
    out: dict[str, dict[str, float]] = {}
    for kind in sorted({r["kind"] for r in rows}):
        sel = [r for r in rows if r["kind"] == kind and r["units"]]
        uu = sum(r["units"] ** 2 for r in sel)
        out[kind] = {
            t: round(sum(r["units"] * (r["writable"][t] - r["const"][t]) for r in sel) / uu, 4)
            for t in ("lut", "ff")
        }
    return out


def write_results(rows: list[dict[str, Any]], deltas: dict[str, dict[str, float]]) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "threshold_tables.json").write_text(
        json.dumps({"command": COMMAND, "rows": rows, "deltas": deltas}, indent=1) + "\n"
    )
    lines = [
        "# Writable vs constant threshold tables (Yosys synth_xilinx -family xc7)",
        "",
        f"Command: `{COMMAND}`. Each stage synthesised alone with `--thresholds writable` and "
        "`const` (the same weights, folding and kernel); units: the table's width x "
        "ceil(depth / 64), the resource model's threshold feature. Not a Vivado result.",
        "",
        "| case | stage | units | LUT writable | LUT const | LUT diff / unit | FF writable "
        "| FF const | FF diff / unit |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        w, k, u = r["writable"], r["const"], r["units"] or 1
        lines.append(
            f"| {r['case']} | {r['stage']} | {r['units']:.0f} | {w['lut']} | {k['lut']} | "
            f"{(w['lut'] - k['lut']) / u:.2f} | {w['ff']} | {k['ff']} | "
            f"{(w['ff'] - k['ff']) / u:.2f} |"
        )
    lines += ["", "Fitted difference per unit (least squares through the origin):", ""]
    lines += [f"- {kind}: {d['lut']} LUT, {d['ff']} FF" for kind, d in deltas.items()]
    (RESULTS / "threshold_tables.md").write_text("\n".join(lines) + "\n")


def update_model(deltas: dict[str, dict[str, float]]) -> None:
    data = json.loads(rm.COEFFICIENTS_FILE.read_text())
    for kind, d in deltas.items():
        coef = data["coefficients"][kind]
        for t in ("lut", "ff"):
            coef[t]["threshold_ram"] = round(coef[t].get("threshold_rom", 0.0) + d[t], 4)
    data["threshold_ram_note"] = (
        "threshold_ram = threshold_rom + the writable-minus-const Yosys difference per feature "
        "unit, fitted by benchmarks/threshold_tables.py (benchmarks/results/threshold_tables.md) "
        "on the digits CNN's MVTUs and result-sharing units and three CNV-W2A2 stages; not yet "
        "refitted by make calibrate"
    )
    rm.COEFFICIENTS_FILE.write_text(json.dumps(data, indent=1) + "\n")
    rm.coefficients.cache_clear()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=1, help="Yosys runs at a time")
    ap.add_argument("--no-update", action="store_true", help="do not write resource_model.json")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory() as tmp:
        rows = measure(Path(tmp), args.jobs)
    deltas = fit(rows)
    write_results(rows, deltas)
    if not args.no_update:
        update_model(deltas)
    json.dump(deltas, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
