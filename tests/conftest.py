from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from bnn_hls.cli import main
from bnn_hls.modelgen import reference_topology

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
DIGITS = EXAMPLES / "digits"
TFC_MNIST = EXAMPLES / "mnist_tfc"

EXAMPLE_MODELS = [
    DIGITS / "digits_mlp.onnx",
    DIGITS / "digits_cnn.onnx",
    DIGITS / "digits_mlp_dynamo.onnx",
    DIGITS / "digits_cnn_dynamo.onnx",
    TFC_MNIST / "tfc_mnist.onnx",
    TFC_MNIST / "tfc_mnist_dynamo.onnx",
]


@pytest.fixture(scope="session")
def reference_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The four reference topologies, written once per test session."""
    folder = tmp_path_factory.mktemp("reference")
    for name in ("tfc", "sfc", "lfc", "cnv"):
        onnx.save(reference_topology(name, seed=0), folder / f"{name}.onnx")
    return folder


def save(model: onnx.ModelProto, folder: Path, name: str = "model.onnx") -> Path:
    path = folder / name
    onnx.save(model, path)
    return path


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """The CLI in-process: (exit status, stdout, stderr); argparse's refusals exit 2."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 2
    out, err = capsys.readouterr()
    return code, out, err


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)
