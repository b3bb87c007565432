"""Real exports the suite did not make itself: Larq models through tf2onnx
(examples/larq/train_larq.py; opsets 13 and 17, from_keras and SavedModel, 1 and 3 input
channels, pad_values 0 and 1, with and without bias, conv -> max-pool -> BN(scale=False), a
uint8 image input, a full-precision first layer), an integer image cast straight into the
first conv, and overlapping max-pools: bit-exact at golden, C-sim and RTL-sim."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from bnn_hls.modelgen import ConvSpec, DenseSpec, build_bnn

from .conftest import DIGITS, EXAMPLES, run_cli

LARQ = EXAMPLES / "larq"
LABELS = DIGITS / "digits_test_y.npy"
MODELS = sorted(p for p in LARQ.glob("*.onnx") if "fpfirst" not in p.name)


def test_images(model: Path) -> Path:
    if "cnn3" in model.name:
        return LARQ / "digits3_test_x.npy"
    if "uint8" in model.name:
        return LARQ / "digits_test_x_nhwc_u8.npy"
    return LARQ / "digits_test_x_nhwc.npy"


test_images.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def test_the_exports_cover_the_variants() -> None:
    names = " ".join(p.name for p in MODELS)
    for needle in ("op13", "op17", "cnn1", "cnn3", "pad0", "pad1", "bias", "valid", "uint8"):
        assert needle in names, needle
    assert "savedmodel" in names and "mlp" in names


@pytest.mark.parametrize("model", MODELS, ids=lambda p: p.stem)
def test_larq_golden_on_the_test_set(model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(
        ["verify", model, "--inputs", test_images(model), "--labels", LABELS], capsys
    )
    assert code == 0 and "top-1 agreement with the source model: 450/450" in out, out + err


@pytest.mark.parametrize(
    "name",
    ["larq_cnn1_pad1_op17", "larq_cnn3_pad0_op13", "larq_mlp_op17", "larq_cnn1_uint8_op13",
     "larq_cnn1_pad0_bias_op17", "larq_cnn1_savedmodel_op13"],
)  # fmt: skip
def test_larq_csim(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    model = LARQ / f"{name}.onnx"
    code, out, err = run_cli(
        ["verify", model, "--level", "csim", "--inputs", test_images(model)], capsys
    )
    assert code == 0 and "csim integer scores equal to the golden model: 450/450" in out, err


@pytest.mark.parametrize("name", ["larq_cnn3_pad1_op17", "larq_mlp_bnscale_op13"])
def test_larq_rtlsim(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(
        ["verify", LARQ / f"{name}.onnx", "--level", "rtlsim", "--random", "24"], capsys
    )
    assert code == 0 and "rtlsim integer scores equal to the golden model: 24/24" in out, err


def test_full_precision_first_layer_is_refused_with_a_hint(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("larq_cnn1_fpfirst_op13", "larq_mlp_fpfirst_op17"):
        code, _, err = run_cli(["inspect", LARQ / f"{name}.onnx"], capsys)
        assert code == 2 and "not quantised" in err and "ste_sign" in err, err


def test_negative_batchnorm_scale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Larq's trained scales came out positive; flip some (and one to 0) in the pool -> BN of
    an export: the thresholds invert those channels, still bit-exact."""
    source = LARQ / "larq_cnn1_pad1_op13.onnx"
    model = onnx.load(source)
    bn = next(n for n in model.graph.node if n.op_type == "BatchNormalization")
    scale = next(t for t in model.graph.initializer if t.name == bn.input[1])
    values = numpy_helper.to_array(scale).copy()
    values[::3] *= -1
    values[1] = 0
    scale.CopyFrom(numpy_helper.from_array(values, scale.name))
    onnx.save(model, tmp_path / "neg.onnx")
    for level in ("golden", "csim"):
        code, out, err = run_cli(
            ["verify", tmp_path / "neg.onnx", "--level", level, "--inputs", test_images(source)],
            capsys,
        )
        assert code == 0, out + err


def uint8_conv_model() -> onnx.ModelProto:
    """A uint8 image, Cast to float, straight into a conv (8-bit integers x binary weights),
    then BatchNorm, Sign and a dense layer."""
    rng = np.random.default_rng(5)
    w1 = np.where(rng.random((4, 1, 3, 3)) < 0.5, -1, 1).astype(np.float32)
    w2 = np.where(rng.random((4 * 8 * 8, 5)) < 0.5, -1, 1).astype(np.float32)
    bn = [
        rng.uniform(-1, 1, 4).astype(np.float32),
        rng.normal(0, 20, 4).astype(np.float32),
        rng.normal(300, 50, 4).astype(np.float32),
        rng.uniform(100, 900, 4).astype(np.float32),
    ]
    nodes = [
        helper.make_node("Cast", ["x"], ["xf"], name="cast", to=TensorProto.FLOAT),
        helper.make_node("Conv", ["xf", "w1"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c", "g", "b", "m", "v"], ["n"], name="bn"),
        helper.make_node("Sign", ["n"], ["s"], name="sign"),
        helper.make_node("Flatten", ["s"], ["f"], name="flat"),
        helper.make_node("MatMul", ["f", "w2"], ["y"], name="fc"),
    ]
    inits = [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")]
    inits += [numpy_helper.from_array(v, k) for k, v in zip("gbmv", bn)]
    graph = helper.make_graph(
        nodes,
        "uint8",
        [helper.make_tensor_value_info("x", TensorProto.UINT8, ["N", 1, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


@pytest.mark.parametrize("level", ["golden", "csim", "rtlsim"])
def test_uint8_image_into_the_first_conv(
    level: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    onnx.save(uint8_conv_model(), tmp_path / "u8.onnx")
    code, out, err = run_cli(
        ["verify", tmp_path / "u8.onnx", "--level", level, "--random", "40", "--allow-ties"],
        capsys,
    )
    assert code == 0 and "40/40" in out, out + err


@pytest.mark.parametrize("level", ["golden", "csim", "rtlsim"])
def test_overlapping_max_pool(
    level: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Kernel 3, stride 2 (a sliding window and the max over its taps), after the sign and
    before the BatchNorm; a 2x2 pool with stride 1 too."""
    model = build_bnn(
        (1, 13, 13),  # 13 -> 6 -> 2 -> 1
        [
            ConvSpec(8, 3, 1, 1, pool=3, pool_stride=2),
            ConvSpec(6, 3, 1, 1, pool=3, pool_stride=2, pool_before_bn=True),
            ConvSpec(4, 1, 1, 0, pool=2, pool_stride=1),
            DenseSpec(12),
        ],
        5,
        input_mode="quant8",
        seed=3,
    )
    onnx.save(model, tmp_path / "pool.onnx")
    code, out, err = run_cli(
        ["verify", tmp_path / "pool.onnx", "--level", level, "--random", "30"], capsys
    )
    assert code == 0 and "30/30" in out, out + err
    if level == "rtlsim":  # the measured cycles equal the cycle model
        line = next(line for line in out.splitlines() if "cycles per image" in line)
        measured, model_ii = line.split(":")[1].split(" measured, ")
        assert float(measured) == float(model_ii.split()[0]), line
