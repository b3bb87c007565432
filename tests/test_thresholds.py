"""Writable thresholds (docs/thresholds.md): one generated accelerator, models with the same
weights and other thresholds loaded at run time, each bit-exact with its own golden model, in
C-sim and RTL-sim (native testbench, and the AXI wrapper through its AXI-Lite registers as
the driver drives it); `bnn-hls update` refusing what a load cannot change."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from bnn_hls import golden
from bnn_hls.backends.hls import write_hls_project
from bnn_hls.backends.rtl import write_rtl_project
from bnn_hls.compiler import compile_file
from bnn_hls.csim import CSim
from bnn_hls.dataflow.folding import Fold, default_folding
from bnn_hls.dataflow.lowering import build_plan
from bnn_hls.dataflow.tables import hardware_fingerprint, load_tables, load_values
from bnn_hls.hostsim import CsimDevice, RtlsimDevice
from bnn_hls.modelgen import ActQuant, ConvSpec, DenseSpec, build_bnn
from bnn_hls.packing import load_word_count, pack_load_values
from bnn_hls.passes import PassOptions, parse_sharing
from bnn_hls.rtlsim.runner import RtlSim
from bnn_hls.verify import random_inputs

from .conftest import DIGITS, ROOT, run_cli, save
from .model_edit import with_new_batchnorm

sys.path.insert(0, str(ROOT / "host"))
from bnn_driver import BnnAccelerator


def test_load_words_layout() -> None:
    values = np.array([1, -2, 0x12345678, -(2**31)])
    wide = pack_load_values(values, 8)
    assert wide.shape == (4, 8) and not wide[:, 4:].any()
    assert wide[2, :4].tolist() == [0x78, 0x56, 0x34, 0x12]
    narrow = pack_load_values(values, 1)
    assert narrow.shape == (16, 1) and narrow[4:8, 0].tolist() == [0xFE, 0xFF, 0xFF, 0xFF]
    assert pack_load_values(values, 2).shape == (8, 2) == (load_word_count(4, 2), 2)
    with pytest.raises(ValueError):
        pack_load_values(np.array([2**31]), 4)


# models that exercise every kind of writable table: 8-bit pixels (a value in 4 words),
# binary inputs in 64-bit words (a value per word), the result-sharing unit, multi-level codes
CASES = {
    "conv_pool": dict(shape=(1, 6, 6), layers=[ConvSpec(4, 3, 1, 1, pool=2), DenseSpec(8)], kw={}),
    "dense_bipolar": dict(
        shape=(64,), layers=[DenseSpec(16), DenseSpec(8)], kw={"input_mode": "bipolar"}
    ),
    "shared_conv": dict(
        shape=(2, 6, 6), layers=[ConvSpec(4, 3, 1, 1), ConvSpec(8, 3)], kw={}, sharing="exact"
    ),
    "multilevel": dict(
        shape=(12,), layers=[DenseSpec(8), DenseSpec(6)], kw={"act": ActQuant(2, True, False, 0.5)}
    ),
}


def _compiled(path: Path, sharing: str) -> object:
    return compile_file(path, PassOptions(sharing=parse_sharing(sharing)))


@pytest.mark.parametrize("name", sorted(CASES))
def test_one_accelerator_two_threshold_sets(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    sharing = case.get("sharing", "off")
    model = build_bnn(case["shape"], case["layers"], 4, seed=3, **case["kw"])  # type: ignore[arg-type]
    a = _compiled(save(model, tmp_path, "a.onnx"), sharing)
    b = _compiled(save(with_new_batchnorm(model, 7), tmp_path, "b.onnx"), sharing)
    folding = default_folding(a.model)  # type: ignore[attr-defined]
    if name == "shared_conv":
        assert any(f.kernel == "shared" for f in folding.values())
    plan_a = build_plan(a.model, folding)  # type: ignore[attr-defined]
    plan_b = build_plan(b.model, folding)  # type: ignore[attr-defined]
    assert hardware_fingerprint(plan_a) == hardware_fingerprint(plan_b)
    assert load_tables(plan_a) and not np.array_equal(load_values(plan_a), load_values(plan_b))
    write_hls_project(a.model, folding, tmp_path / "hls")  # type: ignore[attr-defined]
    write_rtl_project(a.model, folding, tmp_path / "rtl")  # type: ignore[attr-defined]
    x = random_inputs(a.model.input, 24, seed=1)  # type: ignore[attr-defined]
    words = plan_a.pack_inputs(golden.input_quant(a.model.input, x))  # type: ignore[attr-defined]
    expected_a = golden.run(a.model, x).acc  # type: ignore[attr-defined]
    expected_b = golden.run(b.model, x).acc  # type: ignore[attr-defined]
    assert not np.array_equal(expected_a, expected_b)
    word_bytes = plan_a.in_axi_bits // 8
    load_b = pack_load_values(load_values(plan_b), word_bytes)
    load_a = pack_load_values(load_values(plan_a), word_bytes)

    (tmp_path / "csim").mkdir()
    csim = CSim(tmp_path / "hls", tmp_path / "csim")
    csim.build()
    classes = expected_a.shape[1]
    assert np.array_equal(csim.run(words, len(x), classes), expected_a)  # as built
    assert np.array_equal(csim.run(words, len(x), classes, load=load_b), expected_b)
    assert np.array_equal(csim.run(words, len(x), classes, load=load_a), expected_a)

    rtl = RtlSim(tmp_path / "rtl", tmp_path / "rtl_build")
    for load, expected in ((load_b, expected_b), (load_a, expected_a)):
        res = rtl.run(words, expected, seed=2, load=load)
        assert all(r.get("mismatched_images") == [] for r in res.runs), res.runs
        assert np.array_equal(res.scores, expected)


def test_axi_wrapper_loads_through_its_registers(tmp_path: Path) -> None:
    """bnn_top_axi in cocotb, driven as the board driver drives it: load_thresholds at 0x18,
    a start with num_images = 0, the load words, then a batch."""
    model = build_bnn((16,), [DenseSpec(8)], 3, input_mode="bipolar", seed=5)
    a = compile_file(save(model, tmp_path, "a.onnx"))
    b = compile_file(save(with_new_batchnorm(model, 2), tmp_path, "b.onnx"))
    folding = default_folding(a.model)
    plan_a, plan_b = build_plan(a.model, folding), build_plan(b.model, folding)
    write_rtl_project(a.model, folding, tmp_path / "rtl")
    x = random_inputs(a.model.input, 12, seed=3)
    words = plan_a.pack_inputs(golden.input_quant(a.model.input, x))
    expected_b = golden.run(b.model, x).acc
    assert not np.array_equal(golden.run(a.model, x).acc, expected_b)
    load = pack_load_values(load_values(plan_b), plan_a.in_axi_bits // 8)
    res = RtlSim(tmp_path / "rtl", tmp_path / "build", top="bnn_top_axi").run(
        words, expected_b, backpressure=False, load=load
    )
    assert res.runs[0]["mismatched_images"] == [], res.runs
    assert np.array_equal(res.scores, expected_b)


@pytest.fixture(scope="module")
def digits_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("build") / "b"
    code = __import__("bnn_hls.cli", fromlist=["main"]).main(
        ["-q", "build", str(DIGITS / "digits_cnn.onnx"), "-o", str(out)]
    )
    assert code == 0
    return out


def test_update_and_load_through_the_driver(
    digits_build: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The user's path: build, `bnn-hls update` with a retrained model (new BatchNorm), the
    driver's load_thresholds on the C-sim and RTL-sim devices; then back to the first model."""
    deploy = digits_build / "deploy"
    source = onnx.load(DIGITS / "digits_cnn.onnx")
    new = save(with_new_batchnorm(source, 11), tmp_path, "retrained.onnx")
    x = np.load(DIGITS / "digits_test_x.npy")[:40]
    expected_old = golden.run(compile_file(DIGITS / "digits_cnn.onnx").model, x).acc
    expected_new = golden.run(compile_file(new).model, x).acc
    assert not np.array_equal(expected_old, expected_new)
    for device in (CsimDevice(digits_build / "hls"), RtlsimDevice(digits_build / "rtl")):
        accel = BnnAccelerator(str(deploy), device=device)
        assert np.array_equal(accel.integer_scores(x), expected_old)  # as built
        code, out, err = run_cli(["update", new, "--deploy", deploy], capsys)
        assert code == 0, err
        assert "thresholds.json" in out
        accel.load_thresholds("thresholds.json")
        assert np.array_equal(accel.integer_scores(x), expected_new)
        code, _, err = run_cli(["update", DIGITS / "digits_cnn.onnx", "--deploy", deploy], capsys)
        assert code == 0, err
        accel.load_thresholds("thresholds.json")
        assert np.array_equal(accel.integer_scores(x), expected_old)


def _flip_one_weight(model: onnx.ModelProto) -> onnx.ModelProto:
    out = onnx.ModelProto()
    out.CopyFrom(model)
    conv = next(n for n in out.graph.node if n.op_type == "Conv")
    producers = {o: n for n in out.graph.node for o in n.output}
    inits = {t.name: t for t in out.graph.initializer}
    name = conv.input[1]
    while name not in inits:  # through the weight quantiser
        name = producers[name].input[0]
    w = numpy_helper.to_array(inits[name]).copy()
    w.flat[0] = -w.flat[0] if w.flat[0] != 0 else 1.0
    inits[name].CopyFrom(numpy_helper.from_array(w, name))
    return out


def test_update_refuses_what_a_load_cannot_change(
    digits_build: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deploy = digits_build / "deploy"
    flipped = save(_flip_one_weight(onnx.load(DIGITS / "digits_cnn.onnx")), tmp_path, "f.onnx")
    code, _, err = run_cli(["update", flipped, "--deploy", deploy], capsys)
    assert code == 2 and "layer l1_conv" in err and "signs" in err and "Traceback" not in err
    code, _, err = run_cli(["update", DIGITS / "digits_mlp.onnx", "--deploy", deploy], capsys)
    assert code == 2 and "structure" in err
    code, _, err = run_cli(["update", DIGITS / "digits_cnn.onnx", "--deploy", tmp_path], capsys)
    assert code == 2 and "model.json" in err
    # a thresholds.json that bnn-hls did not write is not overwritten
    foreign = tmp_path / "deploy"
    foreign.mkdir()
    (foreign / "model.json").write_text((deploy / "model.json").read_text())
    (foreign / "thresholds.json").write_text('{"mine": 1}')
    code, _, err = run_cli(["update", DIGITS / "digits_cnn.onnx", "--deploy", foreign], capsys)
    assert code == 2 and "not written by bnn-hls" in err
    assert (foreign / "thresholds.json").read_text() == '{"mine": 1}'
    # the driver refuses a thresholds file of another accelerator
    doc = json.loads((deploy / "thresholds.json").read_text())
    doc["hardware_id"] = "0" * 32
    (tmp_path / "other.json").write_text(json.dumps(doc))
    accel = BnnAccelerator(str(deploy), device=CsimDevice(digits_build / "hls"))
    with pytest.raises(ValueError, match="another accelerator"):
        accel.load_thresholds(str(tmp_path / "other.json"))


def test_const_thresholds_build(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--thresholds const: no load port used, no thresholds file, update refuses; the
    resource model prices the two forms differently."""
    out = tmp_path / "b"
    model = DIGITS / "digits_cnn.onnx"
    code, _, err = run_cli(["-q", "build", model, "-o", out, "--thresholds", "const"], capsys)
    assert code == 0, err
    assert not (out / "deploy" / "thresholds.json").exists()
    assert json.loads((out / "deploy" / "model.json").read_text())["load"]["values"] == 0
    assert "static const" in (out / "hls" / "params_l1_conv.h").read_text()
    code, _, err = run_cli(["update", model, "--deploy", out / "deploy"], capsys)
    assert code == 2 and "no writable thresholds" in err
    c = compile_file(model)
    folding = default_folding(c.model)
    const = {k: Fold(f.pe, f.simd, f.rom, f.kernel, "const") for k, f in folding.items()}
    _, writable_cost = build_plan(c.model, folding).resource_estimate()
    _, const_cost = build_plan(c.model, const).resource_estimate()
    assert writable_cost.lut != const_cost.lut
