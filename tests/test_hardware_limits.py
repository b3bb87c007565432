"""Models the golden model computes but the hardware cannot carry are refused (exit 2, the
layer named) where a design is made; attributes of the wrong type are refused naming the
node; a tie in the source's own scores is not a top-1 disagreement."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from bnn_hls.verify import compare

from .conftest import run_cli

QONNX = "qonnx.custom_op.general"


def quant(
    name: str, src: str, out: str, bits: int, scale: float, signed: int, **attrs: object
) -> tuple[onnx.NodeProto, dict[str, np.ndarray]]:
    consts = {
        f"{name}_s": np.array(scale, np.float32),
        f"{name}_z": np.array(0.0, np.float32),
        f"{name}_b": np.array(float(bits), np.float32),
    }
    node = helper.make_node(
        "Quant",
        [src, *consts],
        [out],
        name=name,
        domain=QONNX,
        signed=attrs.pop("signed_attr", signed),
        narrow=0,
        rounding_mode="ROUND",
    )
    return node, consts


def graph_model(
    nodes: list[onnx.NodeProto],
    inits: dict[str, np.ndarray],
    in_shape: list[int | str],
    out_shape: list[int | str],
    opset: int = 13,
    ir_version: int = 8,
) -> onnx.ModelProto:
    """x -> nodes -> y, the initialisers as float32, the ONNX opset and QONNX's."""
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
        [numpy_helper.from_array(np.asarray(v, np.float32), n) for n, v in inits.items()],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid(QONNX, 1)]
    )
    model.ir_version = ir_version
    return model


def dense_model(
    in_bits: int,
    weights: np.ndarray,
    w_quant: tuple[int, float] | None = None,
    signed_attr: object = 0,
) -> onnx.ModelProto:
    """x (N, K) -> Quant (in_bits, unsigned) -> MatMul(weights, optionally through a weight
    Quant of (bits, scale)) -> y."""
    k, o = weights.shape
    q_in, inits = quant("q_in", "x", "xq", in_bits, 2.0**-in_bits, 0, signed_attr=signed_attr)
    nodes = [q_in]
    w_name = "w"
    if w_quant is not None:
        q_w, more = quant("q_w", "w", "wq", w_quant[0], w_quant[1], 1)
        nodes.append(q_w)
        inits.update(more)
        w_name = "wq"
    nodes.append(helper.make_node("MatMul", ["xq", w_name], ["y"], name="fc"))
    inits["w"] = weights
    return graph_model(nodes, inits, ["N", k], ["N", o])


def cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], model: onnx.ModelProto, *args: str
) -> tuple[int, str, str]:
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    return run_cli([*args, path], capsys)


def test_scores_wider_than_the_score_words_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 16-bit inputs x weights up to 127 x 2048 terms: sums of 35 bits, score words of 32
    w = np.random.default_rng(0).integers(1, 128, (2048, 4)) * 0.5
    w[:, 1] *= -1
    model = dense_model(16, w)
    code, _, err = cli(tmp_path, capsys, model, "verify", "--level", "golden")
    assert code == 0, err  # the golden model computes it
    # inspect shows the layers and logs why there is no folding; a design is refused
    for command in (
        ["verify", "--level", "csim"],
        ["build", "-o", str(tmp_path / "o")],
    ):
        code, out, err = cli(tmp_path, capsys, model, *command)
        assert code == 2, (command, out, err)
        assert "layer l1_dense" in err and "35 bits" in err and "32-bit score words" in err
        assert "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_a_layer_whose_weights_are_all_zero_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a 3-bit weight quantiser of scale 10 rounds weights of magnitude < 5 to 0
    w = np.random.default_rng(1).uniform(-1, 1, (16, 3))
    model = dense_model(8, w, w_quant=(3, 10.0))
    code, out, err = cli(tmp_path, capsys, model, "verify", "--level", "csim")
    assert code == 2, (out, err)
    assert "every weight is 0" in err and "layer l1_dense" in err and "Traceback" not in err


@pytest.mark.parametrize("value", ["yes", [1, 0]])
def test_an_attribute_of_the_wrong_type_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: object
) -> None:
    w = np.where(np.random.default_rng(2).random((16, 3)) < 0.5, -1.0, 1.0)
    model = dense_model(8, w, signed_attr=value)
    code, out, err = cli(tmp_path, capsys, model, "inspect")
    assert code == 2, (out, err)
    assert "node 'q_in' (Quant): attribute 'signed' is not an integer" in err
    assert "Traceback" not in err


def test_a_tie_in_the_source_scores_is_not_a_disagreement() -> None:
    src = np.array([[1.0, 5.0, 5.0], [1.0, 5.0, 4.0]])
    # the device picks class 2 in both: the first input's source ties 1 and 2, the second's not
    dev = np.array([[0.9, 4.9, 5.1], [0.9, 4.0, 5.0]])
    report = compare(dev, np.array([2, 2]), src, np.full(2, 1.0))
    assert report.label_agreement == 1
    assert report.first_label_mismatches == [1]


@pytest.mark.parametrize("opset", [9, 10, 13])
@pytest.mark.parametrize("mode", ["ROUND", "FLOOR", "ROUND_TO_ZERO"])
def test_the_quant_rewrite_runs_at_every_opset(opset: int, mode: str) -> None:
    """The Quant rewrite that runs the source in onnxruntime uses only its opset's ops (Round
    and Clip with tensor bounds came in opset 11): the same values as the reference quantiser,
    halves included (ROUND is half to even)."""
    import onnxruntime as ort

    from bnn_hls.frontend.qonnx_ops import quant as reference
    from bnn_hls.frontend.qonnx_ops import to_standard_onnx

    node, consts = quant("q", "x", "y", 3, 0.5, 1)
    del node.attribute[:]
    node.attribute.extend(
        [
            helper.make_attribute("signed", 1),
            helper.make_attribute("narrow", 0),
            helper.make_attribute("rounding_mode", mode),
        ]
    )
    model = graph_model([node], consts, [1, 40], [1, 40], opset=opset, ir_version=7)
    std = to_standard_onnx(model)
    assert all(o.version == opset for o in std.opset_import if o.domain == "")
    # every quarter step from -5 to 5 (halves of the 0.5 scale: ties of ROUND), clipped ends
    x = (np.arange(40, dtype=np.float32) - 20) * 0.25
    sess = ort.InferenceSession(std.SerializeToString(), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"x": x[None]})[0][0]
    want = reference(x, np.float32(0.5), np.float32(0), 3, True, False, mode)
    assert np.array_equal(got, want), (got, want)


def test_a_staircase_of_too_many_terms_is_refused_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bnn_hls.modelgen import DenseSpec, PaSpec, build_bnn

    model = build_bnn((12,), [DenseSpec(8)], 3, pa=PaSpec(2, 20, "sign"), seed=4)
    code, out, err = cli(tmp_path, capsys, model, "inspect")
    assert code == 2, (out, err)
    assert "of 20 terms; at most 16" in err and "Traceback" not in err


def test_a_model_over_the_budget_at_the_slowest_folding_names_what_is_over(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """8-bit hidden activations: 255 thresholds per channel, LUTs over the budget at PE = SIMD
    = 1 (the message named the weights' block RAM, which fits)."""
    from bnn_hls.modelgen import ActQuant, ConvSpec, build_bnn

    layers = [ConvSpec(5, kernel=3, pad=1), ConvSpec(6, kernel=3, stride=2, pad=1, pool=2)]
    model = build_bnn((2, 9, 7), layers, 3, act=ActQuant(bits=8, scale=0.01), seed=1)
    code, out, err = cli(tmp_path, capsys, model, "verify", "--level", "csim")
    assert code == 2, (out, err)
    assert "LUT (the budget allows 37,240)" in err and "RAMB36" not in err, err


def test_a_one_bit_quant_activation_is_pointed_to_its_forms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bnn_hls.modelgen import ActQuant, ConvSpec, build_bnn

    model = build_bnn((2, 6, 6), [ConvSpec(3, pad=1, pool=2)], 3, act=ActQuant(bits=1), seed=1)
    code, out, err = cli(tmp_path, capsys, model, "inspect")
    assert code == 2, (out, err)
    assert "bit width 1 is not supported" in err and "BipolarQuant" in err, err


def test_a_sum_of_terms_that_is_not_a_staircase_says_what_one_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two Sign(x - v) terms, one with a negative coefficient: not a staircase; the fan-out
    refusal says what the frontend reads as one."""
    nodes, inits = [], {}
    q_in, more = quant("q_in", "x", "xq", 8, 2.0**-8, 0)
    nodes.append(q_in)
    inits.update(more)
    inits["w1"] = np.where(np.random.default_rng(5).random((16, 6)) < 0.5, -1.0, 1.0)
    nodes.append(helper.make_node("MatMul", ["xq", "w1"], ["h"], name="fc1"))
    terms = []
    for i, (v, beta) in enumerate(((-1.0, 0.5), (1.0, -0.5))):
        inits[f"v{i}"], inits[f"b{i}"] = np.array(v), np.array(beta)
        nodes += [
            helper.make_node("Sub", ["h", f"v{i}"], [f"d{i}"], name=f"sub{i}"),
            helper.make_node("Sign", [f"d{i}"], [f"s{i}"], name=f"sign{i}"),
            helper.make_node("Mul", [f"s{i}", f"b{i}"], [f"t{i}"], name=f"mul{i}"),
        ]
        terms.append(f"t{i}")
    nodes.append(helper.make_node("Add", terms, ["a"], name="sum"))
    inits["w2"] = np.where(np.random.default_rng(6).random((6, 3)) < 0.5, -1.0, 1.0)
    nodes.append(helper.make_node("MatMul", ["a", "w2"], ["y"], name="fc2"))
    model = graph_model(nodes, inits, ["N", 16], ["N", 3])
    code, out, err = cli(tmp_path, capsys, model, "inspect")
    assert code == 2, (out, err)
    assert "feeds 2 nodes" in err and "beta > 0" in err, err


@pytest.mark.parametrize("binary", [True, False])
def test_an_offset_between_activation_and_layer_is_refused_for_its_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], binary: bool
) -> None:
    """x -> Sign or Quant -> Add(per-channel vector) -> MatMul: the refusal names what the
    layer's input must be (+-s for bits, s times codes for levels) and what to do."""
    inits: dict[str, np.ndarray] = {}
    if binary:
        nodes = [helper.make_node("Sign", ["x"], ["xq"], name="act")]
    else:
        q_in, inits = quant("q_in", "x", "xq", 4, 0.25, 1)
        nodes = [q_in]
    inits["off"] = np.linspace(0.1, 0.8, 8)
    inits["w"] = np.where(np.random.default_rng(7).random((8, 3)) < 0.5, -1.0, 1.0)
    nodes += [
        helper.make_node("Add", ["xq", "off"], ["xo"], name="shift"),
        helper.make_node("MatMul", ["xo", "w"], ["y"], name="fc"),
    ]
    model = graph_model(nodes, inits, ["N", 8], ["N", 3])
    code, out, err = cli(tmp_path, capsys, model, "inspect")
    assert code == 2, (out, err)
    want = "+-s with one s" if binary else "s times its codes"
    assert "node 'fc' (MatMul)" in err and want in err and "remove the Add" in err, err
