"""How many of each shipped PA export's test images change their top-1 when the compiler
rounds the real weight levels and activation values to B coefficient bits (--coeff-bits,
docs/pa.md): the measurement behind the default.

    .venv/bin/python examples/pa/coeff_bits.py [--bits 6-16]

Prints, per export and B, "disagreements / of them without a near tie" on the whole test set
(digits 450, MNIST 200), the compiled integer model against onnxruntime on the export.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bnn_hls.compiler import compile_file
from bnn_hls.passes import PassOptions
from bnn_hls.reference import SourceModel
from bnn_hls.verify import load_inputs, verify_golden

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bits", default="6-16", help="a range lo-hi of coefficient bits")
    args = ap.parse_args()
    lo, hi = (int(v) for v in args.bits.split("-"))
    print("| export | " + " | ".join(f"{b} bits" for b in range(lo, hi + 1)) + " |")
    print("|---|" + "---|" * (hi - lo + 1))
    for path in sorted(HERE.glob("*.onnx")):
        digits = path.name.startswith("digits")
        images = EXAMPLES / ("digits/digits_test_x.npy" if digits else "mnist_tfc/mnist_test_x.npy")
        cells = []
        for bits in range(lo, hi + 1):
            c = compile_file(path, PassOptions(coeff_bits=bits))
            x = load_inputs(images, c.model.input)
            rep = verify_golden(c.model, SourceModel(c.onnx_model, c.info), x)
            cells.append(f"{rep.images - rep.label_agreement} / {rep.label_disagreements_off_ties}")
        print(f"| {path.stem} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
