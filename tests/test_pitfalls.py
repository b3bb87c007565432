"""The silent failure modes measured in the field's tools, each as a test (see ARCHITECTURE.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from bnn_hls import ir
from bnn_hls.compiler import compile_file
from bnn_hls.modelgen import QONNX_DOMAIN, ConvSpec, DenseSpec, build_bnn
from bnn_hls.reference import SourceModel
from bnn_hls.verify import random_inputs, verify_golden

from .conftest import DIGITS


def verify(path: Path, x: np.ndarray | None = None, n: int = 200):  # type: ignore[no-untyped-def]
    c = compile_file(path)
    if x is None:
        x = random_inputs(c.model.input, n, seed=3)
    return c, verify_golden(c.model, SourceModel(c.onnx_model, c.info), x)


def test_weights_quantised_twice_stay_correct(tmp_path: Path) -> None:
    """BipolarQuant(BipolarQuant(w)): +-1 stays +-1 (no 0 -> +1 collapse)."""
    model = build_bnn((12,), [DenseSpec(8)], 4, input_mode="bipolar", seed=4)
    onnx.save(model, tmp_path / "once.onnx")
    for node in list(model.graph.node):
        if node.op_type == "BipolarQuant" and node.input[0].startswith("w_"):
            again = helper.make_node(
                "BipolarQuant",
                [node.output[0], node.input[1]],
                [node.output[0] + "_q2"],
                domain=QONNX_DOMAIN,
            )
            for other in model.graph.node:
                for i, name in enumerate(other.input):
                    if name == node.output[0]:
                        other.input[i] = again.output[0]
            model.graph.node.insert(list(model.graph.node).index(node) + 1, again)
    onnx.save(model, tmp_path / "twice.onnx")
    once, _ = verify(tmp_path / "once.onnx")
    twice, rep = verify(tmp_path / "twice.onnx")
    assert rep.all_agree
    for a, b in zip(once.model.linear_layers(), twice.model.linear_layers()):
        assert np.array_equal(a.weights, b.weights)
        assert 0 < a.weights.mean() < 1  # both signs present, not all +1


def test_accumulator_width_covers_fan_in(tmp_path: Path) -> None:
    """An 8-bit x 784 first layer needs 18 bits; nothing is assumed narrower."""
    model = build_bnn((1, 28, 28), [DenseSpec(16)], 10, input_mode="flat_quant8", seed=1)
    onnx.save(model, tmp_path / "m.onnx")
    c, rep = verify(tmp_path / "m.onnx")
    assert rep.all_agree
    first = c.model.linear_layers()[0]
    lo, hi = first.out_range()
    assert first.acc_bits() == ir.signed_bits(lo, hi) >= 17
    # drive the accumulator to its extreme: every input at the same saturated value
    x = np.ones((1, 1, 28, 28), np.float32) * 5.0
    _, rep = verify(tmp_path / "m.onnx", x)
    assert rep.all_agree


def test_input_quantiser_rounds_once_half_to_even() -> None:
    """Inputs exactly half-way between two 8-bit steps (after 2x-1) round to even, once."""
    k = np.arange(-128, 127, dtype=np.float64)
    x = (0.5 + (k + 0.5) / 256.0).astype(np.float32)  # 2x - 1 = (k + 0.5) / 128 exactly
    x = np.resize(x, (64 * 4, 1, 8, 8)).astype(np.float32)[:4]
    c, rep = verify(DIGITS / "digits_cnn.onnx", x)
    assert rep.all_agree
    from bnn_hls import golden

    q = golden.input_quant(c.model.input, x[:1])
    halves = ((x[:1].transpose(0, 2, 3, 1) * 2 - 1) * 128).reshape(-1)
    assert np.array_equal(q.reshape(-1), np.round(halves).astype(np.int64))


def test_gamma_negative_and_thresholds_exact_on_cnv_like(tmp_path: Path) -> None:
    spec = [ConvSpec(32, pool=2), ConvSpec(32), DenseSpec(32)]
    model = build_bnn((3, 10, 10), spec, 10, input_mode="quant8", seed=9)
    onnx.save(model, tmp_path / "m.onnx")
    c, rep = verify(tmp_path / "m.onnx", n=300)
    assert rep.all_agree
    assert sum(e["negated_channels"] for e in c.model.notes["batchshift"]) > 0


def sign_input_model(form: str) -> onnx.ModelProto:
    w = np.where(np.random.default_rng(0).random((6, 3)) < 0.5, -1, 1).astype(np.float32)
    if form == "sign":
        act = [helper.make_node("Sign", ["x"], ["a"])]
    else:
        act = [
            helper.make_node("GreaterOrEqual", ["x", "zero"], ["ge"]),
            helper.make_node("Where", ["ge", "one", "minus_one"], ["a"]),
        ]
    graph = helper.make_graph(
        [*act, helper.make_node("MatMul", ["a", "w"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["N", 6])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["N", 3])],
        [
            numpy_helper.from_array(w, "w"),
            numpy_helper.from_array(np.float32(0), "zero"),
            numpy_helper.from_array(np.float32(1), "one"),
            numpy_helper.from_array(np.float32(-1), "minus_one"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def test_onnx_sign_at_zero_is_reported_as_a_tie(tmp_path: Path) -> None:
    """ONNX Sign(0) = 0 cannot be a bipolar bit; we map it to +1 and verify says so."""
    x = np.array([[0.5, -1, 2, -3, 1, 1], [0.0, -1, 2, -3, 1, 1]], np.float32)
    onnx.save(sign_input_model("sign"), tmp_path / "sign.onnx")
    _, rep = verify(tmp_path / "sign.onnx", x)
    assert rep.exact_ties == 1
    assert rep.score_agreement == 1 and rep.disagreements_at_ties == 1
    assert not rep.passed() and rep.passed(allow_ties=True)


def test_where_greater_or_equal_at_zero_agrees(tmp_path: Path) -> None:
    x = np.array([[0.5, -1, 2, -3, 1, 1], [0.0, -1, 2, -3, 1, 0.0]], np.float32)
    onnx.save(sign_input_model("where"), tmp_path / "where.onnx")
    _, rep = verify(tmp_path / "where.onnx", x)
    assert rep.exact_ties == 1 and rep.all_agree
