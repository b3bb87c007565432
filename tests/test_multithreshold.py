"""QONNX MultiThreshold hidden activations (the form FINN's streamlining leaves, and what a
user hand-writes to give per-channel thresholds): the rewrite onnxruntime runs equals QONNX's
definition, the frontend turns them into multi-level codes (or bits, when bipolar) that
BatchShift fuses exactly, the golden model equals onnxruntime on the file, and the hardware
equals the golden model in C-sim and RTL-sim; what cannot be taken is refused naming the
node."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from bnn_hls import golden, ir
from bnn_hls.frontend.qonnx_ops import to_standard_onnx
from bnn_hls.modelgen import ConvSpec, DenseSpec, MultiThresholdSpec, WeightQuant, build_bnn
from bnn_hls.verify import random_inputs

from .conftest import run_cli
from .hls_helpers import csim_scores, random_folding
from .strategies import ModelSpec, multithreshold_specs
from .test_multilevel import check

QONNX = "qonnx.custom_op.general"


def qonnx_definition(
    x: np.ndarray, t: np.ndarray, scale: float, bias: float, layout: str
) -> np.ndarray:
    """QONNX's MultiThreshold, written from its documentation: per channel the count of
    thresholds x reaches, times out_scale, plus out_bias; the channel axis is 1 for a 2-D or
    NCHW tensor, 3 for NHWC, the last one otherwise."""
    axis = (3 if layout == "NHWC" else 1) if x.ndim == 4 else (1 if x.ndim == 2 else x.ndim - 1)
    moved = np.moveaxis(x, axis, -1)[..., None]  # (..., C, 1)
    counts = (moved >= t.astype(np.float32)).sum(-1)  # t: (C or 1, N)
    return (np.moveaxis(counts, -1, axis) * np.float32(scale) + np.float32(bias)).astype(np.float32)


@pytest.mark.parametrize(
    "shape,layout,rows",
    [((2, 3, 4, 5), "NCHW", 3), ((2, 4, 5, 3), "NHWC", 3), ((4, 7), "NCHW", 7),
     ((2, 3, 4, 5), "NCHW", 1), ((2, 5, 6), "NCHW", 6)],
)  # fmt: skip
def test_the_rewrite_onnxruntime_runs_is_qonnx_multithreshold(
    shape: tuple[int, ...], layout: str, rows: int
) -> None:
    rng = np.random.default_rng(len(shape) + rows)
    t = np.sort(rng.uniform(-1, 1, (rows, 3)), axis=1).astype(np.float32)
    x = rng.uniform(-1.5, 1.5, shape).astype(np.float32)
    x.flat[:3] = t[0]  # exactly on thresholds: >= counts them
    node = helper.make_node(
        "MultiThreshold", ["x", "t"], ["y"], domain=QONNX, out_dtype="INT3",
        out_scale=0.5, out_bias=-1.0, data_layout=layout,
    )  # fmt: skip
    graph = helper.make_graph(
        [node],
        "mt",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(shape))],
        [numpy_helper.from_array(t, "t")],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(QONNX, 1)]
    )
    std = to_standard_onnx(model)
    sess = ort.InferenceSession(std.SerializeToString(), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"x": x})[0]
    assert np.array_equal(got, qonnx_definition(x, t, 0.5, -1.0, layout))


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(spec=multithreshold_specs())
def test_random_multithreshold_models(spec: ModelSpec, tmp_path: Path) -> None:
    """Fused = un-fused and golden = onnxruntime on the file (check())."""
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    model = check(build_bnn(spec.input_shape, spec.layers, spec.classes, **spec.kwargs()),  # type: ignore[arg-type]
                  folder, spec.seed)  # fmt: skip
    assert spec.mt is not None
    fused = [la for la in model.layers if isinstance(la, ir.ThresholdLayer)]
    assert fused
    bipolar = spec.mt.out_scale == 2.0 and spec.mt.out_bias == -1.0
    for th in fused:  # every hidden MultiThreshold became bits or codes of its levels
        if bipolar:
            assert isinstance(th, ir.Threshold)
        else:
            lo = round(spec.mt.out_bias / spec.mt.out_scale)
            assert th.out_range() == (lo, lo + spec.mt.levels - 1)


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(spec=multithreshold_specs(), fold_seed=st.integers(0, 1000))
def test_random_multithreshold_csim(spec: ModelSpec, fold_seed: int, tmp_path: Path) -> None:
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    model = check(build_bnn(spec.input_shape, spec.layers, spec.classes, **spec.kwargs()),  # type: ignore[arg-type]
                  folder, spec.seed, n=16)  # fmt: skip
    x = random_inputs(model.input, 24, seed=fold_seed)
    folding = random_folding(model, np.random.default_rng(fold_seed))
    scores, _ = csim_scores(model, folding, x, folder / "hls")
    assert np.array_equal(scores, golden.run(model, x).acc)


@pytest.mark.parametrize(
    "mt",
    [MultiThresholdSpec(4, True, 0.5, -1.0), MultiThresholdSpec(2, False, 1.0, 0.0)],
    ids=["per_channel_int2", "heaviside_0_1"],
)
def test_multithreshold_model_through_the_cli_in_rtl(
    mt: MultiThresholdSpec, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A conv + dense model with MultiThresholds (per-channel 2-bit signed codes, or one
    shared threshold making {0, 1} codes: two bits on the stream, not a bit) and 2-bit
    weights: `bnn-hls verify --level rtlsim` passes (source = golden = RTL, cycles = model)."""
    model = build_bnn(
        (2, 6, 6),
        [ConvSpec(6, 3, 1, 1, pool=2), DenseSpec(10)],
        4,
        input_mode="quant8",
        seed=3,
        weights=WeightQuant(2, True, True),
        mt=mt,
    )
    path = tmp_path / "mt.onnx"
    onnx.save(model, path)
    code, out, err = run_cli(["verify", path, "--level", "rtlsim", "--random", "6"], capsys)
    assert code == 0, out + err
    assert "RTL" in out


def _single_layer_model(
    mt_node_kwargs: dict[str, object], rows: int, on_input: bool = False, count: int = 3
) -> onnx.ModelProto:
    """input -> 8-bit Quant -> Gemm (4 outputs) -> MultiThreshold -> Gemm (3 scores); or,
    on_input, the MultiThreshold on the input itself."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(np.float32(2.0**-7), "s"),
        numpy_helper.from_array(np.float32(0), "z"),
        numpy_helper.from_array(np.float32(8), "b"),
        numpy_helper.from_array(np.where(rng.random((4, 5)) < 0.5, -1, 1).astype(np.float32), "w1"),
        numpy_helper.from_array(np.where(rng.random((3, 4)) < 0.5, -1, 1).astype(np.float32), "w2"),
        numpy_helper.from_array(
            np.sort(rng.uniform(-2, 2, (rows, count)), 1).astype(np.float32), "t"
        ),
    ]
    quant = helper.make_node(
        "Quant",
        ["x", "s", "z", "b"],
        ["q"],
        domain=QONNX,
        signed=1,
        narrow=0,
        rounding_mode="ROUND",
    )
    first = helper.make_node("Gemm", ["q", "w1"], ["a"], transB=1)
    mt_in = "x" if on_input else "a"
    mt = helper.make_node(
        "MultiThreshold", [mt_in, "t"], ["m"], domain=QONNX, name="act1", **mt_node_kwargs
    )
    nodes = [mt] if on_input else [quant, first, mt]
    last_in = "m"
    if on_input:
        nodes.append(helper.make_node("Gemm", ["m", "w1"], ["a2"], transB=1))
        last_in = "a2"
    nodes.append(helper.make_node("Gemm", [last_in, "w2"], ["y"], transB=1))
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
        inits,
    )  # fmt: skip
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(QONNX, 1)]
    )


@pytest.mark.parametrize(
    "kwargs,rows,on_input,needle",
    [
        ({"out_dtype": "INT2", "out_bias": -0.5}, 4, False, "not a whole multiple"),
        ({"out_dtype": "UINT2", "out_scale": -1.0}, 4, False, "the scale must be positive"),
        ({"out_dtype": "UINT2"}, 3, False, "3 threshold rows"),
        ({"out_dtype": "UINT2"}, 5, True, "activation of a linear layer"),
    ],
)  # fmt: skip
def test_what_cannot_be_taken_is_refused(
    kwargs: dict[str, object],
    rows: int,
    on_input: bool,
    needle: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "bad.onnx"
    kwargs = dict(kwargs)  # the parameter's dict is shared: take a copy
    count = kwargs.pop("thresholds", 3)
    assert isinstance(count, int)
    onnx.save(_single_layer_model(kwargs, rows, on_input, count), path)
    before = path.read_bytes()
    code, _, err = run_cli(["inspect", path], capsys)
    assert code == 2 and needle in err and "act1" in err and "Traceback" not in err, err
    assert path.read_bytes() == before


@pytest.mark.parametrize("opset", [13, 11])
def test_a_good_single_layer_model_verifies(
    opset: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The refusal cases' model with legal attributes (one row per output, UINT2 codes); at
    opset 11 too (the rewrite onnxruntime runs avoids GreaterOrEqual, which needs 12)."""
    path = tmp_path / "good.onnx"
    model = _single_layer_model({"out_dtype": "UINT2"}, 4)
    model.opset_import[0].version = opset
    onnx.save(model, path)
    code, out, err = run_cli(["verify", path, "--random", "64"], capsys)
    assert code == 0, out + err


def _conv_model(tail: str, rng_seed: int = 0) -> onnx.ModelProto:
    """input (1, 2, 6, 6) -> 8-bit Quant -> Conv 4x3x3 (pad 1) -> BatchNorm -> `tail` -> Gemm:
    "flatten_then_<act>": Flatten before the activation (Sign, BipolarQuant, a 2-bit Quant or
    a shared-row MultiThreshold); "nhwc": Transpose to NHWC, a per-channel MultiThreshold
    with data_layout NHWC, Flatten (channels-last order)."""
    rng = np.random.default_rng(rng_seed)
    f32 = np.float32

    def init(a: object, name: str) -> onnx.TensorProto:
        return numpy_helper.from_array(np.asarray(a, f32), name)

    inits = [
        init(2.0**-7, "s"), init(0, "z"), init(8, "b"), init(2, "b2"), init(0.5, "s2"),
        init(np.where(rng.random((4, 2, 3, 3)) < 0.5, -1, 1), "wc"),
        init(rng.uniform(0.5, 1.5, 4) * np.array([1, -1, 1, 1]), "g"),
        init(rng.uniform(-1, 1, 4), "be"), init(rng.uniform(-3, 3, 4), "mu"),
        init(rng.uniform(4, 20, 4), "var"), init(1.0, "one"),
        init(np.sort(rng.uniform(-2, 2, (1, 3)), 1), "t_shared"),
        init(np.sort(rng.uniform(-2, 2, (4, 3)), 1), "t_channels"),
        init(np.where(rng.random((3, 144)) < 0.5, -1, 1), "w2"),
    ]  # fmt: skip
    n = helper.make_node
    nodes = [
        n("Quant", ["x", "s", "z", "b"], ["q"], domain=QONNX, signed=1, narrow=0,
          rounding_mode="ROUND"),
        n("Conv", ["q", "wc"], ["c"], pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        n("BatchNormalization", ["c", "g", "be", "mu", "var"], ["bn"]),
    ]  # fmt: skip
    mt_args = {"domain": QONNX, "name": "act1", "out_dtype": "INT2", "out_scale": 1.0}
    if tail == "nhwc":
        nodes += [
            n("Transpose", ["bn"], ["t"], perm=[0, 2, 3, 1]),
            n("MultiThreshold", ["t", "t_channels"], ["a"], **mt_args, out_bias=-2.0,
              data_layout="NHWC"),
            n("Flatten", ["a"], ["f"]),
        ]  # fmt: skip
        last = "f"
    else:
        nodes.append(n("Flatten", ["bn"], ["f"]))
        act = tail.removeprefix("flatten_then_")
        if act == "sign":
            nodes.append(n("Sign", ["f"], ["a"]))
        elif act == "bipolarquant":
            nodes.append(n("BipolarQuant", ["f", "one"], ["a"], domain=QONNX))
        elif act == "quant":
            nodes.append(n("Quant", ["f", "s2", "z", "b2"], ["a"], domain=QONNX, signed=1,
                           narrow=0, rounding_mode="ROUND"))  # fmt: skip
        else:
            nodes.append(n("MultiThreshold", ["f", "t_shared"], ["a"], **mt_args, out_bias=-1.0))
        last = "a"
    nodes.append(n("Gemm", [last, "w2"], ["y"], transB=1))
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
        inits,
    )
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(QONNX, 1)]
    )


@pytest.mark.parametrize(
    "tail",
    ["flatten_then_sign", "flatten_then_bipolarquant", "flatten_then_quant",
     "flatten_then_multithreshold", "nhwc"],
)  # fmt: skip
def test_activation_after_a_flatten_and_channels_last_multithreshold(
    tail: str, tmp_path: Path
) -> None:
    """A Flatten of an NCHW map before the activation: the dense layer after it still takes
    the stream's (H, W, C) order (the activation once emitted the flatten itself and the
    dense weights kept ONNX's order: wrong scores, found by a review); and a MultiThreshold
    with data_layout NHWC on a transposed map. Golden = onnxruntime, fused = un-fused."""
    check(_conv_model(tail), tmp_path, seed=1)


def test_multithreshold_input_ranks_come_from_the_importer(tmp_path: Path) -> None:
    """After a Reshape to a computed shape (the Shape/Gather/Concat flatten) ONNX shape
    inference loses the rank, and with it the MultiThreshold's channel axis: the rewrite
    takes the ranks the importer recorded; without them it refuses, naming the node."""
    from bnn_hls.compiler import compile_file
    from bnn_hls.errors import ModelError

    model = build_bnn(
        (2, 5, 5), [ConvSpec(4, 3, 1, 1), DenseSpec(6)], 3, input_mode="quant8", seed=2,
        flatten="shape_chain", mt=MultiThresholdSpec(4, True, 0.5, -1.0),
    )  # fmt: skip
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    c = compile_file(path)
    assert len(c.info.tensor_ranks) == 2
    with pytest.raises(ModelError, match="rank of its input is unknown"):
        to_standard_onnx(c.onnx_model)
    check(model, tmp_path / "check", seed=2)


def test_ties_at_multithreshold_thresholds_are_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Integer pre-activations (a dense layer on bits, no BatchNorm) and thresholds at
    integers: many inputs put an element exactly on a threshold, and verify counts them."""
    model = _single_layer_model({"out_dtype": "UINT2"}, 4)
    for t in model.graph.initializer:
        if t.name == "t":
            t.CopyFrom(numpy_helper.from_array(np.tile(np.float32([-1, 0, 1]), (4, 1)), "t"))
    path = tmp_path / "ties.onnx"
    onnx.save(model, path)
    code, out, err = run_cli(["verify", path, "--random", "64"], capsys)
    assert code == 0, out + err
    on = re.search(r"exactly on a threshold: (\d+)", out)
    assert on is not None and int(on.group(1)) > 0, out
