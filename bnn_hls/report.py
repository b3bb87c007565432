"""The inspect report: layers, shapes, bit widths, operations, memory, BatchShift summary."""

from __future__ import annotations

import logging
from typing import Any

from . import ir
from .compiler import ChosenFolding, Compiled, FoldingRequest, choose_folding
from .dataflow import resource_model as rm
from .dataflow.cycles import CLOCK_MHZ, cycle_model, images_per_second, initiation_interval
from .dataflow.folding import Folding
from .dataflow.kernels import KERNELS
from .dataflow.lowering import build_plan
from .dataflow.resource_model import XC7Z020
from .errors import ModelError

log = logging.getLogger(__name__)


def layer_rows(model: ir.Model) -> list[dict[str, Any]]:
    rows = []
    for layer in model.layers:
        row = layer.summary()
        if isinstance(layer, ir.Linear):
            row["weight_bytes"] = (layer.weights.size * layer.weight_bits() + 7) // 8
        if isinstance(layer, (ir.Threshold, ir.MultiThreshold)):
            row["threshold_bytes"] = (layer.threshold_bits() * layer.thresholds.size + 7) // 8
        rows.append(row)
    return rows


def design_report(
    c: Compiled, request: FoldingRequest, *, need_folding: bool
) -> tuple[dict[str, Any], ChosenFolding | None]:
    """What `inspect` and `compile` report: the model and the chosen folding. Without
    need_folding a model whose folding the user did not ask for and none fits is still
    reported (folding None): it is worth inspecting."""
    rep = build_report(c)
    try:
        chosen: ChosenFolding | None = choose_folding(c, request)
    except ModelError as exc:
        if need_folding or request.explicit:
            raise
        log.warning("no folding: %s", exc)
        chosen = None
    rep["folding"] = folding_report(c.model, chosen.folding, chosen.how) if chosen else None
    return rep, chosen


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
            "dtype": c.info.input_dtype,
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
            "weight_bits": int(sum(layer.weights.size * layer.weight_bits() for layer in linear)),
            "weight_bytes": int(
                sum((layer.weights.size * layer.weight_bits() + 7) // 8 for layer in linear)
            ),
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
        "approximation": approximation_rows(model),
    }


def approximation_rows(model: ir.Model) -> list[dict[str, Any]]:
    """Per layer on the MVTU over bases (docs/pa.md): its bases and their coefficients, and
    what the frontend rounded to fixed point (precision, step, largest relative error)."""
    from .dataflow.bases import X_STEPS, decompose
    from .dataflow.pairing import device_steps

    rows = []
    for step in device_steps(model):
        layer = step.layer
        if not isinstance(layer, ir.Linear) or not (layer.mapped_input or layer.fixed_point):
            continue
        # as the stage decomposes it: sign-magnitude only where a threshold takes the offset
        bases = decompose(layer, layer.input_element_bits(), offsets=step.threshold is not None)
        form = "steps" if bases.weight_steps else "bit-planes"
        rows.append(
            {
                "layer": layer.name,
                "weight_bases": bases.weight_bases,
                "weight_form": f"sign x magnitude {form}" if bases.weight_sign else form,
                "weight_coeffs": list(bases.weight_coeffs),
                "input_bases": bases.input_bases,
                "input_form": "steps" if bases.input_form == X_STEPS else "bits",
                "input_coeffs": list(bases.input_coeffs),
                "popcounts": bases.per_pe_pairs(),
                "fixed_point": layer.fixed_point,
            }
        )
    return rows


def _combination(coeffs: list[int], base: str) -> str:
    """c0 + c1*b1 + ... as text."""
    text = str(coeffs[0])
    for i, c in enumerate(coeffs[1:], 1):
        text += f" {'-' if c < 0 else '+'} {abs(c)}*{base}{i}"
    return text


def format_approximation(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    lines = ["", "binary bases (docs/pa.md): w = cw + sum dw_m*b_m, x = cx + sum dx_n*h_n"]
    for r in rows:
        lines.append(
            f"  {r['layer']}: {r['weight_bases']} weight bases ({r['weight_form']}), "
            f"{r['input_bases']} input bases ({r['input_form']}), "
            f"{r['popcounts']} popcounts per PE and cycle"
        )
        w = _combination(r["weight_coeffs"], "b")
        signed = r["weight_form"].startswith("sign")
        lines.append(f"    w = sign * ({w})" if signed else f"    w = {w}")
        lines.append(f"    x = {_combination(r['input_coeffs'], 'h')}")
        for part, fp in r["fixed_point"].items():
            real = fp["real_levels"]
            lines.append(
                f"    {part}: {len(real)} real levels {real[0]:.4g} .. {real[-1]:.4g} at "
                f"{fp['coeff_bits']} coefficient bits (step {fp['step']:.4g}, largest "
                f"error {100 * fp['max_relative_error']:.2f} % of the largest level)"
            )
    return lines


def _shape(s: list[int]) -> str:
    return "x".join(map(str, s))


def format_report(rep: dict[str, Any]) -> str:
    lines = [
        f"model: {rep['source_file']}",
        f"input: {_shape(rep['input']['onnx_shape'])} {rep['input'].get('dtype', 'float32')} -> "
        f"{rep['input']['mode']} "
        f"{rep['input']['bits']}-bit, device layout {_shape(rep['input']['device_shape'])}",
        "",
    ]
    header = f"{'layer':<18} {'in':>10} {'out':>10}  {'bits':<26} {'MACs':>10} {'params':>9}"
    lines += [header, "-" * len(header)]
    for row in rep["layers"]:
        kind = row["kind"]
        bits, macs, params = "", "", ""
        if kind in ("dense", "conv"):
            src = "bit"
            if row["input_kind"] != "bit":
                src = f"int{ir.signed_bits(*row['input_range'])}"
            wbits = row["bits_per_weight"]
            bits = f"{src} x {'bit' if wbits == 1 else f'int{wbits}'} -> acc{row['acc_bits']}"
            macs = f"{row['macs']:,}"
            params = f"{row['weight_bytes']:,} B"
            if kind == "conv":
                bits += f" k{row['kernel'][0]}s{row['stride'][0]}"
        elif kind == "threshold":
            bits = f"acc >= T ({row['threshold_bits']}-bit T)"
            params = f"{row['threshold_bytes']:,} B"
        elif kind == "staircase":
            bits = f"{row['bases']} bases -> int codes"
        elif kind == "multithreshold":
            bits = f"{row['levels']} levels -> int{row['out_bits']} ({row['threshold_bits']}-bit T)"
            params = f"{row['threshold_bytes']:,} B"
        elif kind == "maxpool" and row["in_type"] == "int":
            bits = "max" + ("/min" if row.get("and_channels") else "")
        elif kind == "maxpool":
            bits = "OR" + ("/AND" if row.get("and_channels") else "")
        elif kind == "input_quant":
            bits = f"host -> {row['out_bits']}-bit"
        elif kind == "scores":
            bits = "host float ops"
        lines.append(
            f"{row['name']:<18} {_shape(row['in_shape']):>10} "
            f"{_shape(row['out_shape']):>10}  {bits:<26} {macs:>10} {params:>9}"
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
    lines += format_approximation(rep.get("approximation", []))
    return "\n".join(lines)


def folding_report(model: ir.Model, folding: Folding, chosen_by: str) -> dict[str, Any]:
    """Per layer: PE, SIMD, ROM, cycles per image, its share of the II and the resource
    model's estimate; for the pipeline: II, images/s, MAC efficiency, the estimated total."""
    from .backends.hls_arrays import plan_bram36

    plan = build_plan(model, folding)
    stages = cycle_model(plan)
    ii = initiation_interval(plan)
    rows, total = plan.resource_estimate()
    hls_rows, hls_total = plan_bram36(plan)
    hls_by_stage = dict(hls_rows)
    est_by_stage = dict(rows)
    kernels = {st.layer.name: st for st in plan.linear_stages()}
    layers: list[dict[str, Any]] = []
    for layer in model.linear_layers():
        fold = folding[layer.name]
        own = [s for s in stages if s.layer == layer.name]
        cycles = max(s.cycles for s in own)
        est = rm.Estimate()
        hls_bram = 0.0
        for s in own:
            est = est + est_by_stage[s.name]
            hls_bram += hls_by_stage[s.name]
        layers.append(
            {
                "name": layer.name,
                "pe": fold.pe,
                "simd": fold.simd,
                "rom": fold.rom,
                "kernel": fold.kernel,
                "macs": layer.macs(),
                "macs_per_cycle": kernels[layer.name].macs_per_cycle(),
                "cycles": cycles,
                "busy": round(cycles / ii, 3),
                "lut": round(est.lut),
                "bram36": est.bram36,
                "hls_bram36": hls_bram,
            }
        )
    macs = sum(layer.macs() for layer in model.linear_layers())
    units = sum(st.macs_per_cycle() for st in plan.linear_stages())
    return {
        "chosen_by": chosen_by,
        "layers": layers,
        "cycles_per_image": ii,
        "images_per_second_at_100MHz": images_per_second(ii),
        "slowest_stage": max(stages, key=lambda s: s.cycles).name,
        "efficiency": round(macs / units / ii, 4),
        "model_estimate": {
            "lut": round(total.lut),
            "ff": round(total.ff),
            "bram36": total.bram36,
            "lut_fraction": round(total.lut / XC7Z020["lut"], 4),
            "bram_fraction": round(total.bram36 / XC7Z020["bram36"], 4),
        },
        "hls_bram36": hls_total,
    }


def format_folding(rep: dict[str, Any]) -> str:
    header = (
        f"{'layer':<18} {'kernel':>6} {'PE':>4} {'SIMD':>5} {'ROM':>5} {'MACs/cyc':>8} "
        f"{'cycles':>9} {'busy':>5} {'LUT~':>7} {'BRAM36~':>7} {'HLS BRAM':>8}"
    )
    lines = [f"folding ({rep['chosen_by']}):", header, "-" * len(header)]
    for r in rep["layers"]:
        # a result-sharing unit's weights are logic: no ROM style
        rom = r["rom"] if KERNELS[r["kernel"]].uses_rom else "-"
        lines.append(
            f"{r['name']:<18} {r['kernel']:>6} {r['pe']:>4} {r['simd']:>5} {rom:>5} "
            f"{r['macs_per_cycle']:>8} {r['cycles']:>9,} {r['busy']:>5.0%} {r['lut']:>7,} "
            f"{r['bram36']:>7.1f} {r['hls_bram36']:>8.1f}"
        )
    m = rep["model_estimate"]
    lines += [
        "",
        f"cycles per image: {rep['cycles_per_image']:,} (slowest stage: {rep['slowest_stage']}); "
        f"at {CLOCK_MHZ} MHz: {rep['images_per_second_at_100MHz']:,.0f} images/s",
        f"efficiency (total MACs / MACs per cycle / cycles per image): {rep['efficiency']:.1%}",
        f"resource model: ~{m['lut']:,} LUT ({m['lut_fraction']:.0%}), ~{m['ff']:,} FF, "
        f"~{m['bram36']:.1f} BRAM36 ({m['bram_fraction']:.0%}) of the xc7z020 "
        "(fitted to Yosys; `bnn-hls estimate` synthesises)",
        f"HLS project: {rep['hls_bram36']:.1f} RAMB36 by the arrays as written (each bank "
        "of a block-RAM array rounded up to whole RAMB18s; docs/hls.md)",
    ]
    return "\n".join(lines)


def format_sharing(rep: dict[str, Any]) -> str:
    """The --sharing report: distinct 2-D filters and operations per conv, before and after."""
    t = rep["conv_totals"]
    lines = [
        f"result sharing ({rep['mode']}): 2-D conv filters, distinct up to inversion"
        + (" (not applied: --sharing exact to execute it)" if rep["mode"] == "off" else ""),
    ]
    header = (
        f"{'layer':<18} {'2-D filters':>11} {'distinct':>9} {'XNOR before':>13} "
        f"{'after':>13} {'ops saved':>9}"
    )
    lines += [header, "-" * len(header)]
    for e in rep["layers"]:
        if e["degenerate_1x1"]:
            continue
        lines.append(
            f"{e['layer']:<18} {e['filters_2d']:>11,} {e['distinct_2d']:>9,} "
            f"{e['before']['xnor']:>13,} {e['after']['xnor']:>13,} {e['ops_reduction']:>9.1%}"
        )
    changed = sum(e.get("changed_filters", 0) for e in rep["layers"])
    lines.append(
        f"convs: XNOR + popcount + channel additions {t['ops_before']:,} -> {t['ops_after']:,} "
        f"per image ({t['ops_reduction']:.1%} fewer); the paper's count (XNOR of 2-D filters): "
        f"{t['paper_xnor_reduction']:.1%} fewer"
        + (f"; {changed} filters changed by merging" if changed else "")
    )
    return "\n".join(lines)
