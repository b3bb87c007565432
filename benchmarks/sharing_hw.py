"""Does result sharing pay in hardware? Yosys LUT/FF/BRAM of the result-sharing unit against
the MVTU at the same throughput, layer by layer, and whole designs with --sharing off, exact and
auto (resource model, Yosys, cycles measured in RTL simulation).

    .venv/bin/python benchmarks/sharing_hw.py [--jobs 2] [--quick]

Layers: the digits CNN's binary convs (trained normally: little sharing; trained with tied
filters: much), and CNV's 64-, 128- and 256-channel convs (random weights, exact and merged at
distance 1). For each layer and each throughput (cycles per output pixel) the cheapest fold of
each kernel by the resource model is synthesised with its sliding window: the MVTU with its
weights where the model likes them best (often block RAM), the MVTU with its weights in LUTs,
and the result-sharing unit (no block RAM). Writes benchmarks/results/sharing_hw.{json,md}.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info
from models import model_path

from bnn_hls import golden, ir
from bnn_hls.backends.rtl import write_rtl_project
from bnn_hls.compiler import compile_file
from bnn_hls.dataflow.cycles import initiation_interval
from bnn_hls.dataflow.folding import Fold, Folding, divisors
from bnn_hls.dataflow.optimiser import candidate, optimise
from bnn_hls.errors import ModelError
from bnn_hls.passes import PassOptions, ResultSharing, parse_sharing
from bnn_hls.passes.sharing import filters_2d
from bnn_hls.rtlsim.runner import RtlSim
from bnn_hls.verify import random_inputs
from bnn_hls.yosys import Resources, estimate_rtl

RESULTS = Path(__file__).resolve().parent / "results"
log = logging.getLogger("sharing_hw")

# (model, layer, sharing mode, cycles per output pixel to compare at)
LAYERS: list[tuple[str, str, str, list[int]]] = [
    ("digits_cnn", "l3_conv", "exact", [10, 36, 288]),
    ("digits_cnn", "l6_conv", "exact", [12, 36, 144]),
    ("digits_cnn_shared1", "l3_conv", "exact", [10, 36, 288]),
    ("digits_cnn_shared1", "l6_conv", "exact", [12, 36, 144]),
    ("cnv", "l3_conv", "exact", [36, 144]),
    ("cnv", "l3_conv", "similar:1", [36, 144]),
    ("cnv", "l8_conv", "exact", [144]),
    ("cnv", "l8_conv", "similar:1", [144, 576]),
    ("cnv", "l13_conv", "similar:1", [288]),
]  # CNV's fastest points left out: a 64x128 MVTU takes Yosys over half an hour
QUICK = LAYERS[:3]
# (model, target images/s, synthesise with Yosys?) of the whole designs
DESIGNS: list[tuple[str, float, bool]] = [
    ("digits_cnn", 150_000, True),
    ("digits_cnn", 20_000, True),
    ("digits_cnn_shared1", 150_000, True),
    ("digits_cnn_shared1", 20_000, True),
    ("cnv", 6_000, False),  # Yosys of the whole CNV left out to bound the run; model stands in
]
SHARED_KERNEL = {"off": "never", "exact": "always", "auto": "choose"}


def shared_model(name: str, mode: str, folder: Path) -> ir.Model:
    model = compile_file(model_path(name, folder)).model
    return ResultSharing().run(model, PassOptions(sharing=parse_sharing(mode))).model


def without_sharing(model: ir.Model, layer: ir.Conv) -> tuple[ir.Model, ir.Conv]:
    """The model with a plan for `layer` that shares nothing (every output its own 2-D filter
    per channel): the same unit and schedule shape, so the difference is what sharing saves."""
    f2 = filters_2d(layer)  # (O, C, T)
    o, c, t = f2.shape
    plain = dataclasses.replace(
        layer,
        share_filters=np.ascontiguousarray(f2.transpose(1, 0, 2).reshape(c * o, t)),
        share_offsets=(np.arange(c + 1) * o).astype(np.int32),
        share_index=np.repeat(np.arange(o, dtype=np.int32)[:, None], c, 1),
        share_invert=np.zeros((o, c), np.uint8),
    )
    layers = [plain if la is layer else la for la in model.layers]
    return dataclasses.replace(model, layers=layers), plain


def layer_folds(model: ir.Model, layer: ir.Conv, cycles: int) -> dict[str, Fold]:
    """The cheapest fold (resource model LUTs, then block RAM) of each kernel reaching
    `cycles` per image: MVTU, MVTU with its weights in LUTs, result-sharing unit."""
    best: dict[str, tuple[tuple[float, float], Fold]] = {}
    for pe in divisors(layer.out_channels):
        for simd in divisors(layer.in_shape[-1]):
            for name, fold in (
                ("mvtu_lut", Fold(pe, simd, "lut")),
                ("mvtu_block", Fold(pe, simd, "block")),
                ("shared", Fold(pe, simd, "lut", "shared")),
            ):
                c = candidate(model, layer, fold)
                if c.cycles > cycles:
                    continue
                key = (c.cost.lut, c.cost.bram36)
                for slot in {name, "mvtu" if name.startswith("mvtu") else name}:
                    if slot not in best or key < best[slot][0]:
                        best[slot] = (key, fold)
    return {k: v[1] for k, v in best.items() if k in ("mvtu", "mvtu_lut", "shared")}


def synthesise_layer(model: ir.Model, layer: ir.Conv, fold: Fold, work: Path) -> dict[str, Any]:
    """Yosys of one layer's sliding window and unit at `fold` (the other layers at PE = SIMD
    = 1, which any neighbour accepts)."""
    folding: Folding = {la.name: Fold(1, 1) for la in model.linear_layers()}
    folding[layer.name] = fold
    tag = f"{layer.name}_{fold.kernel}_{fold.pe}_{fold.simd}_{fold.rom}"
    plan = write_rtl_project(model, folding, work / tag)
    plan.stages = [st for st in plan.stages if st.layer is layer]
    plan.streams = []
    total, unit = Resources(), Resources()
    model_lut = 0.0
    for est in estimate_rtl(work / tag, plan):
        total = total + est.resources
        if est.module != "bnn_swg":
            unit = est.resources
    for st in plan.stages:
        model_lut += st.resource_estimate().lut
    cand = candidate(model, layer, fold)
    log.info("%s: %d LUT, %g BRAM36", work.name + "/" + tag, total.lut, total.bram36)
    return {
        "fold": {"pe": fold.pe, "simd": fold.simd, "rom": fold.rom, "kernel": fold.kernel},
        "cycles_per_image": cand.cycles,
        "lut": total.lut,
        "ff": total.ff,
        "bram36": total.bram36,
        "unit_lut": unit.lut,
        "model_lut": round(model_lut),
    }


def compare_layers(layers: list[tuple[str, str, str, list[int]]], jobs: int, work: Path) -> list:
    rows: list[dict[str, Any]] = []
    tasks = []
    for name, layer_name, mode, per_pixel in layers:
        model = shared_model(name, mode, work)
        layer = next(la for la in model.layers if la.name == layer_name)
        assert isinstance(layer, ir.Conv)
        pixels = layer.out_shape[0] * layer.out_shape[1]
        distinct = int(layer.share_filters.shape[0])
        for p in per_pixel:
            folds = layer_folds(model, layer, p * pixels)
            row = {
                "model": name,
                "layer": layer_name,
                "channels": f"{layer.in_shape[-1]} -> {layer.out_channels}",
                "sharing": mode,
                "distinct_fraction": round(distinct / (layer.out_channels * layer.in_shape[-1]), 3),
                "cycles_per_pixel": p,
                "designs": {},
            }
            rows.append(row)
            for kind, fold in folds.items():
                tasks.append((row, kind, model, layer, fold))
            if "shared" in folds:  # the same unit and fold with nothing shared
                plain_model, plain_layer = without_sharing(model, layer)
                tasks.append((row, "unit_unshared", plain_model, plain_layer, folds["shared"]))
    with ThreadPoolExecutor(jobs) as pool:
        results = list(
            pool.map(lambda t: synthesise_layer(t[2], t[3], t[4], work / t[0]["model"]), tasks)
        )
    for (row, kind, *_), res in zip(tasks, results):
        row["designs"][kind] = res
    return rows


def whole_design(
    name: str, target: float, mode: str, work: Path, images: int, yosys_totals: bool
) -> dict[str, Any]:
    model = shared_model(name, mode, work)
    try:
        res = optimise(model, target_fps=target, shared_kernel=SHARED_KERNEL[mode])
    except ModelError as exc:  # e.g. every conv on the result-sharing unit does not fit
        return {"model": name, "target_fps": target, "sharing": mode, "error": str(exc)}
    folder = work / f"{name}_{int(target)}_{mode}"
    plan = write_rtl_project(model, res.folding, folder / "rtl")
    yosys: Resources | None = None
    if yosys_totals:
        yosys = Resources()
        for est in estimate_rtl(folder / "rtl", plan):
            yosys = yosys + est.resources
    x = random_inputs(model.input, images, seed=5)
    words = plan.pack_inputs(golden.input_quant(model.input, x))
    t0 = time.perf_counter()
    sim = RtlSim(folder / "rtl", folder / "build").run(
        words, golden.run(model, x).acc, backpressure=False
    )
    return {
        "model": name,
        "target_fps": target,
        "sharing": mode,
        "shared_layers": sorted(k for k, f in res.folding.items() if f.kernel == "shared"),
        "folding": {
            k: f"{f.kernel} {f.pe}x{f.simd}" + ("" if f.kernel == "shared" else f" {f.rom}")
            for k, f in res.folding.items()
        },
        "cycles_model": initiation_interval(plan),
        "cycles_rtlsim": sim.runs[0]["cycles_per_image"],
        "bit_exact": sim.scores_ok,
        "model_lut": round(res.estimate.lut),
        "model_bram36": res.estimate.bram36,
        "lut": yosys.lut if yosys else None,
        "ff": yosys.ff if yosys else None,
        "bram36": yosys.bram36 if yosys else None,
        "rtlsim_s": round(time.perf_counter() - t0, 1),
    }


def markdown(doc: dict[str, Any]) -> str:
    lines = [
        "# Result sharing in hardware",
        "",
        f"Command: `{doc['command']}`  ",
        f"Machine: {doc['machine']}  ",
        f"Took {doc['seconds'] / 60:.0f} min"
        + ("" if doc.get("complete", True) else " so far (partial: the run has not finished)"),
        "",
        "Yosys `synth_xilinx -family xc7` of the generated RTL (not Vivado). Per layer: the "
        "sliding window plus the unit, at the cheapest fold of each kernel (by the resource "
        "model) that reaches the throughput (cycles per output pixel; each digits layer's "
        "fastest point is its sliding window's input rate); `mvtu`: the MVTU with its weights "
        "where the "
        "model prefers them, `mvtu lut`: weights in LUTs; `shared`: the result-sharing unit "
        "(its filters are logic, no block RAM); `same unit, nothing shared`: the result-sharing "
        "unit at the same fold with a plan that shares no filter (the difference is what "
        "sharing itself saves). `D/(O*C)`: distinct 2-D filters per filter.",
        "",
        "| layer | C -> O | sharing | D/(O*C) | cycles/pixel | mvtu LUT/FF (BRAM36) | "
        "mvtu lut LUT/FF | shared LUT/FF | shared / mvtu lut | same unit, nothing shared | "
        "shared fold | model LUT shared |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in doc["layers"]:
        d = r["designs"]
        m, ml, s, u = d.get("mvtu"), d.get("mvtu_lut"), d.get("shared"), d.get("unit_unshared")
        ratio = f"{s['lut'] / ml['lut']:.2f}" if s and ml else "-"
        lines.append(
            f"| {r['model']} {r['layer']} | {r['channels']} | {r['sharing']} | "
            f"{r['distinct_fraction']} | {r['cycles_per_pixel']} | "
            + (f"{m['lut']:,}/{m['ff']:,} ({m['bram36']:g}) | " if m else "- | ")
            + (f"{ml['lut']:,}/{ml['ff']:,} | " if ml else "- | ")
            + (f"{s['lut']:,}/{s['ff']:,} | " if s else "- | ")
            + f"{ratio} | "
            + (f"{u['lut']:,} | " if u else "- | ")
            + (
                f"PE {s['fold']['pe']} SIMD {s['fold']['simd']} | {s['model_lut']:,} |"
                if s
                else "- | - |"
            )
        )
    lines += [
        "",
        "Whole designs at a target throughput: the optimiser's folding with every shareable "
        "conv on the MVTU (`off`), on the result-sharing unit (`exact`) or on whichever the "
        "resource model finds cheaper per layer (`auto`); Yosys totals of every stage and FIFO, "
        "cycles per image measured in RTL simulation (bit-exact against the golden model).",
        "",
        "| model | target img/s | sharing | shared layers | cycles model = RTL-sim | "
        "LUT (Yosys) | FF | BRAM36 | LUT (model) | bit-exact |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for d in doc["designs"]:
        if "error" in d:
            lines.append(
                f"| {d['model']} | {d['target_fps']:,.0f} | {d['sharing']} | no folding fits "
                "the budget by the resource model | - | - | - | - | - | - |"
            )
            continue
        synthesised = d["lut"] is not None
        lines.append(
            f"| {d['model']} | {d['target_fps']:,.0f} | {d['sharing']} | "
            f"{', '.join(d['shared_layers']) or '-'} | {d['cycles_model']:,} = "
            f"{d['cycles_rtlsim']:,.0f} | "
            + (
                f"{d['lut']:,} | {d['ff']:,} | {d['bram36']:g} | "
                if synthesised
                else f"not synthesised | - | {d['model_bram36']:g} (model) | "
            )
            + f"{d['model_lut']:,} | {d['bit_exact']} |"
        )
    return "\n".join(lines) + "\n"


def write_results(
    command: str,
    t0: float,
    rows: list[dict[str, Any]],
    designs: list[dict[str, Any]],
    complete: bool,
) -> None:
    doc = {
        "command": command,
        "machine": machine_info(),
        "seconds": round(time.perf_counter() - t0, 1),
        "complete": complete,
        "layers": rows,
        "designs": designs,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "sharing_hw.json").write_text(json.dumps(doc, indent=1) + "\n")
    (RESULTS / "sharing_hw.md").write_text(markdown(doc))
    log.info(
        "wrote %s after %.0f s%s",
        RESULTS / "sharing_hw.md",
        doc["seconds"],
        "" if complete else " (partial)",
    )


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="three layer rows, no whole designs")
    args = ap.parse_args()
    t0 = time.perf_counter()
    command = "python benchmarks/sharing_hw.py" + (" --quick" if args.quick else "")
    with tempfile.TemporaryDirectory(prefix="bnn-sharing-hw-") as tmp:
        work = Path(tmp)
        rows = compare_layers(QUICK if args.quick else LAYERS, args.jobs, work)
        designs: list[dict[str, Any]] = []
        write_results(command, t0, rows, designs, complete=args.quick)
        if not args.quick:
            for name, target, yosys_totals in DESIGNS:
                for mode in ("off", "exact", "auto"):
                    images = 4 if name == "cnv" else 8  # >= 3: the testbench times the later ones
                    designs.append(whole_design(name, target, mode, work, images, yosys_totals))
                    log.info("%s", designs[-1])
                    # after every design, so a stopped run keeps what it measured
                    write_results(command, t0, rows, designs, complete=False)
            write_results(command, t0, rows, designs, complete=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
