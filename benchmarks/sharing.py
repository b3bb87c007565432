"""Result sharing: operation savings on the trained examples and the reference topologies, and
what merging similar filters (lossy) costs in accuracy on the digits test set.

    .venv/bin/python benchmarks/sharing.py

Writes benchmarks/results/sharing.{json,md} and sharing_accuracy.png.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info
from models import EXAMPLES, model_path

from bnn_hls import golden
from bnn_hls.compiler import compile_file
from bnn_hls.passes import PassOptions, ResultSharing, parse_sharing

RESULTS = Path(__file__).resolve().parent / "results"
MODES = ["exact", "similar:1", "similar:2", "similar:3"]


def savings(name: str, folder: Path) -> list[dict[str, Any]]:
    model = compile_file(model_path(name, folder)).model
    rows = []
    for mode in MODES:
        rep = ResultSharing().run(model, PassOptions(sharing=parse_sharing(mode))).report
        t = rep["conv_totals"]
        rows.append(
            {
                "model": name,
                "mode": mode,
                "paper_xnor_reduction": t["paper_xnor_reduction"],
                "ops_reduction": t["ops_reduction"],
                "changed_filters": sum(e.get("changed_filters", 0) for e in rep["layers"]),
            }
        )
    return rows


def accuracy(name: str) -> list[dict[str, Any]]:
    digits = EXAMPLES / "digits"
    x = np.load(digits / "digits_test_x.npy")
    y = np.load(digits / "digits_test_y.npy")
    model = compile_file(digits / f"{name}.onnx").model
    base = golden.run(model, x).labels
    rows = [
        {
            "model": name,
            "mode": "off",
            "accuracy": float((base == y).mean()),
            "agreement": 1.0,
        }
    ]
    for mode in MODES:
        shared = ResultSharing().run(model, PassOptions(sharing=parse_sharing(mode))).model
        labels = golden.run(shared, x).labels
        rows.append(
            {
                "model": name,
                "mode": mode,
                "accuracy": float((labels == y).mean()),
                "agreement": float((labels == base).mean()),
            }
        )
    return rows


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        ops = [
            r
            for name in ("digits_cnn", "digits_cnn_dynamo", "digits_cnn_shared1", "cnv")
            for r in savings(name, Path(tmp))
        ]
    acc = [
        r
        for name in ("digits_cnn", "digits_cnn_dynamo", "digits_cnn_shared1")
        for r in accuracy(name)
    ]
    doc = {
        "command": ".venv/bin/python benchmarks/sharing.py",
        "machine": machine_info(),
        "savings": ops,
        "accuracy": acc,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "sharing.json").write_text(json.dumps(doc, indent=1) + "\n")
    lines = [
        "# Result sharing",
        "",
        f"Command: `{doc['command']}`",
        "",
        "Conv layers only. `paper`: 2-D filter XNOR evaluations saved (the paper's count); "
        "`hardware ops`: XNOR + popcount additions + additions over input channels per image.",
        "",
        "| model | mode | paper count saved | hardware ops saved | filters changed |",
        "|---|---|---|---|---|",
    ]
    for r in ops:
        lines.append(
            f"| {r['model']} | {r['mode']} | {r['paper_xnor_reduction']:.1%} | "
            f"{r['ops_reduction']:.1%} | {r['changed_filters']} |"
        )
    lines += [
        "",
        "Similar-filter merging, digits test set (450 images). digits_cnn_shared1 is the same "
        "network trained with `--share-distance 1` (merged at distance 1, then 20 epochs of "
        "fine-tuning with the merged filters tied): exact sharing on it is lossless.",
        "",
        "| model | mode | accuracy | top-1 agreement with the unshared model |",
        "|---|---|---|---|",
    ]
    for r in acc:
        lines.append(f"| {r['model']} | {r['mode']} | {r['accuracy']:.2%} | {r['agreement']:.2%} |")
    lines += ["", "![accuracy vs distance](sharing_accuracy.png)"]
    (RESULTS / "sharing.md").write_text("\n".join(lines) + "\n")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name in ("digits_cnn", "digits_cnn_shared1"):
        rows = [r for r in acc if r["model"] == name and r["mode"] != "off"]
        saved = [
            next(s for s in ops if s["model"] == name and s["mode"] == r["mode"])[
                "paper_xnor_reduction"
            ]
            for r in rows
        ]
        ax.plot([100 * s for s in saved], [100 * r["accuracy"] for r in rows], "o-", label=name)
        for s, r in zip(saved, rows):
            ax.annotate(r["mode"], (100 * s, 100 * r["accuracy"]), fontsize=7)
    ax.set_xlabel("2-D filter XNORs saved (%)")
    ax.set_ylabel("digits test accuracy (%)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(RESULTS / "sharing_accuracy.png", dpi=110)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
