"""The models the benchmarks run: the shipped examples and the reference topologies."""

from __future__ import annotations

from pathlib import Path

import onnx

from bnn_hls.modelgen import reference_topology

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
LOCAL = {
    "digits_mlp": EXAMPLES / "digits" / "digits_mlp.onnx",
    "digits_cnn": EXAMPLES / "digits" / "digits_cnn.onnx",
    "digits_cnn_dynamo": EXAMPLES / "digits" / "digits_cnn_dynamo.onnx",
    "digits_cnn_shared1": EXAMPLES / "digits" / "digits_cnn_shared1.onnx",
    "tfc_mnist": EXAMPLES / "mnist_tfc" / "tfc_mnist.onnx",
}


def model_path(name: str, folder: Path) -> Path:
    """A shipped example, or a reference topology (tfc, sfc, lfc, cnv; seed 0) written to
    `folder`."""
    if name in LOCAL:
        return LOCAL[name]
    path = folder / f"{name}.onnx"
    onnx.save(reference_topology(name), path)
    return path
