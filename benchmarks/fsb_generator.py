"""Weights without memory (docs/fsb.md): LUT, FF and block RAM of an MVTU whose weights come
from the fixed-sign generator, against the same MVTU with its weights in a LUT ROM and in block
RAM, at equal cycles (the same PE and SIMD), on the shapes of CNV's binary layers.

    .venv/bin/python benchmarks/fsb_generator.py [--jobs 2]

Each shape is a one-layer model (binary input, the layer with fixed signs from the generator,
then a 10-class dense layer) whose MVTU stage alone is synthesised by Yosys (synth_xilinx
-family xc7, the `bnn-hls estimate` flow, cached per stage). Writes
benchmarks/results/fsb_generator.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from dataclasses import replace
from pathlib import Path

import onnx

from bnn_hls.backends.rtl import write_rtl_project
from bnn_hls.compiler import compile_file
from bnn_hls.dataflow.folding import default_folding
from bnn_hls.dataflow.lowering import build_plan
from bnn_hls.modelgen import ConvSpec, DenseSpec, build_bnn, with_fixed_signs
from bnn_hls.yosys import estimate_rtl

RESULTS = Path(__file__).resolve().parent / "results"
# CNV's binary layers: (name, input shape, layer, PE, SIMD) at a CNV-like folding
SHAPES = [
    ("conv 64->64 3x3", (64, 3, 3), ConvSpec(64, 3), 16, 32),
    ("conv 128->128 3x3", (128, 3, 3), ConvSpec(128, 3), 8, 32),
    ("conv 256->256 3x3", (256, 3, 3), ConvSpec(256, 3), 4, 32),
    ("dense 512->512", (512,), DenseSpec(512), 8, 16),
]
STYLES = ("lut", "block", "gen")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, shape, layer, pe, simd in SHAPES:
            model = build_bnn(shape, [layer], 10, input_mode="bipolar", seed=1)
            path = Path(tmp) / "m.onnx"
            onnx.save(with_fixed_signs(model, {0: 1}), path)
            c = compile_file(path)
            first = c.model.linear_layers()[0].name
            for style in STYLES:
                folding = default_folding(c.model)
                folding[first] = replace(folding[first], pe=pe, simd=simd, rom=style)
                plan = build_plan(c.model, folding)
                rtl = Path(tmp) / f"rtl_{style}"
                write_rtl_project(c.model, folding, rtl)
                stages = estimate_rtl(rtl, plan, fifos=False, jobs_limit=args.jobs)
                st = next(s for s in stages if s.layer == first and "mvtu" in s.name)
                r = st.resources
                rows.append(
                    {
                        "layer": name,
                        "pe": pe,
                        "simd": simd,
                        "weights": style,
                        "cycles": st.cycles,
                        "lut": r.lut,
                        "ff": r.ff,
                        "bram36": r.bram36,
                    }
                )
                logging.info("%s %s: %s", name, style, rows[-1])
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "fsb_generator.json").write_text(json.dumps(rows, indent=1) + "\n")
    lines = [
        "# MVTU weights: generator vs LUT ROM vs block RAM (Yosys synth_xilinx -family xc7)",
        "",
        "Command: `.venv/bin/python benchmarks/fsb_generator.py`. One MVTU stage per row, the",
        "same PE and SIMD (so the same cycles) for the three weight sources; thresholds writable.",
        "",
        "| layer | PE x SIMD | cycles per image | weights | LUT | FF | RAMB36 |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['layer']} | {r['pe']} x {r['simd']} | {r['cycles']} | {r['weights']} | "
            f"{r['lut']} | {r['ff']} | {r['bram36']} |"
        )
    (RESULTS / "fsb_generator.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
