"""RTL simulation of the generated accelerator (Verilator + cocotb): cycles per image measured
and modelled, first-image latency, images/s at 100 MHz, Verilator build and simulation times.

    .venv/bin/python benchmarks/rtlsim.py [--models tfc cnv] [--images 50 4]

Writes benchmarks/results/rtlsim.{json,md}. Default folding, random inputs.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import onnx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info

from bnn_hls import golden
from bnn_hls.backends.hls import device_inputs, pack_device_inputs
from bnn_hls.backends.rtl import write_rtl_project
from bnn_hls.compiler import compile_file
from bnn_hls.estimate import CLOCK_HZ, initiation_interval
from bnn_hls.folding import default_folding
from bnn_hls.modelgen import reference_topology
from bnn_hls.rtlsim.runner import RtlSim
from bnn_hls.verify import random_inputs

RESULTS = Path(__file__).resolve().parent / "results"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def model_path(name: str, folder: Path) -> Path:
    local = {
        "digits_mlp": EXAMPLES / "digits" / "digits_mlp.onnx",
        "digits_cnn": EXAMPLES / "digits" / "digits_cnn.onnx",
    }
    if name in local:
        return local[name]
    path = folder / f"{name}.onnx"
    onnx.save(reference_topology(name), path)
    return path


def bench(name: str, images: int, folder: Path) -> dict[str, object]:
    c = compile_file(model_path(name, folder))
    folding = default_folding(c.model)
    plan = write_rtl_project(c.model, folding, folder / name / "rtl")
    x = random_inputs(c.model.input, images, seed=0)
    words = pack_device_inputs(plan, device_inputs(c.model, x))
    res = RtlSim(folder / name / "rtl", folder / name / "build").run(
        words, golden.run(c.model, x).acc, backpressure=False
    )
    run = res.runs[0]
    measured = run.get("cycles_per_image")
    return {
        "model": name,
        "images": images,
        "bit_exact": res.scores_ok,
        "cycles_per_image_measured": measured,
        "cycles_per_image_model": initiation_interval(plan),
        "latency_cycles": run.get("latency_cycles"),
        "images_per_s_at_100MHz": round(CLOCK_HZ / measured) if measured else None,
        "verilator_build_s": round(res.build_seconds, 1),
        "simulation_s": round(res.sim_seconds, 1),
        "folding": {k: [v.pe, v.simd] for k, v in folding.items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="*", default=["digits_mlp", "digits_cnn", "tfc", "cnv"])
    ap.add_argument("--images", nargs="*", type=int, default=[50, 20, 50, 4])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [bench(m, n, Path(tmp)) for m, n in zip(args.models, args.images)]
    command = (
        f".venv/bin/python benchmarks/rtlsim.py --models {' '.join(args.models)} "
        f"--images {' '.join(map(str, args.images))}"
    )
    doc = {"command": command, "machine": machine_info(), "results": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "rtlsim.json").write_text(json.dumps(doc, indent=2) + "\n")
    lines = [
        "# RTL simulation of the generated accelerator (Verilator 5.48 + cocotb 2.1)",
        "",
        f"Command: `{command}`  ",
        f"Machine: {doc['machine']}",
        "",
        "Simulated cycles at 100 MHz, not a board measurement.",
        "",
        "| model | images | bit-exact | cycles/image measured | model | latency cycles | "
        "images/s @100 MHz | Verilator build s | simulation s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['images']} | {r['bit_exact']} | "
            f"{r['cycles_per_image_measured']} | {r['cycles_per_image_model']} | "
            f"{r['latency_cycles']} | {r['images_per_s_at_100MHz']:,} | "
            f"{r['verilator_build_s']} | {r['simulation_s']} |"
        )
    (RESULTS / "rtlsim.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
