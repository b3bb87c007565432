"""Tabulate the runs of train_pa.py (and, for reference, of examples/multibit/train_multibit.py).

Reads the <model>.onnx.json sidecars (pass the .onnx or the .json files) and prints markdown:
one row per (model, variant, activation form, initialisation, input) with the test accuracy's
mean, min-max and standard deviation over the seeds, the gap to the float model of the same
model when its sidecars are among the inputs, the weight / activation levels, and for PA runs
the onnxruntime accuracy of the exports and how often onnxruntime and PyTorch disagree. --runs
adds one row per run. Nothing is recomputed: the numbers are the sidecars'.

    python examples/pa/summarise.py /tmp/pa_runs/*.onnx
    python examples/pa/summarise.py /tmp/mb_runs/*.onnx \\
        /tmp/mb_runs/tfc_input/tfc_w2a2_in8_s*.onnx /tmp/pa_runs/*.onnx \\
        --runs --json /tmp/pa_runs/summary.json
Needs only the standard library.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path
from typing import Any

ORDER = {"float": 0, "w1a1": 1, "w1a2": 2, "w2a2": 3}


def sidecar(path: Path) -> Path:
    return path if path.suffix == ".json" else Path(str(path) + ".json")


def levels(values: Any) -> int:
    """The number of distinct values of one layer: a list (train_pa.py) or "{-1, 0, 1}"."""
    return len(values) if isinstance(values, list) else values.count(",") + 1


def load(path: Path) -> dict[str, Any]:
    r = json.loads(sidecar(path).read_text())
    pa = r.get("method") == "pa"
    if pa:
        w_levels = str(r["weight_bases"] + 1)
        a_levels = str(r["act_bases"] + 1)
    elif r.get("weight_bits") is None:
        w_levels = a_levels = "float"
    else:
        w_levels = ",".join(sorted({str(levels(v)) for v in r["weight_levels_per_layer"]}))
        bits = r["hidden_act_bits"]
        a_levels = str(2 if bits == 1 else 2**bits - 1)  # bnn_pynq's: narrow range
    return {
        "file": str(path),
        "model": r["model"],
        "variant": r["variant"],
        "act_form": r.get("act_form", "-"),
        "init": r.get("init", "uniform"),
        "input": "float" if r.get("input_bits") is None else f"{r['input_bits']}-bit",
        "seed": r["seed"],
        "epochs": r["epochs"],
        "accuracy": r["test_accuracy"],
        "test_images": r["test_images"],
        "levels": f"{w_levels} / {a_levels}",
        "train_seconds": r.get("train_seconds"),
        "ort_accuracy": r.get("onnxruntime_test_accuracy"),
        "ort_agreement": r.get("onnxruntime_top1_agreement_with_pytorch"),
        "ort_max_abs_diff": r.get("onnxruntime_max_abs_diff"),
        "ort_diff_images": r.get("onnxruntime_images_with_abs_diff_above_1e-4"),
        "ort_bundled": r.get("onnxruntime_bundled_test_accuracy"),
        "ties": sum(r.get("activation_ties_on_test_set", [])) if pa else None,
        "command": r["command"],
    }


def sort_key(r: dict[str, Any]) -> tuple[Any, ...]:
    v = r["variant"]
    pa = re.fullmatch(r"pa(\d+)x(\d+)", v)
    rank = (1, int(pa[1]), int(pa[2]), "") if pa else (0, ORDER.get(v.split()[0], 9), 0, v)
    return (r["model"], r["init"] != "uniform", " " in v, *rank, r["act_form"], r["seed"])


def mean_or_dash(values: list[float | None], fmt: str) -> str:
    got = [v for v in values if v is not None]
    return format(statistics.mean(got), fmt) if got else "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", type=Path, nargs="+", help="<model>.onnx or <model>.onnx.json")
    ap.add_argument("--runs", action="store_true", help="also print one row per run")
    ap.add_argument("--json", type=Path, help="also write the rows read here")
    args = ap.parse_args()
    rows = sorted((load(f) for f in args.files), key=sort_key)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")

    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for r in rows:
        key = (r["model"], r["variant"], r["act_form"], r["init"], r["input"])
        groups.setdefault(key, []).append(r)
    floats = {
        (k[0], k[3]): statistics.mean(x["accuracy"] for x in rs)
        for k, rs in groups.items()
        if k[1] == "float"
    }

    out = sys.stdout
    out.write(
        "| model | variant | act. form | init | input | levels (w / a) | seeds | test acc. mean "
        "| min-max | std | gap to float (points) | onnxruntime acc. mean "
        "| onnxruntime = PyTorch (top-1, min) | images with score diff > 1e-4 |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    for (model, variant, form, init, inp), rs in groups.items():
        accs = [r["accuracy"] for r in rs]
        mean = statistics.mean(accs)
        std = statistics.stdev(accs) if len(accs) > 1 else 0.0
        ref = floats.get((model, init))
        gap = "-" if ref is None or variant == "float" else f"{100 * (mean - ref):+.2f}"
        agree = [r["ort_agreement"] for r in rs if r["ort_agreement"] is not None]
        diffs = [r["ort_diff_images"] for r in rs if r["ort_diff_images"] is not None]
        cells = [
            model,
            variant,
            form,
            init,
            inp,
            rs[0]["levels"],
            ",".join(str(r["seed"]) for r in rs),
            f"{mean:.4f}",
            f"{min(accs):.4f}-{max(accs):.4f}",
            f"{std:.4f}",
            gap,
            mean_or_dash([r["ort_accuracy"] for r in rs], ".4f"),
            f"{min(agree):.4f}" if agree else "-",
            str(sum(diffs)) if diffs else "-",
        ]
        out.write("| " + " | ".join(cells) + " |\n")

    if args.runs:
        out.write(
            "\n| model | variant | act. form | seed | test acc. | onnxruntime acc. "
            "| top-1 agreement | max abs. score diff | onnxruntime acc., bundled test file "
            "| exact ties | train s |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|\n"
        )
        for r in rows:

            def f(key: str, fmt: str, r: dict[str, Any] = r) -> str:
                return "-" if r[key] is None else format(r[key], fmt)

            cells = [
                r["model"],
                r["variant"],
                r["act_form"],
                str(r["seed"]),
                f"{r['accuracy']:.4f}",
                f("ort_accuracy", ".4f"),
                f("ort_agreement", ".4f"),
                f("ort_max_abs_diff", ".2g"),
                f("ort_bundled", ".4f"),
                f("ties", "d"),
                f("train_seconds", ".1f"),
            ]
            out.write("| " + " | ".join(cells) + " |\n")


if __name__ == "__main__":
    main()
