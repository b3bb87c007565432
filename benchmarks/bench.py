"""The benchmark harness (`make bench`): every example and reference topology at the folding
the optimiser picks within the default budget, plus issue 8's throughput targets.

    .venv/bin/python benchmarks/bench.py [--models tfc cnv ...] [--yosys all|targets|none]

Per model: cycles/image and images/s at 100 MHz measured in RTL simulation (Verilator with the
native C++ testbench; the cocotb bench on the same design for the speed ratio) next to the
analytic model, first-image latency, Yosys LUT/FF/BRAM/DSP next to the
resource model, compile time (ONNX to the complete build folder: HLS + RTL + Vivado, in process
and through the CLI), C-simulation and RTL-simulation images/s, golden model vs onnxruntime
images/s. Writes benchmarks/results/bench.{json,md} and bench_layers.png (per-layer cycles
and LUTs), with the machine and the tool versions. Yosys results are cached per stage
(~/.cache/bnn-hls/yosys), so only the first run of a large model takes long.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from golden_vs_onnxruntime import best_rates, ort_session
from machine import machine_info
from models import model_path

from bnn_hls import golden
from bnn_hls.backends.hls import write_hls_project
from bnn_hls.backends.vivado import write_build_folder
from bnn_hls.compiler import compile_file
from bnn_hls.csim import CSim
from bnn_hls.dataflow.cycles import CLOCK_HZ, initiation_interval
from bnn_hls.dataflow.optimiser import optimise
from bnn_hls.dataflow.resource_model import XC7Z020
from bnn_hls.report import folding_report
from bnn_hls.rtlsim.runner import RtlSim
from bnn_hls.verify import random_inputs
from bnn_hls.yosys import Resources, estimate_rtl

RESULTS = Path(__file__).resolve().parent / "results"
log = logging.getLogger("bench")


@dataclass
class Case:
    model: str
    target_fps: float | None = None  # None: the fastest design within the default budget
    rtl_images: int = 8  # through the native Verilator testbench
    cocotb_images: int = 4  # the same design through the cocotb bench, for the speed ratio
    csim_images: int = 200
    golden_images: int = 256

    @property
    def label(self) -> str:
        return self.model if self.target_fps is None else f"{self.model} @ {self.target_fps:,.0f}/s"


CASES = [
    Case("digits_mlp", rtl_images=5000, cocotb_images=50, csim_images=2000, golden_images=2000),
    Case("digits_cnn", rtl_images=2000, cocotb_images=20, csim_images=500, golden_images=1000),
    Case("tfc", rtl_images=5000, cocotb_images=50, csim_images=2000, golden_images=2000),
    Case("sfc", rtl_images=2000, cocotb_images=20, csim_images=1000, golden_images=1000),
    Case("lfc", rtl_images=1000, cocotb_images=10, csim_images=200, golden_images=500),
    Case("cnv", rtl_images=100, cocotb_images=3, csim_images=20, golden_images=128),
    Case(
        "tfc",
        target_fps=3_000_000,
        rtl_images=5000,
        cocotb_images=50,
        csim_images=0,
        golden_images=0,
    ),
    Case("cnv", target_fps=6_000, rtl_images=100, cocotb_images=3, csim_images=0, golden_images=0),
]


def compile_times(path: Path, target: float | None, work: Path) -> dict[str, float]:
    """ONNX -> build folder with HLS project, RTL and Vivado Tcl: in process (best of 3) and
    as the user runs it (`bnn-hls build --ip rtl`, one process, imports included)."""
    best = float("inf")
    for i in range(3):
        t0 = time.perf_counter()
        c = compile_file(path)
        res = optimise(c.model, target_fps=target)
        images = random_inputs(c.model.input, 16, seed=0)
        write_build_folder(c.model, res.folding, work / f"inproc{i}", images=images, ip="rtl")
        best = min(best, time.perf_counter() - t0)
    cmd = [sys.executable, "-m", "bnn_hls.cli", "-q", "build", str(path), "-o", str(work / "cli")]
    cmd += ["--ip", "rtl"] + (["--target-fps", str(target)] if target else [])
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    cli = time.perf_counter() - t0
    return {"in_process_s": round(best, 3), "cli_s": round(cli, 3)}


@contextlib.contextmanager
def no_build_cache() -> Iterator[None]:
    """Builds inside go to an empty cache folder: their time is a real compile."""
    old = os.environ.get("BNN_HLS_CACHE")
    with tempfile.TemporaryDirectory(prefix="bnn-bench-cache-") as tmp:
        os.environ["BNN_HLS_CACHE"] = tmp
        try:
            yield
        finally:
            if old is None:
                del os.environ["BNN_HLS_CACHE"]
            else:
                os.environ["BNN_HLS_CACHE"] = old


def run_case(case: Case, work: Path, yosys: bool) -> dict[str, Any]:
    folder = work / case.label.replace(" ", "").replace("@", "_").replace("/", "").replace(",", "")
    folder.mkdir(parents=True)
    path = model_path(case.model, folder)
    c = compile_file(path)
    res = optimise(c.model, target_fps=case.target_fps)
    folding = res.folding
    row: dict[str, Any] = {"case": case.label, "model": case.model, "target_fps": case.target_fps}
    log.info("%s: compile time", case.label)
    row["compile"] = compile_times(path, case.target_fps, folder)

    log.info("%s: RTL simulation", case.label)
    from bnn_hls.backends.rtl import write_rtl_project

    plan = write_rtl_project(c.model, folding, folder / "rtl")
    x = random_inputs(c.model.input, case.rtl_images, seed=0)
    words = plan.pack_inputs(golden.input_quant(c.model.input, x))
    expected = golden.run(c.model, x).acc
    sim = RtlSim(folder / "rtl", folder / "build", harness="native").run(
        words, expected, backpressure=False
    )
    run = sim.runs[0]
    measured = run.get("cycles_per_image")
    measured = int(measured) if measured else None
    # the same design through the cocotb bench (a Python coroutine per clock): the old path
    n_old = case.cocotb_images
    old = RtlSim(folder / "rtl", folder / "build_cocotb", harness="cocotb").run(
        words[: len(words) * n_old // case.rtl_images], expected[:n_old], backpressure=False
    )
    row["rtlsim"] = {
        "images": case.rtl_images,
        "bit_exact": bool(sim.scores_ok and old.scores_ok),
        "cycles_per_image": measured,
        "cycles_per_image_model": initiation_interval(plan),
        "images_per_s_at_100MHz": round(CLOCK_HZ / measured) if measured else None,
        "latency_cycles": run.get("latency_cycles"),
        "verilator_build_s": round(sim.build_seconds, 1),
        "sim_images_per_s": round(case.rtl_images / sim.sim_seconds, 2),
        "cocotb_images": n_old,
        "cocotb_sim_images_per_s": round(n_old / old.sim_seconds, 2),
    }

    report = folding_report(c.model, folding, "optimiser")
    row["folding"] = report
    if not yosys:
        row["yosys"] = None
    else:
        log.info("%s: Yosys (cached per stage)", case.label)
        stages = estimate_rtl(folder / "rtl", plan)
        total = Resources()
        for st in stages:
            total = total + st.resources
        per_layer: dict[str, int] = {}
        for st in stages:
            if st.layer:
                per_layer[st.layer] = per_layer.get(st.layer, 0) + st.resources.lut
        row["yosys"] = {
            "lut": total.lut,
            "ff": total.ff,
            "bram36": total.bram36,
            "dsp": total.dsp,
            "lut_per_layer": per_layer,
            "synth_s": round(sum(s.seconds for s in stages if not s.cached), 1),
        }
    _, model_total = plan.resource_estimate()
    row["resource_model"] = {
        "lut": round(model_total.lut),
        "ff": round(model_total.ff),
        "bram36": model_total.bram36,
    }

    if case.csim_images:
        log.info("%s: C simulation", case.label)
        hls = write_hls_project(c.model, folding, folder / "hls")
        csim = CSim(folder / "hls")
        with no_build_cache():
            csim.build()
        build_s = csim.build_seconds
        csim.build()  # again: from the build cache
        xs = random_inputs(c.model.input, case.csim_images, seed=1)
        words = hls.pack_inputs(golden.input_quant(c.model.input, xs))
        expected = golden.run(c.model, xs).acc
        rates = {}
        for jobs in (1, None):  # one process (the old path), then a shard per core
            t0 = time.perf_counter()
            scores = csim.run(words, len(xs), hls.classes, jobs=jobs)
            rates[jobs] = round(case.csim_images / (time.perf_counter() - t0), 1)
            assert np.array_equal(scores, expected), "C-sim differs from golden"
        row["csim"] = {
            "images": case.csim_images,
            "images_per_s": rates[None],
            "images_per_s_one_process": rates[1],
            "gxx_build_s": round(build_s, 1),
            "cached_build": csim.build_cached,
        }
    if case.golden_images:
        log.info("%s: golden model vs onnxruntime", case.label)
        xg = random_inputs(c.model.input, case.golden_images, seed=2)
        sess = ort_session(c.onnx_model, True)
        feed = sess.get_inputs()[0].name
        fixed_batch = sess.get_inputs()[0].shape[0] == 1

        def run_ort() -> None:
            if fixed_batch:  # an export with batch 1: one image per call
                for i in range(len(xg)):
                    sess.run(None, {feed: xg[i : i + 1]})
            else:
                sess.run(None, {feed: xg})

        rates = best_rates(
            {
                "golden_images_per_s": lambda: golden.run(c.model, xg),
                "onnxruntime_images_per_s": run_ort,
            },
            len(xg),
            5,
        )
        row["golden"] = {"images": case.golden_images, **rates}
    return row


def fmt(v: Any, spec: str = ",") -> str:
    if v is None:
        return "-"
    return format(v, spec)


def markdown(doc: dict[str, Any]) -> str:
    lines = [
        "# Benchmarks (`make bench`)",
        "",
        f"Command: `{doc['command']}`  ",
        f"Machine: {doc['machine']}",
        "",
        "Cycles are measured in RTL simulation at 100 MHz (Verilator, native C++ testbench), not "
        "on a board; RTL-sim images/s: the native testbench and the cocotb bench on the same "
        "design in the same run (simulation only, builds excluded); "
        "resources are Yosys `synth_xilinx -family xc7` estimates of the generated RTL, not "
        "Vivado results. Folding: the optimiser's, within 70 % of the xc7z020 unless a target "
        "is named.",
        "",
        "| case | cycles/image (RTL-sim = model) | images/s @100 MHz | latency cycles | "
        "LUT (Yosys) | FF | BRAM36 | DSP | LUT (model) | efficiency | compile s (in-proc / CLI) | "
        "C-sim img/s (a process per core / one) | RTL-sim img/s (native / cocotb) | golden img/s | "
        "onnxruntime img/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in doc["results"]:
        s, y = r["rtlsim"], r["yosys"] or {}
        same = "=" if s["cycles_per_image"] == s["cycles_per_image_model"] else "!="
        lines.append(
            f"| {r['case']} | {fmt(s['cycles_per_image'])} {same} "
            f"{fmt(s['cycles_per_image_model'])} | {fmt(s['images_per_s_at_100MHz'])} | "
            f"{fmt(s['latency_cycles'])} | {fmt(y.get('lut'))} | {fmt(y.get('ff'))} | "
            f"{fmt(y.get('bram36'))} | {fmt(y.get('dsp'))} | {fmt(r['resource_model']['lut'])} | "
            f"{r['folding']['efficiency']:.0%} | {r['compile']['in_process_s']} / "
            f"{r['compile']['cli_s']} | {fmt(r.get('csim', {}).get('images_per_s'))} / "
            f"{fmt(r.get('csim', {}).get('images_per_s_one_process'))} | "
            f"{fmt(s['sim_images_per_s'])} / {fmt(s.get('cocotb_sim_images_per_s'))} | "
            f"{fmt(r.get('golden', {}).get('golden_images_per_s'))} | "
            f"{fmt(r.get('golden', {}).get('onnxruntime_images_per_s'))} |"
        )
    lines += ["", "Foldings (PE x SIMD, ROM) per layer:", ""]
    for r in doc["results"]:
        folds = ", ".join(
            f"{x['name']} {x['pe']}x{x['simd']} {x['rom']}" for x in r["folding"]["layers"]
        )
        lines.append(f"- {r['case']}: {folds}")
    lines += ["", f"xc7z020: {XC7Z020}", "", "![per-layer cycles and LUTs](bench_layers.png)"]
    return "\n".join(lines) + "\n"


def plot(doc: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = doc["results"]
    fig, axes = plt.subplots(len(results), 2, figsize=(12, 2.6 * len(results)), squeeze=False)
    for (ax_c, ax_l), r in zip(axes, results):
        layers = r["folding"]["layers"]
        names = [x["name"] for x in layers]
        pos = np.arange(len(names))
        ax_c.bar(pos, [x["cycles"] for x in layers], color="tab:blue")
        ax_c.axhline(r["folding"]["cycles_per_image"], color="tab:red", lw=1, ls="--")
        ax_c.set_title(f"{r['case']}: cycles per image per layer (dashed: II)", fontsize=9)
        y = r["yosys"] or {}
        yosys = [y.get("lut_per_layer", {}).get(n, 0) for n in names]
        ax_l.bar(pos - 0.2, yosys, 0.4, label="Yosys", color="tab:green")
        ax_l.bar(pos + 0.2, [x["lut"] for x in layers], 0.4, label="model", color="tab:gray")
        ax_l.set_title(f"{r['case']}: LUTs per layer", fontsize=9)
        ax_l.legend(fontsize=7)
        for ax in (ax_c, ax_l):
            ax.set_xticks(pos)
            ax.set_xticklabels(names, rotation=30, fontsize=7, ha="right")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="*", help="only these models (default: all cases)")
    ap.add_argument(
        "--yosys",
        choices=["all", "targets", "none"],
        default="all",
        help="which cases to synthesise with Yosys (targets: only the target-FPS cases)",
    )
    args = ap.parse_args()
    cases = [c for c in CASES if not args.models or c.model in args.models]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bnn-bench-") as tmp:
        results = [
            run_case(
                case,
                Path(tmp),
                args.yosys == "all" or (args.yosys == "targets" and case.target_fps is not None),
            )
            for case in cases
        ]
    command = (
        "make bench"
        if not args.models and args.yosys == "all"
        else ".venv/bin/python " + " ".join(["benchmarks/bench.py", *sys.argv[1:]])
    )
    doc = {
        "command": command,
        "machine": machine_info(),
        "seconds": round(time.perf_counter() - t0, 1),
        "results": results,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench.json").write_text(json.dumps(doc, indent=1) + "\n")
    (RESULTS / "bench.md").write_text(markdown(doc))
    plot(doc, RESULTS / "bench_layers.png")
    print(markdown(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
