"""Cross-check the onnxruntime rewrite of QONNX ops (frontend/qonnx_ops.to_standard_onnx,
what `verify` compares the compiled model with) against the qonnx package's own executor,
on random models with MultiThreshold (and Quant) activations. Two steps, two environments:
qonnx pins its own onnx, so it runs in a separate venv and is no dependency of bnn-hls.

    .venv/bin/python tools/qonnx_crosscheck.py write /tmp/qcheck      # models, inputs, ours
    python3 -m venv /tmp/qvenv && /tmp/qvenv/bin/pip install qonnx==0.4.0
    /tmp/qvenv/bin/python tools/qonnx_crosscheck.py check /tmp/qcheck # qonnx's outputs vs ours

`check` prints, per model, the largest |qonnx - ours| over the scores and whether the top-1
classes are equal, and exits 1 if any top-1 differs or any score differs by more than 1e-5.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

MODELS = 12
IMAGES = 32


def write(folder: Path) -> None:
    import onnx

    from bnn_hls.compiler import compile_file
    from bnn_hls.modelgen import ConvSpec, DenseSpec, MultiThresholdSpec, WeightQuant, build_bnn
    from bnn_hls.reference import SourceModel
    from bnn_hls.verify import random_inputs

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)
    for i in range(MODELS):
        if i % 3 == 0:
            mt = MultiThresholdSpec(2, bool(i % 2), 2.0, -1.0)  # bipolar
        else:
            levels = int(rng.integers(3, 6))
            scale = float(rng.choice([1.0, 0.5, 0.25, 2.0]))
            lo = -int(rng.integers(0, levels))
            mt = MultiThresholdSpec(levels, bool(i % 2), scale, lo * scale)
        if i % 2 == 0:
            shape: tuple[int, ...] = (2, 6, 6)
            layers: list[ConvSpec | DenseSpec] = [
                ConvSpec(int(rng.integers(2, 8)), 3, 1, 1, 2, i % 4 == 2),
                DenseSpec(int(rng.integers(4, 12))),
            ]
        else:
            shape = (20,)
            layers = [DenseSpec(int(rng.integers(4, 16))), DenseSpec(int(rng.integers(4, 12)))]
        weights = WeightQuant(2, True, True) if i % 3 == 1 else None
        model = build_bnn(shape, layers, 5, input_mode="quant8", seed=i, mt=mt, weights=weights)
        path = folder / f"m{i}.onnx"
        onnx.save(model, path)
        c = compile_file(path)
        x = random_inputs(c.model.input, IMAGES, seed=i)
        np.save(folder / f"x{i}.npy", x)
        np.save(folder / f"ours{i}.npy", SourceModel(c.onnx_model, c.info).run(x).outputs)
    print(f"wrote {MODELS} models to {folder}")


def check(folder: Path) -> int:
    import onnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes

    worst, bad = 0.0, 0
    for i in range(MODELS):
        m = ModelWrapper(onnx.load(folder / f"m{i}.onnx"))
        inp = m.graph.input[0]
        m.set_tensor_shape(
            inp.name, [1, *[d.dim_value for d in inp.type.tensor_type.shape.dim[1:]]]
        )
        m = m.transform(InferShapes())
        out = m.graph.output[0].name
        x, ours = np.load(folder / f"x{i}.npy"), np.load(folder / f"ours{i}.npy")
        theirs = np.concatenate(
            [execute_onnx(m, {inp.name: x[k : k + 1]})[out] for k in range(len(x))]
        )
        diff = float(np.max(np.abs(theirs - ours)))
        same_top1 = bool(np.array_equal(theirs.argmax(1), ours.argmax(1)))
        worst = max(worst, diff)
        bad += (not same_top1) or diff > 1e-5
        print(f"model {i}: max |qonnx - ours| {diff:.3g}, top-1 equal {same_top1}")
    print(f"worst {worst:.3g}; {bad} of {MODELS} models differ")
    return 1 if bad else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("step", choices=["write", "check"])
    ap.add_argument("folder", type=Path)
    args = ap.parse_args()
    if args.step == "write":
        write(args.folder)
        return 0
    return check(args.folder)


if __name__ == "__main__":
    sys.exit(main())
