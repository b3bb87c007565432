"""The native Verilator testbench (sim/verilator/bnn_tb.cpp): the same scores and cycles as the
cocotb bench, every shipped example's whole test set through the RTL from the CLI, builds
shared through the cache by models of one structure."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bnn_hls import golden
from bnn_hls.backends.rtl import write_rtl_project
from bnn_hls.compiler import compile_file
from bnn_hls.dataflow.folding import default_folding
from bnn_hls.rtlsim import native
from bnn_hls.rtlsim.runner import RtlSim
from bnn_hls.verify import random_inputs

from .conftest import DIGITS, EXAMPLES, TFC_MNIST, run_cli
from .test_larq import LARQ
from .test_larq import test_images as larq_images

# (model, its test images, labels): every shipped example with a test set
TEST_SETS = [
    *[
        (p, DIGITS / "digits_test_x.npy", DIGITS / "digits_test_y.npy")
        for p in DIGITS.glob("*.onnx")
    ],
    *[
        (p, TFC_MNIST / "mnist_test_x.npy", TFC_MNIST / "mnist_test_y.npy")
        for p in TFC_MNIST.glob("*.onnx")
    ],
    *[
        (p, larq_images(p), DIGITS / "digits_test_y.npy")
        for p in LARQ.glob("*.onnx")
        if "fpfirst" not in p.name  # a float first layer: refused, tested in test_larq
    ],
    # trained multi-bit, fixed-sign and piecewise-approximation exports (digits or TFC)
    *[
        (p, DIGITS / "digits_test_x.npy", DIGITS / "digits_test_y.npy")
        if p.name.startswith("digits")
        else (p, TFC_MNIST / "mnist_test_x.npy", TFC_MNIST / "mnist_test_y.npy")
        for folder in ("multibit", "fsb", "pa")
        for p in (EXAMPLES / folder).glob("*.onnx")
    ],
]


@pytest.mark.parametrize(
    "model,images,labels", sorted(TEST_SETS), ids=lambda v: v.stem if isinstance(v, Path) else ""
)
def test_whole_test_set_through_the_rtl(
    model: Path, images: Path, labels: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As a user checks the hardware: every image of the shipped test set, bit-exact, and the
    accuracy of the RTL equal to the compiled model's."""
    args = ["verify", model, "--level", "rtlsim", "--inputs", images, "--labels", labels]
    code, out, err = run_cli([*args, "--json"], capsys)
    assert code == 0, out + err
    doc = json.loads(out)
    n = len(np.load(labels))
    assert doc["passed"] and doc["device_vs_golden"] == n >= 200, doc
    assert doc["rtl"]["harness"] == "native" and doc["rtl"]["backpressure_run_agrees"]
    assert doc["rtl"]["cycles_per_image_measured"] is not None


def test_native_and_cocotb_benches_agree(tmp_path: Path) -> None:
    """Both testbenches on one design: the same scores, and the same cycle figures for the run
    without stalls (their stall patterns differ, so only scores are compared under stalls)."""
    c = compile_file(DIGITS / "digits_cnn.onnx")
    plan = write_rtl_project(c.model, default_folding(c.model), tmp_path / "rtl")
    x = random_inputs(c.model.input, 12, seed=3)
    words = plan.pack_inputs(golden.input_quant(c.model.input, x))
    expected = golden.run(c.model, x).acc
    results = {
        h: RtlSim(tmp_path / "rtl", tmp_path / f"build_{h}", harness=h).run(words, expected, 5)
        for h in ("native", "cocotb")
    }
    for res in results.values():
        assert res.scores_ok and res.scores is not None
        np.testing.assert_array_equal(res.scores, expected)
    a, b = results["native"].runs[0], results["cocotb"].runs[0]
    for key in ("cycles_per_image", "latency_cycles", "agree"):
        assert a[key] == b[key], (key, a[key], b[key])
    assert results["native"].runs[1]["agree"] == 12


def test_models_of_one_structure_share_a_build(tmp_path: Path) -> None:
    """The executable does not hold the weights ($readmemh reads them from the design folder
    when the simulation starts): a second model of the same shape reuses the build from the
    cache, and computes with its own weights."""
    a = compile_file(LARQ / "larq_mlp_op13.onnx")
    b = compile_file(LARQ / "larq_mlp_bnscale_op13.onnx")
    folding = default_folding(a.model)
    for name, c in (("a", a), ("b", b)):
        plan = write_rtl_project(c.model, folding, tmp_path / name)
        x = random_inputs(c.model.input, 6, seed=1)
        words = plan.pack_inputs(golden.input_quant(c.model.input, x))
        expected = golden.run(c.model, x).acc
        res = native.simulate(tmp_path / name, words, expected, backpressure=False)
        assert res.scores is not None
        np.testing.assert_array_equal(res.scores, expected)
        if name == "b":
            assert res.build_cached


def test_wide_input_words(tmp_path: Path) -> None:
    """An input stream wider than 64 bits (Verilator's multi-word ports): the digits MLP's
    first layer taking 32 8-bit pixels per cycle reads 256-bit AXI words."""
    from dataclasses import replace

    c = compile_file(DIGITS / "digits_mlp.onnx")
    folding = default_folding(c.model)
    first = next(iter(folding))
    folding[first] = replace(folding[first], simd=32)
    plan = write_rtl_project(c.model, folding, tmp_path / "rtl")
    assert plan.in_axi_bits == 256, plan.in_axi_bits
    x = random_inputs(c.model.input, 20, seed=2)
    words = plan.pack_inputs(golden.input_quant(c.model.input, x))
    expected = golden.run(c.model, x).acc
    res = native.simulate(tmp_path / "rtl", words, expected, seed=4)
    assert res.scores_ok, res.runs
    assert res.runs[0]["cycles_per_image"] is not None


def test_progress_lines_and_quiet(
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Off a terminal a long step logs plain progress lines (counts and seconds); -q silences
    them. (Every step counts as long here: a line at most every 0 s.)"""
    import logging

    monkeypatch.setattr("bnn_hls.progress.PLAIN_INTERVAL_S", 0.0)

    args = ["verify", DIGITS / "digits_mlp.onnx", "--level", "rtlsim", "--random", "12"]
    with caplog.at_level(logging.INFO, logger="bnn_hls.progress"):
        code, _, err = run_cli(args, capsys)
    assert code == 0, err
    lines = [r.getMessage() for r in caplog.records if r.name == "bnn_hls.progress"]
    assert any(line.startswith("RTL simulation: 24/24 images") for line in lines), lines
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="bnn_hls.progress"):
        code, _, err = run_cli(["-q", *args], capsys)
    assert code == 0, err
    assert not [r for r in caplog.records if r.name == "bnn_hls.progress"]
