"""Resources of the digits CNN variants at the same throughput (at least 100,000 images/s at
100 MHz), by the resource model (fitted on Yosys): the trained BNN, the fixed-sign CNN with its
weights in memory (the optimiser's choice) and from the generator (rom "gen" on every
fixed-sign layer), and the codebook CNN with result sharing.

    .venv/bin/python examples/fsb/same_throughput.py [CODEBOOK_MODEL.onnx]

CODEBOOK_MODEL: an export of `train_fsb.py --model cnn --mode fsb --last trained --codebook 4`
(not shipped; the row is skipped without it).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from bnn_hls.compiler import FoldingRequest, choose_folding, compile_file
from bnn_hls.dataflow.cycles import initiation_interval
from bnn_hls.dataflow.lowering import build_plan
from bnn_hls.dataflow.signgen import generator_refusal
from bnn_hls.passes import PassOptions, parse_sharing

ROOT = Path(__file__).resolve().parents[2]
TARGET_FPS = 100_000


def row(name: str, path: Path, sharing: str = "off", generator: bool = False) -> str:
    c = compile_file(path, PassOptions(sharing=parse_sharing(sharing)))
    folding = choose_folding(c, FoldingRequest(target_fps=TARGET_FPS)).folding
    if generator:
        folding = {
            layer.name: replace(folding[layer.name], rom="gen", kernel="mvtu")
            if generator_refusal(layer) is None
            else folding[layer.name]
            for layer in c.model.linear_layers()
        }
    plan = build_plan(c.model, folding)
    _, total = plan.resource_estimate()
    ii = initiation_interval(plan)
    kinds = ", ".join(
        f"{k}: {f.rom if f.kernel == 'mvtu' else f.kernel}" for k, f in folding.items()
    )
    return (
        f"| {name} | {ii} | {1e8 / ii:,.0f} | {total.lut:,.0f} | {total.ff:,.0f} | "
        f"{total.bram36:g} | {kinds} |"
    )


def main() -> None:
    print("| variant | cycles/image | images/s | LUT | FF | RAMB36 | weights per layer |")
    print("|---|---|---|---|---|---|---|")
    print(row("bnn", ROOT / "examples/digits/digits_cnn.onnx"))
    fsb = ROOT / "examples/fsb/digits_cnn_fsb.onnx"
    print(row("fsb, last trained: weights in memory", fsb))
    print(row("fsb, last trained: weights from the generator", fsb, generator=True))
    if len(sys.argv) > 1:
        print(row("fsb codebook 4, last trained, --sharing exact", Path(sys.argv[1]), "exact"))


if __name__ == "__main__":
    main()
