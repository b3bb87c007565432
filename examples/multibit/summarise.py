"""Check models written by train_multibit.py with the compiler and tabulate them.

For each MODEL.onnx (with its MODEL.onnx.json) this runs, for the quantised (QONNX) models:
`bnn-hls inspect MODEL --json` (weight bits, cycles per image at the default folding, i.e. the
folding optimiser's choice), `bnn-hls verify MODEL --inputs X --labels Y` (golden level, every
image of the bundled test file) and `bnn-hls verify ... --level csim` on its first 50 images;
for the float models only `bnn-hls inspect MODEL` (to record what the compiler says). A
refusal (non-zero exit) is kept verbatim: the last `bnn-hls: error:` line of its stderr.
Prints one markdown row per model, then one row per (model, variant, init) with the mean, min
and max test accuracy over its seeds.

    python examples/multibit/summarise.py /tmp/mb_runs/*.onnx --json /tmp/mb_runs/summary.json
Test files: examples/digits/digits_test_{x,y}.npy (cnn, 450 images) and
examples/mnist_tfc/mnist_test_{x,y}.npy (tfc, 200 images), run from the repository root.
Needs bnn-hls (the runtime venv) on PATH or beside this Python.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("summarise")

TEST_FILES = {
    "cnn": (Path("examples/digits/digits_test_x.npy"), Path("examples/digits/digits_test_y.npy")),
    "tfc": (
        Path("examples/mnist_tfc/mnist_test_x.npy"),
        Path("examples/mnist_tfc/mnist_test_y.npy"),
    ),
}
CSIM_IMAGES = 50


def bnn_hls() -> str:
    beside = Path(sys.executable).parent / "bnn-hls"
    return str(beside) if beside.exists() else shutil.which("bnn-hls") or "bnn-hls"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([bnn_hls(), *args], capture_output=True, text=True)


def refusal(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if "error" in ln.lower()]
    return (lines[-1] if lines else (proc.stderr.strip().splitlines() or ["?"])[-1]).strip()


def verify(model: Path, x: Path, y: Path, level: str) -> dict[str, Any]:
    proc = run("verify", str(model), "--inputs", str(x), "--labels", str(y), "--level", level)
    out = proc.stdout.strip().splitlines()
    result: dict[str, Any] = {
        "level": level,
        "exit": proc.returncode,
        "verdict": out[-1] if proc.returncode in (0, 1) and out else "REFUSED",
    }
    for ln in out:
        if ln.strip().startswith("accuracy:"):
            result["accuracy_line"] = ln.strip()
        if ln.strip().startswith("top-1 agreement"):
            result["top1_line"] = ln.strip()
    if proc.returncode != 0:
        result["message"] = refusal(proc) if result["verdict"] == "REFUSED" else out[-3:]
    return result


def measure(model: Path, csim_dir: Path) -> dict[str, Any]:
    log.info("checking %s", model)
    record = json.loads(Path(str(model) + ".json").read_text())
    row: dict[str, Any] = {
        "file": str(model),
        "model": record["model"],
        "variant": record["variant"],
        "init": record.get("init", "uniform"),
        "seed": record["seed"],
        "epochs": record["epochs"],
        "accuracy": record["test_accuracy"],
        "test_images": record["test_images"],
        "bytes": model.stat().st_size,
        "command": record["command"],
    }
    if record["format"] != "qonnx":
        proc = run("-q", "inspect", str(model))
        row["inspect"] = "accepted" if proc.returncode == 0 else refusal(proc)
        return row
    proc = run("-q", "inspect", str(model), "--json")
    if proc.returncode != 0:
        row["inspect"] = refusal(proc)
        return row
    info = json.loads(proc.stdout)
    linear = [la for la in info["layers"] if la["kind"] in ("conv", "dense")]
    row["inspect"] = "accepted"
    row["bits_per_weight"] = [la.get("bits_per_weight", 1) for la in linear]
    row["weight_bits"] = info["totals"]["weight_bits"]
    acts = [la for la in info["layers"] if la["kind"] in ("threshold", "multithreshold")]
    row["act_bits"] = [la.get("out_bits", 1) for la in acts]  # threshold: a sign, 1 bit
    row["cycles_per_image"] = info["folding"]["cycles_per_image"]
    row["lut_estimate"] = info["folding"]["model_estimate"]["lut"]
    row["bram36_estimate"] = info["folding"]["model_estimate"]["bram36"]
    x, y = TEST_FILES[record["model"]]
    row["golden"] = verify(model, x, y, "golden")
    x50 = csim_dir / f"{record['model']}_x{CSIM_IMAGES}.npy"
    y50 = csim_dir / f"{record['model']}_y{CSIM_IMAGES}.npy"
    if not x50.exists():
        np.save(x50, np.load(x)[:CSIM_IMAGES])
        np.save(y50, np.load(y)[:CSIM_IMAGES])
    row["csim"] = verify(model, x50, y50, "csim")
    return row


def cell(v: dict[str, Any] | None) -> str:
    if v is None:
        return "-"
    if v["verdict"] == "REFUSED":
        return f"REFUSED: `{v['message']}`"
    acc = v.get("accuracy_line", "").replace("accuracy: compiled integer model ", "")
    acc = acc.split(",")[0]
    return f"{v['verdict']} ({acc})" if acc else v["verdict"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", type=Path, nargs="+")
    ap.add_argument("--json", type=Path, help="also write the measurements here")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(m, Path(tmp)) for m in args.models]
    order = {"float": 0, "w1a1": 1, "w1a2": 2, "w2a2": 3}
    rows.sort(
        key=lambda r: (
            r["model"],
            r["init"] != "uniform",
            " " in r["variant"],  # the --input-bits diagnostics last
            order[r["variant"].split()[0]],
            r["variant"],
            r["seed"],
        )
    )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    out = sys.stdout
    out.write(
        "| model | variant | init | seed | test acc. | bits/weight (per layer) | act. bits "
        "| weight bits | cycles/img | LUT~ / BRAM36~ | golden verify | csim verify (first 50) |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    for r in rows:
        quant = "cycles_per_image" in r
        cells = [
            r["model"],
            r["variant"],
            r["init"],
            str(r["seed"]),
            f"{r['accuracy']:.4f}",
            ",".join(map(str, r["bits_per_weight"])) if quant else "-",
            ",".join(map(str, r["act_bits"])) if quant else "-",
            f"{r['weight_bits']:,}" if quant else "-",
            f"{r['cycles_per_image']:,}" if quant else "-",
            f"{r['lut_estimate']:,} / {r['bram36_estimate']:g}" if quant else "-",
            cell(r.get("golden")) if quant else f"inspect: {r['inspect']}",
            cell(r.get("csim")),
        ]
        out.write("| " + " | ".join(cells) + " |\n")
    out.write(
        "\n| model | variant | init | seeds | test acc. mean | min | max |\n"
        "|---|---|---|---|---|---|---|\n"
    )
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["model"], r["variant"], r["init"]), []).append(r)
    for (model, var, init), rs in groups.items():
        accs = [r["accuracy"] for r in rs]
        out.write(
            f"| {model} | {var} | {init} | {','.join(str(r['seed']) for r in rs)} "
            f"| {statistics.mean(accs):.4f} | {min(accs):.4f} | {max(accs):.4f} |\n"
        )


if __name__ == "__main__":
    main()
