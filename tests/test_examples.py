"""The shipped examples (Brevitas exports, both exporters) and the four reference topologies
load, compile and verify at 100 %."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bnn_hls.compiler import compile_file
from bnn_hls.reference import SourceModel
from bnn_hls.verify import random_inputs, verify_golden

from .conftest import DIGITS, EXAMPLE_MODELS, TFC_MNIST, run_cli


@pytest.mark.parametrize("path", EXAMPLE_MODELS, ids=lambda p: p.name)
def test_example_verifies_on_random_inputs(path: Path) -> None:
    c = compile_file(path)
    x = random_inputs(c.model.input, 300, seed=1)
    rep = verify_golden(c.model, SourceModel(c.onnx_model, c.info), x)
    assert rep.all_agree, rep


@pytest.mark.parametrize("name", ["digits_mlp", "digits_cnn"])
def test_digits_accuracy_matches_record(name: str) -> None:
    x = np.load(DIGITS / "digits_test_x.npy")
    y = np.load(DIGITS / "digits_test_y.npy")
    record = json.loads((DIGITS / f"{name}.onnx.json").read_text())
    for suffix in ("", "_dynamo"):
        c = compile_file(DIGITS / f"{name}{suffix}.onnx")
        rep = verify_golden(c.model, SourceModel(c.onnx_model, c.info), x, y)
        assert rep.all_agree
        assert rep.accuracy_golden == pytest.approx(record["test_accuracy_float_model"])
        assert rep.accuracy_golden > 0.9


def test_tfc_mnist_accuracy() -> None:
    x = np.load(TFC_MNIST / "mnist_test_x.npy")
    y = np.load(TFC_MNIST / "mnist_test_y.npy")
    c = compile_file(TFC_MNIST / "tfc_mnist.onnx")
    rep = verify_golden(c.model, SourceModel(c.onnx_model, c.info), x, y)
    assert rep.all_agree
    assert rep.accuracy_golden is not None and rep.accuracy_golden > 0.75


def test_exporters_give_the_same_ir() -> None:
    for base in ("digits_mlp", "digits_cnn"):
        a = compile_file(DIGITS / f"{base}.onnx").model
        b = compile_file(DIGITS / f"{base}_dynamo.onnx").model
        assert [layer.kind for layer in a.layers] == [layer.kind for layer in b.layers]


@pytest.mark.parametrize("name", ["tfc", "sfc", "lfc", "cnv"])
def test_reference_topology_verifies(
    reference_dir: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    n = 40 if name == "cnv" else 200
    code, out, err = run_cli(["verify", reference_dir / f"{name}.onnx", "--random", n], capsys)
    assert code == 0, out + err
    assert f"{n}/{n}" in out


def test_cnv_structure(reference_dir: Path) -> None:
    c = compile_file(reference_dir / "cnv.onnx")
    convs = [layer for layer in c.model.linear_layers() if layer.kind == "conv"]
    assert [layer.out_channels for layer in convs] == [64, 64, 128, 128, 256, 256]
    assert convs[0].input_kind == "int" and convs[1].input_kind == "bit"
    assert c.model.input.out_shape == (32, 32, 3)
    bs = c.model.notes["batchshift"]
    assert sum(e["negated_channels"] for e in bs) > 0  # random gamma < 0 handled
    assert sum(e["constant_channels"] for e in bs) > 0


def test_make_reference_script(tmp_path: Path) -> None:
    import subprocess
    import sys

    from .conftest import EXAMPLES

    script = EXAMPLES / "reference" / "make_reference.py"
    res = subprocess.run(
        [sys.executable, str(script), "--out-dir", str(tmp_path), "tfc", "sfc"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sfc.onnx", "tfc.onnx"]
    c = compile_file(tmp_path / "sfc.onnx")
    assert [layer.out_channels for layer in c.model.linear_layers()] == [256, 256, 256, 10]
