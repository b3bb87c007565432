"""Tabulate models written by train_fsb.py: accuracy, update bytes, weight bytes, conv XNORs.

For each MODEL.onnx (with its MODEL.onnx.json from train_fsb.py) this runs
`bnn-hls inspect MODEL --json` and `bnn-hls inspect MODEL --json --sharing exact` and prints
one markdown row per model, then one row per variant (model, mode, last, codebook) with the
mean, min and max test accuracy over its seeds.

    python examples/fsb/summarise.py /tmp/fsb_runs/*.onnx > /tmp/fsb_table.md
Columns: threshold values (one per output channel of each thresholded layer and level); the
update bytes: those values at 4 bytes each (the load stream, docs/thresholds.md) plus the
binary weights a retraining changes (bits / 8 of the layers whose signs were trained); all
binary weights (bits / 8); channels BatchShift negated
in fixed-sign layers; conv XNORs per image as inspect counts them without and with exact
result sharing. Needs bnn-hls (the runtime venv) on PATH or beside this Python.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger("summarise")


def bnn_hls() -> str:
    beside = Path(sys.executable).parent / "bnn-hls"
    return str(beside) if beside.exists() else shutil.which("bnn-hls") or "bnn-hls"


def inspect(model: Path, *extra: str) -> dict[str, Any]:
    out = subprocess.run(
        [bnn_hls(), "-q", "inspect", str(model), "--json", *extra],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def measure(model: Path) -> dict[str, Any]:
    log.info("inspecting %s", model)
    record = json.loads(Path(str(model) + ".json").read_text())
    plain = inspect(model)
    shared = inspect(model, "--sharing", "exact")
    linear = [la for la in plain["layers"] if la["kind"] in ("conv", "dense")]
    by_name = {la["name"]: la for la in linear}
    signs = [la["signs"] for la in record["layers"]]
    if len(signs) != len(linear):
        raise SystemExit(f"{model}: {len(linear)} linear layers, the record has {len(signs)}")
    fixed_names = {la["name"] for la, s in zip(linear, signs) if s != "trained"}
    thr_values = 0
    negated_fixed = 0
    for entry in plain["batchshift"]["layers"]:
        thr_values += by_name[entry["layer"]]["out_channels"] * (entry["levels"] - 1)
        if entry["layer"] in fixed_names:
            negated_fixed += entry["negated_channels"]
    trained_bits = sum(la["weight_bits"] for la, s in zip(linear, signs) if s == "trained")
    convs = [la for la in shared["sharing"]["layers"] if la["kind"] == "conv"]
    return {
        "file": model.name,
        "model": record["model"],
        "variant": variant(record),
        "seed": record["seed"],
        "epochs": record["epochs"],
        "accuracy": record["test_accuracy_float_model"],
        "test_images": record["test_images"],
        "generator_layers": [la["index"] for la in record["bnn_hls.fsb"]["layers"]],
        "threshold_values": thr_values,
        "threshold_bytes": 4 * thr_values,
        "trained_weight_bytes": trained_bits // 8,
        "weight_bytes": plain["totals"]["weight_bits"] // 8,
        "negated_fixed_channels": negated_fixed,
        "conv_xnor": sum(la["before"]["xnor"] for la in convs),
        "conv_xnor_exact": sum(la["after"]["xnor"] for la in convs),
        "device_top1": plain["host_side"]["device_label_ok"],
        "command": record["command"],
    }


def variant(record: dict[str, Any]) -> str:
    if record["mode"] == "bnn":
        return "bnn"
    text = f"fsb --last {record['last']}"
    return text + (f" --codebook {record['codebook']}" if record["codebook"] else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", type=Path, nargs="+")
    ap.add_argument("--json", type=Path, help="also write the measurements here")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rows = [measure(m) for m in args.models]
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    out = sys.stdout
    out.write(
        "| model | variant | seed | test acc. | threshold values | update bytes "
        "(thresholds x 4 + trained weights) | all binary weights | negated ch. in fixed layers "
        "| conv XNOR/img | with --sharing exact | device top-1 |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    for r in rows:
        update = r["threshold_bytes"] + r["trained_weight_bytes"]
        cells = [
            r["model"],
            r["variant"],
            str(r["seed"]),
            f"{r['accuracy']:.4f}",
            str(r["threshold_values"]),
            f"{update:,} B ({r['threshold_bytes']} + {r['trained_weight_bytes']:,})",
            f"{r['weight_bytes']:,} B",
            str(r["negated_fixed_channels"]),
            f"{r['conv_xnor']:,}",
            f"{r['conv_xnor_exact']:,}",
            "yes" if r["device_top1"] else "no",
        ]
        out.write("| " + " | ".join(cells) + " |\n")
    out.write(
        "\n| model | variant | seeds | test acc. mean | min | max |\n|---|---|---|---|---|---|\n"
    )
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["model"], r["variant"]), []).append(r)
    for (model, var), rs in groups.items():
        accs = [r["accuracy"] for r in rs]
        out.write(
            f"| {model} | {var} | {','.join(str(r['seed']) for r in rs)} "
            f"| {statistics.mean(accs):.4f} | {min(accs):.4f} | {max(accs):.4f} |\n"
        )


if __name__ == "__main__":
    main()
