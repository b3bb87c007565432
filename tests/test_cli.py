"""The command line: inspect, compile (atomic output, --force), verify (exit codes, inputs)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bnn_hls import golden, ir
from bnn_hls.compiler import compile_file

from .conftest import DIGITS, run_cli

CNN = DIGITS / "digits_cnn.onnx"


def test_inspect_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["inspect", CNN], capsys)
    assert code == 0
    assert "BatchShift" in out and "l1_conv" in out and "MACs per image" in out
    code, out, _ = run_cli(["inspect", CNN, "--json"], capsys)
    rep = json.loads(out)
    assert rep["integer_only"] is True
    assert rep["totals"]["macs_per_image"] > 0
    assert rep["batchshift"]["float_ops_removed_per_image"] > 0
    kinds = [row["kind"] for row in rep["layers"]]
    assert kinds[0] == "input_quant" and kinds[-1] == "scores"


def test_compile_writes_ir_that_round_trips(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code, _, _ = run_cli(["compile", CNN, "-o", out], capsys)
    assert code == 0
    assert (out / "ir" / "ir.json").is_file() and (out / "report.json").is_file()
    loaded = ir.Model.load(out / "ir")
    original = compile_file(CNN).model
    x = np.load(DIGITS / "digits_test_x.npy")[:50]
    assert np.array_equal(golden.run(loaded, x).scores, golden.run(original, x).scores)
    assert not list(tmp_path.glob(".out.partial-*"))


def test_compile_refuses_non_empty_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    code, _, err = run_cli(["compile", CNN, "-o", out], capsys)
    assert code == 2 and "--force" in err
    assert (out / "precious.txt").read_text() == "keep me"
    # --force replaces only what bnn-hls wrote: a file it did not write stops it
    code, _, err = run_cli(["compile", CNN, "-o", out, "--force"], capsys)
    assert code == 2 and "only a folder bnn-hls wrote" in err
    assert (out / "precious.txt").read_text() == "keep me"
    (out / "precious.txt").unlink()
    fresh = tmp_path / "fresh"
    assert run_cli(["compile", CNN, "-o", fresh], capsys)[0] == 0
    assert run_cli(["compile", CNN, "-o", fresh, "--force"], capsys)[0] == 0
    assert (fresh / "ir" / "ir.json").exists() and (fresh / ".bnn-hls-output.json").exists()


def test_failed_compile_leaves_no_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"garbage")
    code, _, _ = run_cli(["compile", bad, "-o", tmp_path / "out"], capsys)
    assert code == 2
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.onnx"]


def test_verify_inputs_and_labels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        [
            "verify",
            CNN,
            "--inputs",
            DIGITS / "digits_test_x.npy",
            "--labels",
            DIGITS / "digits_test_y.npy",
            "--json",
        ],
        capsys,
    )
    rep = json.loads(out)
    assert code == 0 and rep["passed"] and rep["images"] == 450
    assert rep["accuracy_golden"] > 0.9


def test_verify_single_image_and_bad_shape(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one = tmp_path / "one.npy"
    np.save(one, np.load(DIGITS / "digits_test_x.npy")[0])  # (1, 8, 8): one image
    code, out, _ = run_cli(["verify", CNN, "--inputs", one], capsys)
    assert code == 0 and "1/1" in out
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((3, 8, 9), np.float32))
    code, _, err = run_cli(["verify", CNN, "--inputs", bad], capsys)
    assert code == 2 and "expected (N, 1, 8, 8)" in err


def test_verify_random_is_reproducible(capsys: pytest.CaptureFixture[str]) -> None:
    a = run_cli(["verify", CNN, "--random", "20", "--seed", "5", "--json"], capsys)[1]
    b = run_cli(["verify", CNN, "--random", "20", "--seed", "5", "--json"], capsys)[1]
    assert json.loads(a) == json.loads(b)


def test_entry_point_module_runs() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "bnn_hls.cli", "--help"], capture_output=True, text=True, check=False
    )
    assert res.returncode == 0 and "inspect" in res.stdout and "verify" in res.stdout
