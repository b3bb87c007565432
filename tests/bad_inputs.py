"""A generated corpus of malformed, hostile and careless inputs: each case writes its files
into a folder and gives the command line and what the one error message must name."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from bnn_hls.modelgen import ActQuant, ConvSpec, DenseSpec, build_bnn

from .conftest import DIGITS, EXAMPLES


@dataclass
class Case:
    argv: list[str]
    needles: list[str]  # each must appear in the message (a node, a file, an option)
    output: str | None = None  # the output folder the command may write (relative)


Maker = Callable[[Path], Case]
CASES: dict[str, Maker] = {}


def case(fn: Maker) -> Maker:
    CASES[fn.__name__] = fn
    return fn


def pm1(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.where(np.random.default_rng(seed).random(shape) < 0.5, -1, 1).astype(np.float32)


def small(style: str = "qonnx", **kw: object) -> onnx.ModelProto:
    """A small valid model to break."""
    return build_bnn((1, 4, 4), [ConvSpec(4, 3, 1, 1), DenseSpec(6)], 3, style=style, seed=2, **kw)  # type: ignore[arg-type]


def dense_graph(
    w: np.ndarray | onnx.TensorProto,
    *,
    bias: np.ndarray | None = None,
    names: tuple[str, str] = ("act_in", "fc1"),
    opset: int = 13,
    in_shape: list[int | str] | None = None,
) -> onnx.ModelProto:
    """x (N, 8) -> Sign -> MatMul(w) [-> Add(bias)] -> y."""
    nodes = [
        helper.make_node("Sign", ["x"], ["a"], name=names[0]),
        helper.make_node("MatMul", ["a", "w"], ["h" if bias is not None else "y"], name=names[1]),
    ]
    inits = [w if isinstance(w, onnx.TensorProto) else numpy_helper.from_array(w, "w")]
    if bias is not None:
        nodes.append(helper.make_node("Add", ["h", "b"], ["y"], name="bias"))
        inits.append(numpy_helper.from_array(bias, "b"))
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape or ["N", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def save(model: onnx.ModelProto, folder: Path, name: str = "model.onnx") -> str:
    path = folder / name
    path.write_bytes(model.SerializeToString())
    return str(path)


def inspect(folder: Path, model: onnx.ModelProto, *needles: str) -> Case:
    return Case(["inspect", save(model, folder)], list(needles))


# --- files that are not models ------------------------------------------------------------------
@case
def missing_model(d: Path) -> Case:
    return Case(["inspect", str(d / "nope.onnx")], ["nope.onnx", "does not exist"])


@case
def folder_as_model(d: Path) -> Case:
    (d / "m.onnx").mkdir()
    return Case(["inspect", str(d / "m.onnx")], ["m.onnx", "not a file"])


@case
def empty_model(d: Path) -> Case:
    (d / "e.onnx").write_bytes(b"")
    return Case(["inspect", str(d / "e.onnx")], ["e.onnx", "empty"])


@case
def garbage_model(d: Path) -> Case:
    (d / "g.onnx").write_bytes(bytes(range(256)) * 8)
    return Case(["inspect", str(d / "g.onnx")], ["g.onnx"])


@case
def truncated_model(d: Path) -> Case:
    data = small().SerializeToString()
    (d / "t.onnx").write_bytes(data[: len(data) // 2])
    return Case(["inspect", str(d / "t.onnx")], ["t.onnx"])


@case
def no_graph(d: Path) -> Case:
    return inspect(d, onnx.ModelProto(ir_version=8), "model.onnx", "no ONNX graph")


# --- tensors of the wrong kind --------------------------------------------------------------------
def typed_weight(dtype: int, values: object) -> onnx.TensorProto:
    return helper.make_tensor("w", dtype, [8, 4], values)  # type: ignore[arg-type]


@case
def string_weights(d: Path) -> Case:
    w = helper.make_tensor("w", TensorProto.STRING, [8, 4], [b"1"] * 32)
    return inspect(d, dense_graph(w), "'w'", "string")


@case
def int8_weights(d: Path) -> Case:
    return inspect(d, dense_graph(typed_weight(TensorProto.INT8, [1, -1] * 16)), "'w'", "int8")


@case
def qcdq_model(d: Path) -> Case:
    """Brevitas' export_onnx_qcdq form: QuantizeLinear/DequantizeLinear with int8 constants."""
    model = dense_graph(pm1((8, 4)))
    graph = model.graph
    graph.initializer.extend(
        [
            numpy_helper.from_array(np.array(0.5, np.float32), "s"),
            numpy_helper.from_array(np.array(0, np.int8), "z"),
        ]
    )
    graph.node[0].input[0] = "xd"
    graph.node.insert(0, helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"], name="dq"))
    graph.node.insert(0, helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"], name="q"))
    return inspect(d, model, "'q'", "QuantizeLinear", "export_qonnx")


@case
def float16_weights(d: Path) -> Case:
    w = numpy_helper.from_array(pm1((8, 4)).astype(np.float16), "w")
    return inspect(d, dense_graph(w), "'w'", "float16")


@case
def float64_weights(d: Path) -> Case:
    w = numpy_helper.from_array(pm1((8, 4)).astype(np.float64), "w")
    return inspect(d, dense_graph(w), "'w'", "double")


@case
def nan_final_bias(d: Path) -> Case:
    bias = np.array([0, np.nan, 1, 2], np.float32)
    return inspect(d, dense_graph(pm1((8, 4)), bias=bias), "'b'", "NaN")


@case
def inf_scale(d: Path) -> Case:
    model = small()
    bn = next(n for n in model.graph.node if n.op_type == "BatchNormalization")
    gamma = next(t for t in model.graph.initializer if t.name == bn.input[1])
    values = numpy_helper.to_array(gamma).copy()
    values.reshape(-1)[0] = np.inf
    gamma.CopyFrom(numpy_helper.from_array(values, gamma.name))
    return inspect(d, model, repr(gamma.name), "infinite")


@case
def nan_batchnorm_stats(d: Path) -> Case:
    model = small()
    bn = next(n for n in model.graph.node if n.op_type == "BatchNormalization")
    var = next(t for t in model.graph.initializer if t.name == bn.input[4])
    values = numpy_helper.to_array(var).copy()
    values[:] = np.nan
    var.CopyFrom(numpy_helper.from_array(values, var.name))
    return inspect(d, model, var.name, "NaN")


# --- graphs onnxruntime refuses -------------------------------------------------------------------
@case
def future_opset(d: Path) -> Case:
    return inspect(d, dense_graph(pm1((8, 4)), opset=99), "opset 99")


@case
def duplicate_node_names(d: Path) -> Case:
    return inspect(d, dense_graph(pm1((8, 4)), names=("same", "same")), "'same'", "two nodes")


@case
def batch_zero(d: Path) -> Case:
    return inspect(d, dense_graph(pm1((8, 4)), in_shape=[0, 8]), "'x'", "batch dimension of 0")


@case
def zero_dimension(d: Path) -> Case:
    return inspect(d, small_input_shape([1, 0, 4, 4]), "'x'", "size 0")


def small_input_shape(shape: list[int | str]) -> onnx.ModelProto:
    model = small()
    dims = model.graph.input[0].type.tensor_type.shape.dim
    for dim, value in zip(dims, shape):
        if isinstance(value, str):
            dim.dim_param = value
        else:
            dim.dim_value = value
    return model


@case
def billion_channels(d: Path) -> Case:
    nodes = [helper.make_node("Sign", ["x"], ["y"], name="s")]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1_000_000_000, 1, 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1_000_000_000, 1, 1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    return inspect(d, model, "'x'", "1,000,000,000 elements")


@case
def graph_cycle(d: Path) -> Case:
    nodes = [
        helper.make_node("Sign", ["x"], ["a"], name="s1"),
        helper.make_node("Add", ["a", "c"], ["b"], name=""),
        helper.make_node("Add", ["b", "a"], ["c"], name="loop_add"),
        helper.make_node("MatMul", ["c", "w"], ["y"], name="fc"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        [numpy_helper.from_array(pm1((8, 4)), "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    return inspect(d, model, "loop_add")


@case
def hostile_op_type(d: Path) -> Case:
    model = dense_graph(pm1((8, 4)))
    model.graph.node[1].op_type = "MatMul\x1b[31m\nEVIL"
    return inspect(d, model, "\\x1b[31m")


@case
def hostile_node_name(d: Path) -> Case:
    model = small()
    relu = helper.make_node("Relu", [model.graph.output[0].name], ["z"], name="n\x1b]0;owned\x07")
    model.graph.node.append(relu)
    model.graph.output[0].name = "z"
    return inspect(d, model, "Relu", "\\x1b")


@case
def weights_one_ulp_off(d: Path) -> Case:
    w = pm1((8, 4))
    w[0, 0] = np.nextafter(np.float32(w[0, 0]), np.float32(0))
    return inspect(d, dense_graph(w), "'fc1'", "0.99999994")


@case
def two_outputs(d: Path) -> Case:
    model = small()
    model.graph.output.append(helper.make_tensor_value_info("x", TensorProto.FLOAT, None))
    return inspect(d, model, "2 outputs")


@case
def relu_activation(d: Path) -> Case:
    model = dense_graph(pm1((8, 4)))
    model.graph.node[0].op_type = "Relu"
    return inspect(d, model, "'act_in'", "Relu")


@case
def grouped_conv(d: Path) -> Case:
    model = small()
    conv = next(n for n in model.graph.node if n.op_type == "Conv")
    conv.attribute.append(helper.make_attribute("group", 2))
    return inspect(d, model, conv.name)


@case
def external_data_outside(d: Path) -> Case:
    model = dense_graph(pm1((8, 4)))
    w = model.graph.initializer[0]
    w.ClearField("raw_data")
    w.ClearField("float_data")
    w.data_location = TensorProto.EXTERNAL
    w.external_data.add(key="location", value="../../etc/passwd")
    return inspect(d, model, "'w'", "outside")


@case
def fixed_batch_four(d: Path) -> Case:
    return inspect(d, small_input_shape([4, 1, 4, 4]), "'x'", "batch size of 4")


@case
def dynamic_spatial_dim(d: Path) -> Case:
    return inspect(d, small_input_shape(["N", 1, "H", 4]), "'x'", "dynamic dimension")


@case
def full_precision_first_layer(d: Path) -> Case:
    src = EXAMPLES / "larq" / "larq_cnn1_fpfirst_op13.onnx"
    shutil.copy(src, d / "fp.onnx")
    return Case(["inspect", str(d / "fp.onnx")], ["QuantConv2D", "not quantised", "Larq"])


@case
def softmax_not_last(d: Path) -> Case:
    model = dense_graph(pm1((8, 4)))
    model.graph.node.insert(1, helper.make_node("Softmax", ["a"], ["sm"], name="early_softmax"))
    model.graph.node[2].input[0] = "sm"
    return inspect(d, model, "'early_softmax'")


# --- output folders -------------------------------------------------------------------------------
def compile_to(d: Path, out: str, *extra: str) -> list[str]:
    return ["compile", str(DIGITS / "digits_mlp.onnx"), "-o", out, *extra]


@case
def empty_output_path(d: Path) -> Case:
    return Case(compile_to(d, ""), ["empty path"])


@case
def output_under_a_file(d: Path) -> Case:
    (d / "afile").write_text("x")
    return Case(compile_to(d, str(d / "afile" / "out")), ["afile", "is a file"])


@case
def output_is_the_model(d: Path) -> Case:
    model = save(small(), d)
    return Case(["compile", model, "-o", model], ["model.onnx"])


@case
def unwritable_output(d: Path) -> Case:
    return Case(compile_to(d, "/proc/bnn-hls-out"), ["bnn-hls-out", "cannot create"])


@case
def force_over_the_models_folder(d: Path) -> Case:
    model = save(small(), d)
    return Case(["compile", model, "-o", str(d), "--force"], ["model.onnx", "input"])


@case
def force_over_a_users_folder(d: Path) -> Case:
    (d / "out").mkdir()
    (d / "out" / "notes.txt").write_text("mine")
    return Case(compile_to(d, str(d / "out"), "--force"), ["out", "bnn-hls wrote"], "out")


@case
def force_over_an_output_with_a_users_file(d: Path) -> Case:
    from bnn_hls.cli import main

    assert main(compile_to(d, str(d / "out"))) == 0
    (d / "out" / "hls" / "mine.cpp").write_text("// mine")
    return Case(compile_to(d, str(d / "out"), "--force"), ["mine.cpp"], "out")


# --- folding files ------------------------------------------------------------------------------
def folding(d: Path, text: str, *needles: str) -> Case:
    (d / "f.json").write_text(text)
    return Case(compile_to(d, str(d / "o"), "--folding", str(d / "f.json")), ["f.json", *needles])


@case
def folding_list(d: Path) -> Case:
    return folding(d, "[1, 2]", "a list")


@case
def folding_null(d: Path) -> Case:
    return folding(d, '{"layers": null}', "null")


@case
def folding_null_layer(d: Path) -> Case:
    return folding(d, '{"layers": {"l1_dense": null}}', "l1_dense", "null")


@case
def folding_huge_number(d: Path) -> Case:
    return folding(d, '{"layers": {"l1_dense": {"pe": 1e400, "simd": 1}}}', "l1_dense", "inf")


@case
def folding_deep(d: Path) -> Case:
    return folding(d, "[" * 100_000 + "]" * 100_000, "RecursionError")


@case
def folding_fraction(d: Path) -> Case:
    return folding(d, '{"layers": {"l1_dense": {"pe": 2.5, "simd": 1}}}', "2.5")


@case
def folding_string_number(d: Path) -> Case:
    return folding(d, '{"layers": {"l1_dense": {"pe": "4", "simd": 1}}}', "'4'")


@case
def folding_boolean(d: Path) -> Case:
    return folding(d, '{"layers": {"l1_dense": {"pe": true, "simd": 1}}}', "true")


@case
def folding_unknown_key(d: Path) -> Case:
    return folding(d, '{"layers": {"l1_dense": {"pe": 1, "simd": 1, "pee": 2}}}', "'pee'")


@case
def folding_unknown_top_key(d: Path) -> Case:
    return folding(d, '{"layers": {}, "extra": 1}', "'extra'")


@case
def folding_unknown_layer(d: Path) -> Case:
    return folding(d, '{"layers": {"l99_dense": {"pe": 1, "simd": 1}}}', "l99_dense")


@case
def folding_zero_pe(d: Path) -> Case:
    return folding(d, '{"layers": {"l1_dense": {"pe": 0, "simd": 1}}}', "pe")


@case
def folding_not_json(d: Path) -> Case:
    return folding(d, "pe = 4", "cannot read")


@case
def folding_is_a_folder(d: Path) -> Case:
    (d / "fold").mkdir()
    return Case(compile_to(d, str(d / "o"), "--folding", str(d / "fold")), ["fold", "folder"])


@case
def folding_missing(d: Path) -> Case:
    return Case(compile_to(d, str(d / "o"), "--folding", str(d / "no.json")), ["no.json"])


@case
def folding_bad_rom(d: Path) -> Case:
    return folding(d, '{"layers": {"l1_dense": {"pe": 1, "simd": 1, "rom": "flash"}}}', "rom")


# --- options and data ---------------------------------------------------------------------------
def inspect_mlp(*extra: str) -> list[str]:
    return ["inspect", str(DIGITS / "digits_mlp.onnx"), *extra]


def verify_mlp(*extra: str) -> list[str]:
    return ["verify", str(DIGITS / "digits_mlp.onnx"), *extra]


@case
def target_fps_nan(d: Path) -> Case:
    return Case(
        ["inspect", str(DIGITS / "digits_mlp.onnx"), "--target-fps", "nan"], ["--target-fps"]
    )


@case
def target_fps_inf(d: Path) -> Case:
    return Case(
        ["inspect", str(DIGITS / "digits_mlp.onnx"), "--target-fps", "inf"], ["--target-fps"]
    )


@case
def target_fps_negative(d: Path) -> Case:
    return Case(
        ["inspect", str(DIGITS / "digits_mlp.onnx"), "--target-fps", "-5"], ["--target-fps"]
    )


@case
def target_fps_impossible(d: Path) -> Case:
    return Case(["inspect", str(DIGITS / "digits_mlp.onnx"), "--target-fps", "1e12"], ["images/s"])


@case
def budget_nan(d: Path) -> Case:
    return Case(["inspect", str(DIGITS / "digits_mlp.onnx"), "--budget", "nan"], ["--budget"])


@case
def budget_too_large(d: Path) -> Case:
    return Case(["inspect", str(DIGITS / "digits_mlp.onnx"), "--budget", "5"], ["budget"])


@case
def seed_negative(d: Path) -> Case:
    return Case(verify_mlp("--seed", "-1"), ["--seed"])


@case
def random_zero(d: Path) -> Case:
    return Case(verify_mlp("--random", "0"), ["--random"])


@case
def sharing_bogus(d: Path) -> Case:
    return Case(verify_mlp("--sharing", "bogus"), ["--sharing"])


@case
def sharing_distance_zero(d: Path) -> Case:
    return Case(verify_mlp("--sharing", "similar:0"), ["similar:0"])


def npy(d: Path, name: str, array: np.ndarray) -> str:
    np.save(d / name, array, allow_pickle=True)
    return str(d / name)


@case
def inputs_empty(d: Path) -> Case:
    return Case(verify_mlp("--inputs", npy(d, "x.npy", np.zeros((0, 64), np.float32))), ["x.npy"])


@case
def inputs_nan(d: Path) -> Case:
    x = np.zeros((3, 64), np.float32)
    x[1, 5] = np.nan
    return Case(verify_mlp("--inputs", npy(d, "x.npy", x)), ["x.npy", "NaN"])


@case
def inputs_wrong_shape(d: Path) -> Case:
    return Case(verify_mlp("--inputs", npy(d, "x.npy", np.zeros((3, 10), np.float32))), ["x.npy"])


@case
def inputs_pickled_objects(d: Path) -> Case:
    x = np.array([{"a": 1}, None], dtype=object)
    return Case(verify_mlp("--inputs", npy(d, "x.npy", x)), ["x.npy"])


@case
def inputs_not_npy(d: Path) -> Case:
    (d / "x.npy").write_text("hello")
    return Case(verify_mlp("--inputs", str(d / "x.npy")), ["x.npy"])


@case
def labels_wrong_length(d: Path) -> Case:
    x = npy(d, "x.npy", np.zeros((3, 64), np.float32))
    y = npy(d, "y.npy", np.zeros(5, np.int64))
    return Case(verify_mlp("--inputs", x, "--labels", y), ["y.npy"])


@case
def build_test_inputs_nan(d: Path) -> Case:
    x = np.full((2, 64), np.inf, np.float32)
    argv = [
        "build",
        str(DIGITS / "digits_mlp.onnx"),
        "-o",
        str(d / "b"),
        "--test-inputs",
        npy(d, "x.npy", x),
    ]
    return Case(argv, ["x.npy", "infinite"], "b")


@case
def build_over_a_users_folder(d: Path) -> Case:
    (d / "b").mkdir()
    (d / "b" / "keep.txt").write_text("mine")
    argv = ["build", str(DIGITS / "digits_mlp.onnx"), "-o", str(d / "b"), "--force"]
    return Case(argv, ["bnn-hls wrote"], "b")


# --- more graphs the compiler cannot take ---------------------------------------------------------
@case
def two_inputs(d: Path) -> Case:
    model = dense_graph(pm1((8, 4)))
    model.graph.input.append(helper.make_tensor_value_info("x2", TensorProto.FLOAT, ["N", 8]))
    return inspect(d, model, "2 inputs")


@case
def string_input(d: Path) -> Case:
    nodes = [helper.make_node("Identity", ["x"], ["y"], name="id")]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.STRING, ["N", 8])],
        [helper.make_tensor_value_info("y", TensorProto.STRING, ["N", 8])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    return inspect(d, model, "'x'")


@case
def constant_output(d: Path) -> Case:
    nodes = [
        helper.make_node("Sign", ["x"], ["a"], name="s"),
        helper.make_node("Identity", ["c"], ["y"], name="const_out"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [numpy_helper.from_array(np.ones((1, 4), np.float32), "c")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    return inspect(d, model, "'y'")


@case
def non_binary_weights(d: Path) -> Case:
    w = pm1((8, 4))
    w[3, 1] = 0.123456  # no small integer multiple of a step
    return inspect(d, dense_graph(w), "'fc1'", "not binary")


@case
def dilated_conv(d: Path) -> Case:
    model = small()
    conv = next(n for n in model.graph.node if n.op_type == "Conv")
    conv.attribute.append(helper.make_attribute("dilations", [2, 2]))
    return inspect(d, model, conv.name)


@case
def padded_maxpool(d: Path) -> Case:
    model = build_bnn((1, 6, 6), [ConvSpec(4, 3, 1, 1, pool=2)], 3, seed=2)
    pool = next(n for n in model.graph.node if n.op_type == "MaxPool")
    pool.attribute.append(helper.make_attribute("pads", [1, 1, 1, 1]))
    return inspect(d, model, pool.name)


@case
def training_batchnorm(d: Path) -> Case:
    model = small()
    bn = next(n for n in model.graph.node if n.op_type == "BatchNormalization")
    bn.attribute.append(helper.make_attribute("training_mode", 1))
    return inspect(d, model, bn.name)


@case
def negative_variance(d: Path) -> Case:
    model = small()
    bn = next(n for n in model.graph.node if n.op_type == "BatchNormalization")
    var = next(t for t in model.graph.initializer if t.name == bn.input[4])
    var.CopyFrom(numpy_helper.from_array(-np.abs(numpy_helper.to_array(var)) - 1, var.name))
    return inspect(d, model, bn.name, "variance")


@case
def two_linear_layers_in_a_row(d: Path) -> Case:
    nodes = [
        helper.make_node("Sign", ["x"], ["a"], name="s"),
        helper.make_node("MatMul", ["a", "w1"], ["h"], name="fc1"),
        helper.make_node("MatMul", ["h", "w2"], ["y"], name="fc2"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        [numpy_helper.from_array(pm1((8, 6)), "w1"), numpy_helper.from_array(pm1((6, 4)), "w2")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    return inspect(d, model, "'fc2'", "activation")


@case
def reflect_pad(d: Path) -> Case:
    model = small()
    conv = next(n for n in model.graph.node if n.op_type == "Conv" and n is not model.graph.node[0])
    pads = numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "reflect_pads")
    model.graph.initializer.append(pads)
    pad = helper.make_node(
        "Pad", [conv.input[0], "reflect_pads"], ["padded"], name="my_pad", mode="reflect"
    )
    conv.input[0] = "padded"
    index = list(model.graph.node).index(conv)
    model.graph.node.insert(index, pad)
    return inspect(d, model, "'my_pad'", "reflect")


@case
def multibit_activation(d: Path) -> Case:
    model = small()
    for node in model.graph.node:
        if node.op_type == "BipolarQuant" and node.input[0] not in {
            t.name for t in model.graph.initializer
        }:
            last = node
    # a 12-bit Quant where a binary activation was (2..8 bits are supported)
    names = [f"{last.name}_{k}" for k in ("scale", "zp", "bits")]
    for name, value in zip(names, (1.0, 0.0, 12.0)):
        model.graph.initializer.append(numpy_helper.from_array(np.float32(value), name))
    quant = helper.make_node(
        "Quant",
        [last.input[0], *names],
        list(last.output),
        name="act3",
        domain=last.domain,
        signed=1,
        narrow=0,
        rounding_mode="ROUND",
    )
    index = list(model.graph.node).index(last)
    model.graph.node.remove(last)
    model.graph.node.insert(index, quant)
    return inspect(d, model, "'act3'", "bit width 12")


def multilevel(**quant_inputs: np.ndarray) -> tuple[onnx.ModelProto, str]:
    """A model with a 2-bit hidden activation; the given inputs of its Quant node replaced
    (scale, zp, bits). Returns the model and the node's name."""
    model = build_bnn((8,), [DenseSpec(6)], 3, act=ActQuant(2, True, False, 0.5), seed=4)
    node = next(n for n in model.graph.node if n.op_type == "Quant" and "batchnorm" in n.input[0])
    for index, key in enumerate(("scale", "zp", "bits"), start=1):
        if key in quant_inputs:
            name = f"bad_{key}"
            model.graph.initializer.append(numpy_helper.from_array(quant_inputs[key], name))
            node.input[index] = name
    return model, node.name


@case
def activation_scale_zero(d: Path) -> Case:
    model, name = multilevel(scale=np.float32(0.0))
    return inspect(d, model, repr(name), "scale must be positive")


@case
def activation_scale_per_channel(d: Path) -> Case:
    model, name = multilevel(scale=np.full(6, 0.5, np.float32))
    return inspect(d, model, repr(name), "per-channel scale")


@case
def activation_fractional_zero_point(d: Path) -> Case:
    model, name = multilevel(zp=np.float32(0.5))
    return inspect(d, model, repr(name), "zero point an integer")


@case
def activation_quantised_twice(d: Path) -> Case:
    model, name = multilevel()
    node = next(n for n in model.graph.node if n.name == name)
    second = helper.make_node(
        "Quant", [node.output[0], *node.input[1:]], ["twice"], name="twice_q",
        domain=node.domain, signed=1, narrow=0, rounding_mode="ROUND",
    )  # fmt: skip
    consumer = next(n for n in model.graph.node if node.output[0] in n.input and n is not node)
    consumer.input[list(consumer.input).index(node.output[0])] = "twice"
    model.graph.node.insert(list(model.graph.node).index(node) + 1, second)
    return inspect(d, model, "'twice_q'", "quantised values")


@case
def labels_float(d: Path) -> Case:
    x = npy(d, "x.npy", np.zeros((3, 64), np.float32))
    y = npy(d, "y.npy", np.zeros(3, np.float32))
    return Case(verify_mlp("--inputs", x, "--labels", y), ["y.npy"])


@case
def inputs_strings(d: Path) -> Case:
    return Case(verify_mlp("--inputs", npy(d, "x.npy", np.array([["a"] * 64] * 2))), ["x.npy"])


@case
def folding_with_target(d: Path) -> Case:
    (d / "f.json").write_text('{"layers": {}}')
    argv = inspect_mlp("--folding", str(d / "f.json"), "--target-fps", "1000")
    return Case(argv, ["--folding"])


@case
def folding_shared_on_dense(d: Path) -> Case:
    return folding(
        d, '{"layers": {"l1_dense": {"pe": 1, "simd": 1, "kernel": "shared"}}}', "l1_dense"
    )


@case
def build_under_a_file(d: Path) -> Case:
    (d / "f").write_text("x")
    argv = ["build", str(DIGITS / "digits_mlp.onnx"), "-o", str(d / "f" / "b")]
    return Case(argv, ["is a file"])


@case
def estimate_bad_folding(d: Path) -> Case:
    (d / "f.json").write_text('{"layers": {"l1_dense": {"pe": 7, "simd": 1}}}')
    argv = ["estimate", str(DIGITS / "digits_mlp.onnx"), "--folding", str(d / "f.json")]
    return Case(argv, ["l1_dense", "PE 7"])


def all_cases() -> list[str]:
    return sorted(CASES)


if __name__ == "__main__":  # list the corpus
    print(json.dumps(all_cases(), indent=1))
