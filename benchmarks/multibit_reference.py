"""The field's multi-bit reference networks on the xc7z020 at 100 MHz (issue: CNV-W1A2,
CNV-W2A2, TFC-W2A2 as Brevitas' bnn_pynq defines them, random weights and BatchNorm): the
folding the optimiser picks (the MVTU's small products or the MVTU over binary bases per
layer), cycles per image from the native RTL simulation (bit-exact against the golden model),
the resource model, and optionally Yosys (synth_xilinx -family xc7, per stage), next to FINN's
published figures.

    .venv/bin/python benchmarks/multibit_reference.py [--yosys] [--jobs 1] [--images 3]

Writes benchmarks/results/multibit_reference.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any

import onnx

from bnn_hls.backends.rtl import write_rtl_project
from bnn_hls.compiler import FoldingRequest, choose_folding, compile_file
from bnn_hls.dataflow.cycles import images_per_second
from bnn_hls.dataflow.lowering import build_plan
from bnn_hls.modelgen import ActQuant, WeightQuant, reference_topology
from bnn_hls.report import folding_report
from bnn_hls.verify import verify
from bnn_hls.yosys import estimate_rtl

RESULTS = Path(__file__).resolve().parent / "results"
XC7Z020_LUT, XC7Z020_BRAM36 = 53_200, 140
# bnn_pynq's 2-bit activations (signed, 4 levels) and ternary 2-bit weights (narrow)
A2 = ActQuant(2, True, False, 0.5)
W2 = WeightQuant(2, True, False)
CASES: list[tuple[str, str, WeightQuant | None, float | None, float | None]] = [
    # (name, topology, weights, target images/s or None: the fastest, budget or None: 70 %)
    ("CNV-W1A2", "cnv", None, None, None),
    ("CNV-W2A2", "cnv", W2, None, None),
    ("CNV-W2A2 @ 3,000 images/s, whole device", "cnv", W2, 3000.0, 1.0),
    # the resource model over-counts these designs' LUTs (Yosys): the cheapest 3,000 images/s
    # design that the model puts within 75 % is checked against 70 % by Yosys
    ("CNV-W2A2 @ 3,000 images/s, 75 % by the model", "cnv", W2, 3000.0, 0.75),
    ("TFC-W2A2", "tfc", W2, None, None),
]
# FINN's figures, as the issue quotes them (not measured here)
FINN = {
    "CNV-W1A2": "BNN-PYNQ: 82.7 % CIFAR-10 on board",
    "CNV-W2A2": "BNN-PYNQ: 84.3 % CIFAR-10; finn-examples: 3,031 images/s (larger Zynq "
    "UltraScale+ part)",
}


def run_case(
    name: str,
    topology: str,
    weights: WeightQuant | None,
    target: float | None,
    budget: float | None,
    args: Any,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.onnx"
        onnx.save(reference_topology(topology, seed=1, act=A2, weights=weights), path)
        c = compile_file(path)
        chosen = choose_folding(c, FoldingRequest(target_fps=target, budget=budget))
        folding = chosen.folding
        plan = build_plan(c.model, folding)
        total = folding_report(c.model, folding, "optimiser")["model_estimate"]
        summary = verify(c, level="rtlsim", random=args.images, folding=folding)
        assert summary.passed and summary.rtl is not None, summary.to_json()
        row: dict[str, Any] = {
            "case": name,
            "kernels": {layer: f.kernel for layer, f in folding.items()},
            "folding": {layer: [f.pe, f.simd, f.rom] for layer, f in folding.items()},
            "cycles_model": summary.rtl.cycles_per_image_model,
            "cycles_rtl": summary.rtl.cycles_per_image_measured,
            "images_per_s": images_per_second(summary.rtl.cycles_per_image_model),
            "model_lut": total["lut"],
            "model_bram36": total["bram36"],
            "rtl_images_bit_exact": summary.report.device_vs_golden,
            "budget": budget or 0.7,
            "finn": FINN.get(name.split(" @")[0], ""),
        }
        if args.yosys and (not args.yosys_cases or name in args.yosys_cases):
            rtl = Path(tmp) / "rtl"
            write_rtl_project(c.model, folding, rtl)
            stages = estimate_rtl(rtl, plan, jobs_limit=args.jobs)
            row["yosys_lut"] = sum(s.resources.lut for s in stages)
            row["yosys_bram36"] = sum(s.resources.bram36 for s in stages)
            # per stage: Yosys next to the resource model and its features (what a refit of
            # the model's coefficients reads: benchmarks/bases_mvtu.py --refit-from)
            by_name = {st.name: st for st in plan.stages}
            row["stages"] = [
                {
                    "stage": s.name,
                    "cost_kind": by_name[s.name].cost_kind,
                    "yosys_lut": s.resources.lut,
                    "yosys_ff": s.resources.ff,
                    "yosys_bram36": s.resources.bram36,
                    "model_lut": round(by_name[s.name].resource_estimate().lut),
                    "model_bram36": by_name[s.name].block_ram(),
                    "features": by_name[s.name].resource_features(),
                }
                for s in stages
                if s.name in by_name
            ]
        logging.info("%s: %s", name, row)
        return row


def cycle_note(rows: list[dict[str, Any]]) -> str:
    """Whether the measured cycles equal the cycle model, naming the rows where they do not."""
    off = [
        f"{r['case']} {100 * (r['cycles_rtl'] / r['cycles_model'] - 1):+.1f} %"
        for r in rows
        if r["cycles_rtl"] != r["cycles_model"]
    ]
    if not off:
        return "measured cycles equal the cycle model."
    return (
        "measured cycles equal the cycle model except "
        + ", ".join(off)
        + " (a sliding window waiting at the image boundary for a slow producer: "
        "docs/performance.md)."
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--yosys", action="store_true", help="synthesise every stage with Yosys")
    ap.add_argument(
        "--yosys-cases",
        nargs="*",
        metavar="NAME",
        help="with --yosys: only these cases (exact names; default: all)",
    )
    ap.add_argument(
        "--cases",
        nargs="*",
        metavar="NAME",
        help="run only these cases (exact names) and keep the other rows of the last results",
    )
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--images", type=int, default=8, help="random images through the RTL")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    command = shlex.join([".venv/bin/python", "benchmarks/multibit_reference.py", *sys.argv[1:]])
    kept: dict[str, dict[str, Any]] = {}
    if args.cases:
        unknown = set(args.cases) - {case[0] for case in CASES}
        if unknown:
            ap.error(f"unknown cases: {sorted(unknown)}")
        old = RESULTS / "multibit_reference.json"
        kept = {r["case"]: r for r in json.loads(old.read_text())} if old.exists() else {}
    rows = []
    for case in CASES:
        if args.cases and case[0] not in args.cases:
            if case[0] in kept:
                rows.append(kept[case[0]])
            continue
        rows.append({**run_case(*case, args), "command": command})
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "multibit_reference.json").write_text(json.dumps(rows, indent=1) + "\n")
    yosys_rows = any("yosys_lut" in r for r in rows)
    lines = [
        "# Multi-bit reference networks on the xc7z020 at 100 MHz",
        "",
        "Commands: "
        + ", ".join(
            f"`{c}` ({', '.join(r['case'] for r in rows if r.get('command') == c)})"
            for c in dict.fromkeys(r.get("command", "") for r in rows)
        )
        + ". Random weights and BatchNorm (bnn_pynq shapes: 2-bit signed activations, ternary",
        "2-bit weights for W2); the optimiser's folding (fastest design within 70 % of the",
        "xc7z020 by the resource model, or the cheapest at the target rate). Cycles: the native",
        "RTL simulation (Verilator), every image bit-exact against the golden model; "
        + cycle_note(rows)
        + " LUT/BRAM: the resource model"
        + (
            " and Yosys (synth_xilinx -family xc7, per stage, no place and route)"
            if yosys_rows
            else ""
        )
        + ". Not a board measurement.",
        "",
        "| case | kernels (mvtu / bases) | cycles/image (RTL-sim / model) | images/s | "
        "LUT (model) | BRAM36 (model) | "
        + ("LUT (Yosys) | BRAM36 (Yosys) | " if yosys_rows else "")
        + "FINN (published) |",
        "|---|---|---|---|---|---|" + ("---|---|" if yosys_rows else "") + "---|",
    ]
    for r in rows:
        kinds = list(r["kernels"].values())
        kernels = f"{kinds.count('mvtu')} / {kinds.count('bases')}"
        yosys = ""
        if yosys_rows:
            yosys = (
                f"{r['yosys_lut']:,.0f} ({100 * r['yosys_lut'] / XC7Z020_LUT:.0f} %) | "
                f"{r['yosys_bram36']:.1f} | "
                if "yosys_lut" in r
                else "- | - | "
            )
        lines.append(
            f"| {r['case']} | {kernels} | {r['cycles_rtl']:,.0f} / {r['cycles_model']:,} | "
            f"{r['images_per_s']:,.0f} | "
            f"{r['model_lut']:,} ({100 * r['model_lut'] / XC7Z020_LUT:.0f} %) | "
            f"{r['model_bram36']:.1f} | {yosys}{r['finn']} |"
        )
    (RESULTS / "multibit_reference.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
