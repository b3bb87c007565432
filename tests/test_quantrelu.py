"""Brevitas QuantReLU (Relu, then an unsigned Quant) from both exporters
(examples/brevitas_quantrelu): the Relu is dropped before the walk, the compiled model equals
PyTorch and onnxruntime, C-sim and RTL-sim equal the golden model; a Relu the Quant does not
make redundant is still refused, naming it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from bnn_hls import golden
from bnn_hls.compiler import compile_file

from .conftest import EXAMPLES, run_cli

FOLDER = EXAMPLES / "brevitas_quantrelu"
FILES = sorted(FOLDER.glob("*.onnx"))


def test_both_exporters_and_both_models() -> None:
    names = {p.stem for p in FILES}
    for model in ("quantrelu_mlp", "quantrelu_cnn"):
        assert {f"{model}_torchscript", f"{model}_dynamo"} <= names
    for path in FILES:
        assert any(n.op_type == "Relu" for n in onnx.load(path).graph.node)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_golden_equals_pytorch(path: Path) -> None:
    ref = np.load(path.with_suffix(".npz"))
    c = compile_file(path)
    assert c.model.is_integer_only()
    scores = golden.run(c.model, ref["x"]).scores
    assert np.allclose(scores, ref["y"].reshape(scores.shape), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "path, level",
    [
        (FOLDER / "quantrelu_mlp_dynamo.onnx", "csim"),
        (FOLDER / "quantrelu_cnn_torchscript.onnx", "csim"),
        (FOLDER / "quantrelu_cnn_dynamo.onnx", "rtlsim"),
    ],
    ids=lambda v: v.stem if isinstance(v, Path) else v,
)
def test_hardware_equals_golden(
    path: Path, level: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x = tmp_path / "x.npy"
    np.save(x, np.load(path.with_suffix(".npz"))["x"])
    code, out, err = run_cli(["verify", path, "--inputs", x, "--level", level], capsys)
    assert code == 0, out + err
    assert "PASS" in out


def _edited(path: Path, tmp_path: Path, how: str) -> Path:
    """The MLP export with its first QuantReLU's Quant made signed, or given a zero point of
    1, or without that Quant."""
    model = onnx.load(path)
    graph = model.graph
    relu = next(n for n in graph.node if n.op_type == "Relu")
    quant = next(n for n in graph.node if relu.output[0] in n.input)
    if how == "signed":
        for a in quant.attribute:
            if a.name == "signed":
                a.i = 1
    elif how == "zero_point":
        graph.initializer.append(numpy_helper.from_array(np.array(1.0, np.float32), "zp_one"))
        quant.input[2] = "zp_one"
    else:  # no Quant after the Relu: its reader reads the Relu
        for n in graph.node:
            for i, name in enumerate(n.input):
                if name == quant.output[0]:
                    n.input[i] = relu.output[0]
        graph.node.remove(quant)
    out = tmp_path / f"{how}.onnx"
    onnx.save(model, out)
    return out


@pytest.mark.parametrize("how", ["signed", "zero_point", "no_quant"])
def test_a_relu_that_matters_is_refused(
    how: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _edited(FOLDER / "quantrelu_mlp_torchscript.onnx", tmp_path, how)
    before = path.read_bytes()
    code, out, err = run_cli(["compile", path, "-o", tmp_path / "out"], capsys)
    assert code == 2, out + err
    assert "Relu" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert path.read_bytes() == before  # the input model is never changed
