"""Brevitas' own W1A2 and W2A2 models (examples/brevitas_bnn_pynq, both exporters): the golden
model equals onnxruntime on the file and qonnx's executor's recorded outputs; the generated
C++ and RTL equal the golden model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bnn_hls import golden, ir
from bnn_hls.compiler import compile_file

from .conftest import EXAMPLES, run_cli

FOLDER = EXAMPLES / "brevitas_bnn_pynq"
FILES = sorted(FOLDER.glob("*.onnx"))


def test_both_exporters_and_both_weight_kinds() -> None:
    names = {p.stem for p in FILES}
    for model in ("tfc_1w2a", "tfc_2w2a"):
        assert {f"{model}_torchscript", f"{model}_dynamo"} <= names


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_golden_equals_qonnx_and_onnxruntime(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    c = compile_file(path)
    assert c.model.is_integer_only()
    th = [layer for layer in c.model.layers if isinstance(layer, ir.MultiThreshold)]
    assert len(th) == 3 and all(layer.code_range == (-1, 1) for layer in th)
    if "2w2a" in path.stem:
        assert all(layer.weight_bits() == 2 for layer in c.model.linear_layers())
    ref = np.load(path.with_suffix(".npz"))
    scores = golden.run(c.model, ref["x"]).scores
    assert np.allclose(scores, ref["y"].reshape(scores.shape), rtol=1e-6, atol=1e-6)
    code, out, err = run_cli(["verify", path, "--random", "300"], capsys)
    assert code == 0 and "PASS" in out, out + err


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_csim(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["verify", path, "--level", "csim", "--random", "40"], capsys)
    assert code == 0 and "equal to the golden model: 40/40" in out, out + err


@pytest.mark.parametrize("name", ["tfc_1w2a_dynamo", "tfc_2w2a_torchscript"])
def test_rtlsim(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["verify", FOLDER / f"{name}.onnx", "--level", "rtlsim", "--random", "6", "--json"]
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["passed"] and doc["device_vs_golden"] == 6
    assert doc["rtl"]["cycles_per_image_measured"] == doc["rtl"]["cycles_per_image_model"]


TRAINED = sorted((EXAMPLES / "multibit").glob("*.onnx"))


@pytest.mark.parametrize("path", TRAINED, ids=lambda p: p.stem)
def test_trained_multibit_examples(
    path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """examples/multibit/train_multibit.py's W1A2 / W2A2 exports (digits CNN, TFC on MNIST):
    the whole shipped test set at golden level (the accuracy their .json records on it is not
    asserted: it was measured on the training script's own split), 50 images in C-sim."""
    data = EXAMPLES / ("digits" if path.name.startswith("digits") else "mnist_tfc")
    prefix = "digits_test" if path.name.startswith("digits") else "mnist_test"
    x, y = data / f"{prefix}_x.npy", data / f"{prefix}_y.npy"
    code, out, err = run_cli(["verify", path, "--inputs", x, "--labels", y], capsys)
    assert code == 0, err
    n = len(np.load(y))
    assert f"{n}/{n}" in out
    head = tmp_path / "head.npy"
    np.save(head, np.load(x)[:50])
    code, out, err = run_cli(["verify", path, "--level", "csim", "--inputs", head], capsys)
    assert code == 0, err
