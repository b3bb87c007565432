"""The MVTU over binary bases (kernel "bases", docs/pa.md) against the MVTU's small products
(kernel "mvtu"): LUT and FF of one stage at equal cycles (the same PE and SIMD), and the fit
of the resource model's three bases features to them.

    .venv/bin/python benchmarks/bases_mvtu.py [--jobs 1] [--no-update]

Each shape is a two-layer model plus a 10-class classifier (binary input, so the first layer
reads bits and makes multi-bit codes); the second layer, the one that reads the codes, is the
layer measured, its stage alone synthesised by Yosys (synth_xilinx -family xc7, the
`bnn-hls estimate` flow, cached per stage) with its weights in block RAM and constant
thresholds (no writable table). Block RAM, not a LUT ROM: a LUT ROM's LUTs grow with the
same PE x SIMD as the products, and a fit on such stages could not tell them apart (it gave
the base pairs no LUTs at all; measured). Shapes: uniform W2A2
and W1A2 (QONNX Quant weights and activations; both kernels), and piecewise approximations
PaSpec(M, N, "sign") at the default --coeff-bits (staircase codes in: "bases" only).

The fit: on the "bases" rows, the resource model without the three bases features
(base_pair_bits, base_coeff_adders, input_base_bits: MvtuStage._bases_features) is the base
estimate; their non-negative LUT and FF coefficients are the least-squares fit of the Yosys
figures' residual above it. Writes benchmarks/results/bases_mvtu.{json,md} and (unless
--no-update) those three coefficients in bnn_hls/dataflow/resource_model.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info

from bnn_hls.backends.rtl import write_rtl_project
from bnn_hls.compiler import compile_file
from bnn_hls.dataflow import resource_model as rm
from bnn_hls.dataflow.folding import check_folding, default_folding, with_thresholds
from bnn_hls.modelgen import ActQuant, ConvSpec, DenseSpec, PaSpec, WeightQuant, build_bnn
from bnn_hls.yosys import estimate_rtl

RESULTS = Path(__file__).resolve().parent / "results"
COMMAND = ".venv/bin/python benchmarks/bases_mvtu.py --jobs 1"
NEW_FEATURES = ("base_pair_bits", "base_coeff_adders", "input_base_bits")
NOTE_KEY = "bases_note"
# the coefficients before this fit (commit 0676bc1), for the "before" errors
PROVISIONAL = {
    "lut": {"base_pair_bits": 0.6, "base_coeff_adders": 1.0, "input_base_bits": 0.5},
    "ff": {"base_pair_bits": 0.0, "base_coeff_adders": 0.5, "input_base_bits": 0.0},
}
# measured on a 2-core machine, Yosys one job at a time, empty cache
COLD_RUN = "about 33 min with an empty Yosys cache (the slowest stage 6 min)"
W2A2 = {"act": ActQuant(2, True, False, 0.5), "weights": WeightQuant(2, True, True)}
W1A2 = {"act": ActQuant(2, True, False, 0.5)}
BOTH = ("mvtu", "bases")


@dataclass(frozen=True)
class Shape:
    group: str  # "W2A2", "W1A2", "PA 2x2", ...
    layer: str  # what the measured layer is
    input_shape: tuple[int, ...]
    layers: list[ConvSpec | DenseSpec]  # the measured layer is the second
    quant: dict[str, Any]  # build_bnn's act / weights / pa
    pe: int
    simd: int
    kernels: tuple[str, ...]


def conv(channels: int) -> tuple[tuple[int, ...], list[ConvSpec | DenseSpec]]:
    """A conv channels->channels 3x3 after a first one (5x5 input: 3x3, then 1x1 outputs)."""
    return (channels, 5, 5), [ConvSpec(channels, 3), ConvSpec(channels, 3)]


def dense(n_in: int, n_out: int) -> tuple[tuple[int, ...], list[ConvSpec | DenseSpec]]:
    """A dense n_in->n_out after a first dense n_in->n_in."""
    return (n_in,), [DenseSpec(n_in), DenseSpec(n_out)]


def shapes() -> list[Shape]:
    out = [
        Shape("W2A2", "conv 64->64 3x3", *conv(64), W2A2, 16, 32, BOTH),
        Shape("W2A2", "conv 64->64 3x3", *conv(64), W2A2, 8, 16, BOTH),
        Shape("W2A2", "dense 256->256", *dense(256, 256), W2A2, 8, 32, BOTH),
        Shape("W1A2", "conv 64->64 3x3", *conv(64), W1A2, 16, 32, BOTH),
    ]
    # PA 4x5's conv at PE 8 took 921 s in Yosys (16554 LUT, 1141 FF): PE 4 instead
    for m, n, conv_pe in ((2, 2, 8), (3, 3, 8), (4, 5, 4)):
        pa = {"pa": PaSpec(m, n, "sign")}
        out.append(Shape(f"PA {m}x{n}", "conv 32->32 3x3", *conv(32), pa, conv_pe, 16, ("bases",)))
        out.append(Shape(f"PA {m}x{n}", "dense 128->64", *dense(128, 64), pa, 4, 16, ("bases",)))
    return out


def measure(shape: Shape, tmp: Path, jobs: int) -> list[dict[str, Any]]:
    """One row per kernel: Yosys' LUT and FF of the measured layer's stage, its features."""
    model = build_bnn(
        shape.input_shape, shape.layers, 10, input_mode="bipolar", seed=1, **shape.quant
    )
    path = tmp / "m.onnx"
    onnx.save(model, path)
    c = compile_file(path)  # default options: --coeff-bits 13
    layer = c.model.linear_layers()[1]
    assert layer.input_kind == "int", "the measured layer reads multi-bit codes"
    rows = []
    for kernel in shape.kernels:
        folding = with_thresholds(default_folding(c.model), "const")
        folding[layer.name] = replace(
            folding[layer.name], pe=shape.pe, simd=shape.simd, rom="block", kernel=kernel
        )
        check_folding(c.model, folding)
        rtl = tmp / f"rtl_{kernel}"
        plan = write_rtl_project(c.model, folding, rtl)
        st = next(s for s in plan.linear_stages() if s.layer.name == layer.name)
        t0 = time.perf_counter()
        (est,) = estimate_rtl(rtl, replace(plan, stages=[st]), fifos=False, jobs_limit=jobs)
        seconds = time.perf_counter() - t0
        features = st.resource_features()
        rows.append(
            {
                "group": shape.group,
                "layer": shape.layer,
                "pe": shape.pe,
                "simd": shape.simd,
                "kernel": kernel,
                "stage": st.name,
                "description": st.description(),
                "cycles": st.cycles(),
                "lut": est.resources.lut,
                "ff": est.resources.ff,
                "bram36": est.resources.bram36,
                "synth_seconds": round(seconds, 1),
                "cached": est.cached,
                "features": features,
                "model_bram36": st.block_ram(),
                "model_provisional": {
                    t: round(model_with(features, t, PROVISIONAL[t])) for t in ("lut", "ff")
                },
            }
        )
        logging.info("%s %s %s: %s", shape.group, shape.layer, kernel, rows[-1])
    return rows


def nnls(a: np.ndarray, b: np.ndarray, tol: float = 1e-10) -> np.ndarray:
    """min ||a x - b|| subject to x >= 0 (Lawson and Hanson's active set; numpy only)."""
    n = a.shape[1]
    x = np.zeros(n)
    free = np.zeros(n, bool)
    for _ in range(3 * n + 10):
        grad = a.T @ (b - a @ x)
        if free.all() or grad[~free].max(initial=-np.inf) <= tol:
            break
        free[int(np.argmax(np.where(free, -np.inf, grad)))] = True
        while True:
            z = np.zeros(n)
            z[free] = np.linalg.lstsq(a[:, free], b, rcond=None)[0]
            if (z[free] > tol).all():
                x = z
                break
            bad = free & (z <= tol)
            step = np.min(x[bad] / (x[bad] - z[bad]))
            x = x + step * (z - x)
            free &= x > tol
            x[~free] = 0.0
    return x


def base_estimate(features: dict[str, float], target: str) -> float:
    """The resource model's figure without the three bases features."""
    coef = rm.coefficients()["mvtu"][target]
    return sum(coef.get(f, 0.0) * v for f, v in features.items() if f not in NEW_FEATURES)


def model_with(features: dict[str, float], target: str, new: dict[str, float]) -> float:
    """The resource model's figure with `new` coefficients for the three bases features."""
    return base_estimate(features, target) + sum(c * features.get(f, 0.0) for f, c in new.items())


def fit_rows(sel: list[dict[str, Any]], target: str) -> dict[str, float]:
    a = np.array([[r["features"].get(f, 0.0) for f in NEW_FEATURES] for r in sel])
    resid = np.array([r[target] - base_estimate(r["features"], target) for r in sel])
    return {f: round(float(v), 4) for f, v in zip(NEW_FEATURES, nnls(a, resid))}


def fit(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """{"lut": {feature: c}, "ff": {...}}: the three features' coefficients on the bases
    rows' residual above the base estimate."""
    sel = [r for r in rows if r["kernel"] == "bases"]
    return {target: fit_rows(sel, target) for target in ("lut", "ff")}


def leave_one_out(rows: list[dict[str, Any]]) -> None:
    """Each bases row's relative error when the fit leaves it out (its "loo" entry): how
    well the fitted terms predict a layer they have not seen."""
    sel = [r for r in rows if r["kernel"] == "bases"]
    for i, r in enumerate(sel):
        others = sel[:i] + sel[i + 1 :]
        r["loo"] = {}
        for t in ("lut", "ff"):
            m = model_with(r["features"], t, fit_rows(others, t))
            r["loo"][t] = round((m - r[t]) / r[t], 3)


def update_coefficients(coef: dict[str, dict[str, float]]) -> None:
    """Only the three features' coefficients in resource_model.json, and a note."""
    doc = json.loads(rm.COEFFICIENTS_FILE.read_text())
    for target in ("lut", "ff"):
        table = doc["coefficients"]["mvtu"][target]
        for f in NEW_FEATURES:
            table[f] = coef[target][f]
    doc[NOTE_KEY] = (
        "base_pair_bits, base_coeff_adders, input_base_bits (the MVTU over binary bases): "
        "non-negative least squares of the bases stages' Yosys LUT/FF above the rest of the "
        "model, W2A2, W1A2 and PA layers, fitted by benchmarks/bases_mvtu.py "
        "(benchmarks/results/bases_mvtu.md); not yet refitted by make calibrate"
    )
    rm.COEFFICIENTS_FILE.write_text(json.dumps(doc, indent=1) + "\n")
    rm.coefficients.cache_clear()


def predict(rows: list[dict[str, Any]]) -> None:
    """Each row's model figures with the coefficients in resource_model.json now."""
    for r in rows:
        e = rm.apply("mvtu", r["features"], r["model_bram36"])
        r["model"] = {"lut": round(e.lut), "ff": round(e.ff)}


def error(model: float, actual: float) -> str:
    return f"{100 * (model - actual) / actual:+.0f}%" if actual else "-"


def mean_abs(values: list[float]) -> float:
    return float(np.mean(np.abs(values)))


def markdown(
    rows: list[dict[str, Any]], coef: dict[str, dict[str, float]], doc: dict[str, Any]
) -> str:
    lines = [
        "# MVTU over binary bases vs the MVTU's small products (Yosys synth_xilinx -family xc7)",
        "",
        f"Command: `{COMMAND}` ({COLD_RUN}; this run {doc['seconds']:.0f} s). One stage",
        "per row: the second layer of a two-layer model plus classifier (the layer that reads",
        "the first layer's multi-bit codes), weights in block RAM, constant thresholds; both",
        "kernels at the same PE and SIMD, so the same cycles. Model: the resource model",
        "(bnn_hls/dataflow/resource_model.py) with the fitted coefficients; error = (model -",
        "Yosys) / Yosys, before (the provisional coefficients) -> after the fit; LOO: the error",
        "when the fit leaves that row out. PA 4x5's conv is at PE 4: at PE 8 its synthesis took",
        "921 s (16554 LUT, 1141 FF).",
        "",
    ]
    groups = list(dict.fromkeys(r["group"] for r in rows))
    for g in groups:
        lines += [
            f"## {g}",
            "",
            "| layer | PE x SIMD | cycles | kernel | Yosys LUT | Yosys FF | model LUT | "
            "model FF | LUT error before -> after (LOO) | FF error before -> after (LOO) |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            if r["group"] != g:
                continue
            m, p = r["model"], r["model_provisional"]
            errs = []
            for t in ("lut", "ff"):
                loo = f" ({100 * r['loo'][t]:+.0f}%)" if "loo" in r else ""
                errs.append(f"{error(p[t], r[t])} -> {error(m[t], r[t])}{loo}")
            lines.append(
                f"| {r['layer']} | {r['pe']} x {r['simd']} | {r['cycles']} | {r['kernel']} | "
                f"{r['lut']} | {r['ff']} | {m['lut']} | {m['ff']} | {errs[0]} | {errs[1]} |"
            )
        lines.append("")
    lines += [
        "## Fitted coefficients (mvtu, per feature unit)",
        "",
        "| feature | LUT before | LUT fitted | FF before | FF fitted |",
        "|---|---|---|---|---|",
    ]
    for f in NEW_FEATURES:
        lines.append(
            f"| {f} | {PROVISIONAL['lut'][f]} | {coef['lut'][f]} | "
            f"{PROVISIONAL['ff'][f]} | {coef['ff'][f]} |"
        )
    lines += ["", "Mean |error| of the bases rows:", ""]
    for name, value in doc["mean_abs_error"].items():
        lines.append(f"- {name}: {100 * value:.0f}%")
    lines += ["", "## Which kernel is cheaper at equal cycles", "", *doc["conclusions"], ""]
    return "\n".join(lines)


def conclusions(rows: list[dict[str, Any]]) -> list[str]:
    """Which kernel is cheaper, shape by shape, where both were measured."""
    out = []
    for g in ("W2A2", "W1A2"):
        pairs: dict[tuple[str, int, int], dict[str, dict[str, Any]]] = {}
        for r in rows:
            if r["group"] == g:
                pairs.setdefault((r["layer"], r["pe"], r["simd"]), {})[r["kernel"]] = r
        for (layer, pe, simd), k in pairs.items():
            mv, ba = k["mvtu"], k["bases"]
            cheaper = "bases" if ba["lut"] < mv["lut"] else "mvtu"
            model_diff = ba["model"]["lut"] - mv["model"]["lut"]
            out.append(
                f"- {g} {layer} at PE {pe} x SIMD {simd}: **{cheaper}** is cheaper in LUT "
                f"(mvtu {mv['lut']} LUT / {mv['ff']} FF, bases {ba['lut']} LUT / {ba['ff']} FF, "
                f"bases/mvtu LUT {ba['lut'] / mv['lut']:.2f}); bases - mvtu: Yosys "
                f"{ba['lut'] - mv['lut']:+d} LUT, model {model_diff:+d}."
            )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=1, help="Yosys runs at a time")
    ap.add_argument("--no-update", action="store_true", help="leave resource_model.json as is")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    t0 = time.perf_counter()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bnn-bases-") as tmp:
        for shape in shapes():
            rows += measure(shape, Path(tmp), args.jobs)
    coef = fit(rows)
    if args.no_update:  # the fitted coefficients, without writing them
        for t in ("lut", "ff"):
            rm.coefficients()["mvtu"][t].update(coef[t])
    else:
        update_coefficients(coef)
    predict(rows)
    leave_one_out(rows)
    bases = [r for r in rows if r["kernel"] == "bases"]
    doc = {
        "command": COMMAND,
        "machine": machine_info(),
        "seconds": round(time.perf_counter() - t0, 1),
        "provisional_coefficients": PROVISIONAL,
        "fitted_coefficients": coef,
        "mean_abs_error": {
            f"{t.upper()} {what}": round(mean_abs([key(r, t) for r in bases]), 3)
            for t in ("lut", "ff")
            for what, key in (
                ("before", lambda r, t: (r["model_provisional"][t] - r[t]) / r[t]),
                ("after", lambda r, t: (r["model"][t] - r[t]) / r[t]),
                ("leave-one-out", lambda r, t: r["loo"][t]),
            )
        },
        "conclusions": conclusions(rows),
        "rows": rows,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bases_mvtu.json").write_text(json.dumps(doc, indent=1) + "\n")
    (RESULTS / "bases_mvtu.md").write_text(markdown(rows, coef, doc))
    logging.info("fitted %s in %.0f s", coef, doc["seconds"])


if __name__ == "__main__":
    main()
