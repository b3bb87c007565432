"""Every refusal of the frontend: one clear message naming the node, exit status 2."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from bnn_hls.frontend.linear import integer_levels
from bnn_hls.modelgen import DenseSpec, build_bnn

from .conftest import run_cli


def pm1(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.where(np.random.default_rng(seed).random(shape) < 0.5, -1, 1).astype(np.float32)


def graph_model(
    nodes: list[onnx.NodeProto],
    inits: dict[str, np.ndarray],
    in_shape: list[int | str],
    out_name: str,
    out_shape: list[int | str],
    extra_inputs: list[onnx.ValueInfoProto] | None = None,
    extra_outputs: list[onnx.ValueInfoProto] | None = None,
) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape), *(extra_inputs or [])],
        [
            helper.make_tensor_value_info(out_name, TensorProto.FLOAT, out_shape),
            *(extra_outputs or []),
        ],
        [numpy_helper.from_array(v, k) for k, v in inits.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def dense_model(weight: np.ndarray, activation: str = "Sign", **kw: object) -> onnx.ModelProto:
    """x (N, 8) -> Sign -> MatMul(w) -> output."""
    nodes = [
        helper.make_node(activation, ["x"], ["a"], name="act_in"),
        helper.make_node("MatMul", ["a", "w"], ["y"], name="fc1"),
    ]
    return graph_model(nodes, {"w": weight}, ["N", 8], "y", ["N", weight.shape[1]])


def expect_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], model: onnx.ModelProto, *needles: str
) -> str:
    path = tmp_path / "bad.onnx"
    onnx.save(model, path)
    code, out, err = run_cli(["inspect", path], capsys)
    assert code == 2, (out, err)
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    return err


def test_unsupported_op_names_node_and_op(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nodes = [
        helper.make_node("Sign", ["x"], ["a"], name="act_in"),
        helper.make_node("MatMul", ["a", "w"], ["h"], name="fc1"),
        helper.make_node("Relu", ["h"], ["y"], name="my_relu"),
    ]
    model = graph_model(nodes, {"w": pm1((8, 4))}, ["N", 8], "y", ["N", 4])
    err = expect_error(
        tmp_path, capsys, model, "'my_relu'", "(Relu)", "not supported", "supported:"
    )
    assert "Conv" in err  # says what is supported


def test_non_binary_weights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A weight that is no small integer multiple of a step (a full-precision value)."""
    w = pm1((8, 4))
    w[0, 0] = 0.123456
    expect_error(
        tmp_path, capsys, dense_model(w), "'fc1'", "(MatMul)", "not binary", "3 distinct values"
    )


def test_integer_levels_are_weights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """+-1 weights with one 0 and one 0.5 are the levels {-2, 0, 1, 2} x 0.5: the golden model
    and the generated C++ compute them (bit-exact)."""
    w = pm1((8, 4))
    w[3, 2], w[0, 0] = 0.0, 0.5
    path = tmp_path / "levels.onnx"
    onnx.save(dense_model(w), path)
    code, out, err = run_cli(["verify", path, "--random", "60", "--allow-ties"], capsys)
    assert code == 0 and "PASS" in out, out + err
    args = ["verify", path, "--level", "csim", "--random", "20", "--allow-ties"]
    code, out, err = run_cli(args, capsys)
    assert code == 0 and "equal to the golden model: 20/20" in out, out + err


def test_dynamic_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nodes = [helper.make_node("Sign", ["x"], ["a"]), helper.make_node("MatMul", ["a", "w"], ["y"])]
    model = graph_model(nodes, {"w": pm1((8, 4))}, ["N", "features"], "y", ["N", 4])
    expect_error(tmp_path, capsys, model, "dynamic dimension", "only the batch dimension")


def test_multiple_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nodes = [helper.make_node("Sign", ["x"], ["a"]), helper.make_node("MatMul", ["a", "w"], ["y"])]
    extra = [helper.make_tensor_value_info("x2", TensorProto.FLOAT, ["N", 8])]
    model = graph_model(nodes, {"w": pm1((8, 4))}, ["N", 8], "y", ["N", 4], extra_inputs=extra)
    expect_error(tmp_path, capsys, model, "2 inputs", "exactly one")


def test_multiple_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nodes = [helper.make_node("Sign", ["x"], ["a"]), helper.make_node("MatMul", ["a", "w"], ["y"])]
    extra = [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["N", 8])]
    model = graph_model(nodes, {"w": pm1((8, 4))}, ["N", 8], "y", ["N", 4], extra_outputs=extra)
    expect_error(tmp_path, capsys, model, "2 outputs", "exactly one")


def test_fixed_batch_above_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nodes = [helper.make_node("Sign", ["x"], ["a"]), helper.make_node("MatMul", ["a", "w"], ["y"])]
    model = graph_model(nodes, {"w": pm1((8, 4))}, [4, 8], "y", [4, 4])
    expect_error(tmp_path, capsys, model, "fixed batch size of 4")


def test_unquantised_first_layer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"], name="fc_float")]
    model = graph_model(nodes, {"w": pm1((8, 4))}, ["N", 8], "y", ["N", 4])
    expect_error(tmp_path, capsys, model, "'fc_float'", "not quantised")


def test_two_linear_layers_without_activation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nodes = [
        helper.make_node("Sign", ["x"], ["a"]),
        helper.make_node("MatMul", ["a", "w"], ["h"], name="fc1"),
        helper.make_node("MatMul", ["h", "w2"], ["y"], name="fc2"),
    ]
    model = graph_model(nodes, {"w": pm1((8, 6)), "w2": pm1((6, 3))}, ["N", 8], "y", ["N", 3])
    expect_error(tmp_path, capsys, model, "'fc2'", "without a binary activation")


def test_branching_graph(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nodes = [
        helper.make_node("Sign", ["x"], ["a"]),
        helper.make_node("MatMul", ["a", "w"], ["h"], name="fc1"),
        helper.make_node("MatMul", ["a", "w"], ["h2"], name="fc1b"),
        helper.make_node("Add", ["h", "h2"], ["y"], name="residual"),
    ]
    model = graph_model(nodes, {"w": pm1((8, 4))}, ["N", 8], "y", ["N", 4])
    expect_error(tmp_path, capsys, model, "single chain")


def test_output_is_binary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nodes = [
        helper.make_node("Sign", ["x"], ["a"]),
        helper.make_node("MatMul", ["a", "w"], ["h"]),
        helper.make_node("Sign", ["h"], ["y"]),
    ]
    model = graph_model(nodes, {"w": pm1((8, 4))}, ["N", 8], "y", ["N", 4])
    expect_error(tmp_path, capsys, model, "binary activations", "scores")


def test_grouped_conv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nodes = [
        helper.make_node("Sign", ["x"], ["a"]),
        helper.make_node("Conv", ["a", "w"], ["h"], name="dw", group=2, kernel_shape=[3, 3]),
        helper.make_node("Flatten", ["h"], ["y"]),
    ]
    model = graph_model(nodes, {"w": pm1((2, 1, 3, 3))}, ["N", 2, 5, 5], "y", ["N", 18])
    expect_error(tmp_path, capsys, model, "'dw'", "depthwise")


def test_dilated_conv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nodes = [
        helper.make_node("Sign", ["x"], ["a"]),
        helper.make_node(
            "Conv", ["a", "w"], ["h"], name="dil", dilations=[2, 2], kernel_shape=[3, 3]
        ),
        helper.make_node("Flatten", ["h"], ["y"]),
    ]
    model = graph_model(nodes, {"w": pm1((2, 2, 3, 3))}, ["N", 2, 7, 7], "y", ["N", 18])
    expect_error(tmp_path, capsys, model, "'dil'", "dilated")


def test_multibit_activation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = build_bnn((8,), [DenseSpec(4)], 3, input_mode="quant8")
    # turn the first hidden BipolarQuant into a 4-bit Quant
    for node in model.graph.node:
        if node.op_type == "BipolarQuant" and node.input[0].startswith("batchnorm"):
            node.op_type = "Quant"
            s = numpy_helper.from_array(np.float32(0.5), "s4")
            z = numpy_helper.from_array(np.float32(0), "z4")
            b = numpy_helper.from_array(np.float32(4), "b4")
            model.graph.initializer.extend([s, z, b])
            del node.input[1:]
            node.input.extend(["s4", "z4", "b4"])
            node.attribute.extend(
                [
                    helper.make_attribute("signed", 1),
                    helper.make_attribute("narrow", 0),
                    helper.make_attribute("rounding_mode", "ROUND"),
                ]
            )
            break
    # 4 bits: the golden model and the C++ run it, bit-exact
    path = tmp_path / "a4.onnx"
    onnx.save(model, path)
    code, out, err = run_cli(["verify", path, "--random", "100"], capsys)
    assert code == 0 and "PASS" in out, out + err
    code, out, err = run_cli(["verify", path, "--level", "csim", "--random", "30"], capsys)
    assert code == 0 and "PASS" in out, out + err
    # 12 bits: refused, naming the node
    bits = next(t for t in model.graph.initializer if t.name == "b4")
    bits.CopyFrom(numpy_helper.from_array(np.float32(12), "b4"))
    expect_error(tmp_path, capsys, model, "(Quant)", "bit width 12", "2..8")


def test_softmax_only_last(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A Softmax anywhere but on the final class scores is refused, naming the node."""
    nodes = [
        helper.make_node("Sign", ["x"], ["a"]),
        helper.make_node("MatMul", ["a", "w"], ["h"]),
        helper.make_node("Softmax", ["h"], ["s"], name="sm"),
        helper.make_node("Sign", ["s"], ["y"]),
    ]
    model = graph_model(nodes, {"w": pm1((8, 4))}, ["N", 8], "y", ["N", 4])
    expect_error(tmp_path, capsys, model, "'sm'", "(Softmax)", "only as the model's last op")


def test_final_softmax_is_a_host_op(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A final Softmax (Keras, tf2onnx keep it) runs on the host: verify passes against
    onnxruntime on the probabilities."""
    nodes = [
        helper.make_node("Sign", ["x"], ["a"]),
        helper.make_node("MatMul", ["a", "w"], ["h"]),
        helper.make_node("Softmax", ["h"], ["y"], name="sm"),
    ]
    model = graph_model(nodes, {"w": pm1((8, 4))}, ["N", 8], "y", ["N", 4])
    path = tmp_path / "softmax.onnx"
    onnx.save(model, path)
    code, out, err = run_cli(["verify", path, "--random", "50", "--allow-ties"], capsys)
    assert code == 0 and "PASS" in out, out + err


def test_training_mode_batchnorm(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = build_bnn((8,), [DenseSpec(4)], 3, style="plain", input_mode="bipolar")
    for node in model.graph.node:
        if node.op_type == "BatchNormalization":
            node.attribute.append(helper.make_attribute("training_mode", 1))
            node.name = "bn_train"
    path = tmp_path / "bad.onnx"
    onnx.save(model, path)
    code, _, err = run_cli(["inspect", path], capsys)
    assert code == 2
    assert "eval()" in err or "training" in err


@pytest.mark.parametrize(
    "content,needle",
    [
        (b"", "is empty"),
        (b"this is not a protobuf \xff\xfe", "not an ONNX model"),
        (onnx.ModelProto().SerializeToString() + b"\x08\x07", "no ONNX graph"),
    ],
)
def test_bad_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, needle: str
) -> None:
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)
    code, _, err = run_cli(["inspect", path], capsys)
    assert code == 2
    assert needle in err and "Traceback" not in err


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["verify", tmp_path / "nope.onnx"], capsys)
    assert code == 2
    assert "does not exist" in err


def test_dangling_input_names_the_node(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nodes = [helper.make_node("MatMul", ["x", "missing"], ["y"], name="fc")]
    model = graph_model(nodes, {}, ["N", 8], "y", ["N", 4])
    expect_error(tmp_path, capsys, model, "'fc'", "'missing'", "produced by no node")


def test_checker_rejects_invalid_graph(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Shapes that do not match (8 inputs into a 5-row weight): strict shape inference."""
    nodes = [
        helper.make_node("Sign", ["x"], ["a"]),
        helper.make_node("MatMul", ["a", "w"], ["y"], name="fc"),
    ]
    model = graph_model(nodes, {"w": pm1((5, 4))}, ["N", 8], "y", ["N", 4])
    expect_error(tmp_path, capsys, model, "not valid ONNX", "re-export")


def test_external_data_outside_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = dense_model(pm1((8, 4)))
    tensor = model.graph.initializer[0]
    tensor.ClearField("raw_data")
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", "../../etc/passwd"
    path = tmp_path / "ext.onnx"
    path.write_bytes(model.SerializeToString())
    code, _, err = run_cli(["inspect", path], capsys)
    assert code == 2
    assert "outside the model's folder" in err


def test_hostile_names_never_reach_outputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Node and tensor names with quotes, newlines and code end up nowhere in the output."""
    evil = 'x"; system("rm -rf /"); //\n#include <evil>'
    model = build_bnn((8,), [DenseSpec(4)], 3, style="plain", input_mode="bipolar")
    for node in model.graph.node:
        node.name = evil + node.name
    path = tmp_path / "evil name.onnx"
    onnx.save(model, path)
    code, _, _ = run_cli(["compile", path, "-o", tmp_path / "out"], capsys)
    assert code == 0
    for file in (tmp_path / "out").rglob("*"):
        if file.is_file() and file.suffix in (".json", ".txt"):
            text = file.read_text()
            assert "system(" not in text and "#include" not in text


def test_uniform_levels_however_the_exporter_rounded() -> None:
    """s * n stored as float32 after a float64 product (0.3 * 3 -> 0.9, one ulp from the
    float32 product), and channels whose codes are all large (100..127 x 0.5): the levels are
    found; two distinct weights that one step cannot both round from are not levels."""
    rng = np.random.default_rng(3)
    n = rng.integers(-3, 4, (4, 25))
    n[:, 0] = 1
    got = integer_levels((n * 0.3).astype(np.float32).astype(np.float64))
    assert got is not None and np.array_equal(got[0], n)
    big = rng.integers(100, 128, (4, 64))
    big[:, :2] = (100, 101)
    got = integer_levels((big * 0.5).astype(np.float64))
    assert got is not None and np.array_equal(got[0], big) and np.all(got[1] == 0.5)
    row = np.array([[1.0, -1.0, float(np.nextafter(np.float32(1), np.float32(0)))]])
    assert integer_levels(row) is None


def test_float64_step_weights_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A 3-bit-level dense layer whose weights were computed as 0.3 * n in float64."""
    n = np.random.default_rng(4).integers(-3, 4, (8, 4))
    n[0] = 1
    path = tmp_path / "f64.onnx"
    onnx.save(dense_model((n * 0.3).astype(np.float32)), path)
    args = ["verify", path, "--level", "csim", "--random", "20", "--allow-ties"]
    code, out, err = run_cli(args, capsys)
    assert code == 0 and "equal to the golden model: 20/20" in out, out + err
