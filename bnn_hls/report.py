"""The inspect report: layers, shapes, bit widths, operations, memory, BatchShift summary."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import ir
from .compiler import Compiled


def layer_rows(model: ir.Model) -> list[dict[str, Any]]:
    rows = []
    for layer in model.layers:
        row = layer.summary()
        if isinstance(layer, ir.Linear):
            row["weight_bytes"] = (layer.weights.size + 7) // 8
        if isinstance(layer, ir.Threshold):
            row["threshold_bytes"] = (layer.threshold_bits() * layer.thresholds.size + 7) // 8
        rows.append(row)
    return rows


def build_report(c: Compiled) -> dict[str, Any]:
    model = c.model
    linear = model.linear_layers()
    bs = model.notes.get("batchshift", [])
    total_macs = sum(layer.macs() for layer in linear)
    binary_macs = sum(layer.macs() for layer in linear if layer.input_kind == "bit")
    return {
        "source_file": model.source_file,
        "input": {
            "onnx_shape": list(model.input.onnx_shape),
            "mode": model.input.mode,
            "bits": model.input.out_bits(),
            "device_shape": list(model.input.out_shape),
        },
        "classes": int(model.scores.out_shape[-1]),
        "layers": layer_rows(model),
        "totals": {
            "macs_per_image": total_macs,
            "binary_macs_per_image": binary_macs,
            "integer_input_macs_per_image": total_macs - binary_macs,
            "weight_bits": int(sum(layer.weights.size for layer in linear)),
            "weight_bytes": int(sum((layer.weights.size + 7) // 8 for layer in linear)),
            "threshold_bytes": int(sum(e["threshold_bytes"] for e in bs)),
        },
        "batchshift": {
            "layers": bs,
            "float_ops_removed_per_image": int(sum(e["float_ops_removed_per_image"] for e in bs)),
            "float_param_bytes_replaced": int(sum(e["float_param_bytes_replaced"] for e in bs)),
            "threshold_bytes": int(sum(e["threshold_bytes"] for e in bs)),
            "negated_channels": int(sum(e["negated_channels"] for e in bs)),
            "constant_channels": int(sum(e["constant_channels"] for e in bs)),
        },
        "host_side": {
            "input_ops": len(model.input.host_ops),
            "score_ops": len(model.scores.ops),
            "device_label_ok": model.scores.device_label_ok(),
        },
        "integer_only": model.is_integer_only(),
        "compile_seconds": round(c.seconds, 3),
    }


def _shape(s: list[int]) -> str:
    return "x".join(map(str, s))


def format_report(rep: dict[str, Any]) -> str:
    lines = [
        f"model: {rep['source_file']}",
        f"input: {_shape(rep['input']['onnx_shape'])} float -> {rep['input']['mode']} "
        f"{rep['input']['bits']}-bit, device layout {_shape(rep['input']['device_shape'])}",
        "",
    ]
    header = f"{'layer':<18} {'in':>10} {'out':>10}  {'bits':<22} {'MACs':>10} {'params':>9}"
    lines += [header, "-" * len(header)]
    for row in rep["layers"]:
        kind = row["kind"]
        bits, macs, params = "", "", ""
        if kind in ("dense", "conv"):
            src = "bit" if row["input_kind"] == "bit" else f"int{rep['input']['bits']}"
            bits = f"{src} x bit -> acc{row['acc_bits']}"
            macs = f"{row['macs']:,}"
            params = f"{row['weight_bytes']:,} B"
            if kind == "conv":
                bits += f" k{row['kernel'][0]}s{row['stride'][0]}"
        elif kind == "threshold":
            bits = f"acc >= T ({row['threshold_bits']}-bit T)"
            params = f"{row['threshold_bytes']:,} B"
        elif kind == "maxpool":
            bits = "OR" + ("/AND" if row.get("and_channels") else "")
        elif kind == "input_quant":
            bits = f"host -> {row['out_bits']}-bit"
        elif kind == "scores":
            bits = "host float ops"
        lines.append(
            f"{row['name']:<18} {_shape(row['in_shape']):>10} "
            f"{_shape(row['out_shape']):>10}  {bits:<22} {macs:>10} {params:>9}"
        )
    t = rep["totals"]
    bs = rep["batchshift"]
    lines += [
        "",
        f"MACs per image: {t['macs_per_image']:,} ({t['binary_macs_per_image']:,} binary XNOR, "
        f"{t['integer_input_macs_per_image']:,} integer x binary)",
        f"weights: {t['weight_bits']:,} bits ({t['weight_bytes']:,} B), thresholds: "
        f"{t['threshold_bytes']:,} B",
        f"BatchShift: {len(bs['layers'])} layers fused; {bs['float_ops_removed_per_image']:,} "
        f"float ops per image removed; {bs['float_param_bytes_replaced']:,} B of float "
        f"parameters replaced by {bs['threshold_bytes']:,} B of integer thresholds; "
        f"{bs['negated_channels']} channels negated, {bs['constant_channels']} constant",
        f"integer-only between input and scores: {'yes' if rep['integer_only'] else 'NO'}; "
        f"host: {rep['host_side']['input_ops']} input ops, {rep['host_side']['score_ops']} "
        f"score ops; device top-1 possible: "
        f"{'yes' if rep['host_side']['device_label_ok'] else 'no'}",
    ]
    return "\n".join(lines)


def summary_numbers(rep: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rep["totals"].items() if isinstance(v, (int, float, np.integer))}
