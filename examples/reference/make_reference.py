"""Write the field's four reference BNN topologies as QONNX files with random weights.

TFC, SFC, LFC (784-{64,256,1024}x3-10, binary input) and CNV (CIFAR-10 3x32x32, 8-bit input,
convs 64-64-pool-128-128-pool-256-256, FC 512-512-10), as in Brevitas' bnn_pynq models, with
randomised BatchNorm statistics (some gamma negative or zero). For structure and performance
work: the weights are random, so the accuracy means nothing. No torch needed.

    python examples/reference/make_reference.py --out-dir build/reference [--seed 0] [names...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import onnx

from bnn_hls.modelgen import REFERENCE_TOPOLOGIES, reference_topology


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "names",
        nargs="*",
        default=list(REFERENCE_TOPOLOGIES),
        help=f"any of {', '.join(REFERENCE_TOPOLOGIES)} (default: all)",
    )
    ap.add_argument("--out-dir", type=Path, default=Path("build/reference"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    unknown = sorted(set(args.names) - set(REFERENCE_TOPOLOGIES))
    if unknown:
        ap.error(f"unknown topology {', '.join(unknown)}; choose from {REFERENCE_TOPOLOGIES}")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name in args.names:
        path = args.out_dir / f"{name}.onnx"
        onnx.save(reference_topology(name, args.seed), path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
