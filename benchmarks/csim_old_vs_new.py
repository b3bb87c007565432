"""C simulation images/s of CNV: the code as it was when issue 20 was filed next to today's, in
one run on one machine.

    python benchmarks/csim_old_vs_new.py [--old-rev 9aad338] [--images 200] [--repeat 3]

The old revision is checked out with `git worktree` into a temporary folder. Both sides compile
the same model (examples/reference CNV, seed 0) with the same folding (today's optimiser's,
thresholds in the design as constants, which is all the old code had), through their own
`bnn-hls compile --folding`; each builds its C simulation with its own flags and sources. The
executables then run on the same packed images, old and new interleaved, best of --repeat.
Rates count the run only (the build is reported apart). Every run's scores must equal today's
golden model. Results: benchmarks/results/csim_old_vs_new.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info

from bnn_hls import golden
from bnn_hls.backends.hls import write_hls_project
from bnn_hls.compiler import compile_file
from bnn_hls.csim import CSim
from bnn_hls.dataflow.folding import folding_to_json, load_folding
from bnn_hls.dataflow.optimiser import optimise
from bnn_hls.packing import unpack_scores
from bnn_hls.verify import random_inputs

ROOT = Path(__file__).resolve().parents[1]
OLD_REV = "9aad338"  # the last commit before the C-sim work of issue 20
log = logging.getLogger("csim_old_vs_new")

BUILD_SNIPPET = """
import json, sys
from pathlib import Path
from bnn_hls.csim import CSim
sim = CSim(Path(sys.argv[1]))
sim.build()
import bnn_hls
print(json.dumps({"exe": str(sim.exe), "seconds": sim.build_seconds, "package": bnn_hls.__file__}))
"""


def side(tree: Path, model: Path, folding: dict[str, Any], out: Path) -> dict[str, Any]:
    """Compile and build the C-sim with the package in `tree`; the executable and build time."""
    env = {**os.environ, "PYTHONPATH": str(tree), "BNN_HLS_CACHE": str(out / "cache")}
    fold = out / "folding.json"
    fold.write_text(json.dumps({"layers": folding}))
    cli = [sys.executable, "-m", "bnn_hls.cli", "-q", "compile", str(model)]
    subprocess.run(
        [*cli, "--folding", str(fold), "-o", str(out / "design")],
        env=env,
        check=True,
        cwd=out,
        capture_output=True,
    )
    res = subprocess.run(
        [sys.executable, "-c", BUILD_SNIPPET, str(out / "design" / "hls")],
        env=env,
        check=True,
        cwd=out,
        capture_output=True,
        text=True,
    )
    built: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    if not built["package"].startswith(str(tree)):
        raise SystemExit(f"the build imported {built['package']}, not the tree {tree}")
    return built


def run_exe(exe: str, words_file: Path, images: int, classes: int, out: Path) -> np.ndarray:
    subprocess.run([exe, str(words_file), str(out), str(images)], check=True, capture_output=True)
    return unpack_scores(out.read_bytes(), images, classes)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old-rev", default=OLD_REV)
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    with tempfile.TemporaryDirectory(prefix="bnn-csim-old-new-") as tmp_name:
        tmp = Path(tmp_name)
        make_reference = ROOT / "examples" / "reference" / "make_reference.py"
        subprocess.run(
            [sys.executable, str(make_reference), "cnv", "--out-dir", str(tmp)],
            check=True,
            capture_output=True,
        )
        model = tmp / "cnv.onnx"
        c = compile_file(model)
        chosen = optimise(c.model).folding
        layers = folding_to_json(chosen)["layers"]
        old_layers = {
            name: {k: v for k, v in layer.items() if k in ("pe", "simd", "rom", "kernel")}
            for name, layer in layers.items()
        }
        new_layers = {name: {**layer, "thresholds": "const"} for name, layer in old_layers.items()}

        worktree = tmp / "old"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(worktree), args.old_rev],
            check=True,
            capture_output=True,
        )
        try:
            log.info("old (%s): compile and C-sim build", args.old_rev)
            (tmp / "old_side").mkdir()
            old = side(worktree, model, old_layers, tmp / "old_side")
            log.info("new: compile and C-sim build")
            (tmp / "new_side").mkdir()
            new = side(ROOT, model, new_layers, tmp / "new_side")

            xs = random_inputs(c.model.input, args.images, seed=1)
            hls = write_hls_project(
                c.model, load_folding(tmp / "new_side" / "folding.json", c.model), tmp / "pack"
            )
            words = hls.pack_inputs(golden.input_quant(c.model.input, xs))
            expected = golden.run(c.model, xs).acc
            words_file = tmp / "in.bin"
            words_file.write_bytes(np.ascontiguousarray(words).tobytes())
            sharded = CSim(tmp / "new_side" / "design" / "hls")
            sharded.exe = Path(new["exe"])

            best: dict[str, float] = {}
            for r in range(args.repeat):
                one_process = (("old, one process", old["exe"]), ("new, one process", new["exe"]))
                for label, exe in one_process:
                    t0 = time.perf_counter()
                    scores = run_exe(exe, words_file, args.images, hls.classes, tmp / "out.bin")
                    rate = args.images / (time.perf_counter() - t0)
                    if not np.array_equal(scores, expected):
                        raise SystemExit(f"{label}: C-sim scores differ from the golden model")
                    best[label] = max(best.get(label, 0.0), rate)
                t0 = time.perf_counter()
                scores = sharded.run(words, args.images, hls.classes)
                rate = args.images / (time.perf_counter() - t0)
                if not np.array_equal(scores, expected):
                    raise SystemExit("new, a process per core: scores differ from the golden model")
                label = "new, a process per core"
                best[label] = max(best.get(label, 0.0), rate)
                log.info("repeat %d: %s", r + 1, {k: round(v, 1) for k, v in best.items()})
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)],
                check=False,
                capture_output=True,
            )

    base = best["old, one process"]
    result = {
        "command": "python benchmarks/csim_old_vs_new.py "
        f"--old-rev {args.old_rev} --images {args.images} --repeat {args.repeat}",
        "machine": machine_info(),
        "model": "CNV (examples/reference/make_reference.py cnv, seed 0), optimiser folding, "
        "constant thresholds",
        "images": args.images,
        "build_seconds": {"old": round(old["seconds"], 1), "new": round(new["seconds"], 1)},
        "images_per_s": {k: round(v, 1) for k, v in best.items()},
        "speedup": {k: round(v / base, 2) for k, v in best.items()},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "csim_old_vs_new.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# C simulation of CNV: old vs new (`benchmarks/csim_old_vs_new.py`)",
        "",
        f"Command: `{result['command']}`  ",
        f"Machine: {result['machine']}",
        "",
        f"Model: {result['model']}; {args.images} random images, scores equal to the golden "
        f"model in every run; best of {args.repeat}, old and new interleaved. Old: the code at "
        f"{args.old_rev} (before issue 20's C-sim work). g++ build: old "
        f"{result['build_seconds']['old']} s, new {result['build_seconds']['new']} s.",
        "",
        "| C-sim | images/s | vs old |",
        "|---|---|---|",
    ]
    for label, rate in result["images_per_s"].items():
        lines.append(f"| {label} | {rate:,} | {result['speedup'][label]}x |")
    (args.out / "csim_old_vs_new.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
