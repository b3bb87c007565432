"""C-simulation speed of the generated HLS C++ (g++ build time and images/s).

    .venv/bin/python benchmarks/csim_speed.py [--models tfc cnv] [--images 2000 200]

Writes benchmarks/results/csim_speed.{json,md}. Default folding; inputs are random.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info

from bnn_hls import golden
from bnn_hls.backends.hls import device_inputs, pack_device_inputs, write_hls_project
from bnn_hls.compiler import compile_file
from bnn_hls.csim import CSim
from bnn_hls.folding import default_folding
from bnn_hls.modelgen import reference_topology
from bnn_hls.verify import random_inputs

RESULTS = Path(__file__).resolve().parent / "results"


def bench(name: str, images: int, folder: Path) -> dict[str, object]:
    path = folder / f"{name}.onnx"
    onnx.save(reference_topology(name), path)
    c = compile_file(path)
    folding = default_folding(c.model)
    t0 = time.perf_counter()
    plan = write_hls_project(c.model, folding, folder / f"{name}_hls")
    generate_s = time.perf_counter() - t0
    sim = CSim(folder / f"{name}_hls")
    sim.build()
    x = random_inputs(c.model.input, images, seed=0)
    words = pack_device_inputs(plan, device_inputs(c.model, x))
    t0 = time.perf_counter()
    scores = sim.run(words, images, plan.classes)
    run_s = time.perf_counter() - t0
    assert np.array_equal(scores, golden.run(c.model, x).acc)
    return {
        "model": name,
        "images": images,
        "generate_s": round(generate_s, 3),
        "gxx_build_s": round(sim.build_seconds, 2),
        "run_s": round(run_s, 2),
        "img_per_s": round(images / run_s, 1),
        "folding": {k: [v.pe, v.simd] for k, v in folding.items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="*", default=["tfc", "cnv"])
    ap.add_argument("--images", nargs="*", type=int, default=[2000, 200])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [bench(m, n, Path(tmp)) for m, n in zip(args.models, args.images)]
    command = (
        f".venv/bin/python benchmarks/csim_speed.py --models {' '.join(args.models)} "
        f"--images {' '.join(map(str, args.images))}"
    )
    doc = {"command": command, "machine": machine_info(), "results": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "csim_speed.json").write_text(json.dumps(doc, indent=2) + "\n")
    lines = [
        "# C simulation of the generated HLS C++ (g++ -O2)",
        "",
        f"Command: `{command}`  ",
        f"Machine: {doc['machine']}",
        "",
        "| model | images | generate s | g++ build s | run s | images/s |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['images']} | {r['generate_s']} | {r['gxx_build_s']} "
            f"| {r['run_s']} | {r['img_per_s']} |"
        )
    (RESULTS / "csim_speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
