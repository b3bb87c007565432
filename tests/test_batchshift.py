"""BatchShift on hand-built layers: negative, zero and huge gamma, pooling before the BatchNorm
(OR/AND), ceil-vs-floor thresholds, and the exhaustive proof."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from bnn_hls import golden, ir
from bnn_hls.compiler import compile_file
from bnn_hls.floatops import FloatOp
from bnn_hls.modelgen import BnStats, ConvSpec, DenseSpec, build_bnn
from bnn_hls.passes import BatchShift, PassOptions
from bnn_hls.passes.batchshift import fuse_channels
from bnn_hls.reference import SourceModel
from bnn_hls.verify import random_inputs, verify_golden


def dense(k: int, o: int, seed: int = 0) -> ir.Dense:
    g = np.random.default_rng(seed)
    return ir.Dense("d", (k,), (o,), weights=g.integers(0, 2, (o, k)).astype(np.uint8))


def bn(gamma: list[float], beta: list[float], mean: list[float], var: list[float]) -> FloatOp:
    return FloatOp(
        "bn",
        {
            "scale": np.float32(gamma),
            "bias": np.float32(beta),
            "mean": np.float32(mean),
            "var": np.float32(var),
        },
        eps=1e-4,
    )


def test_threshold_is_ceil_not_floor() -> None:
    # x >= 2.5 over the even grid {-4..4}: the first acc with a non-negative output is 4,
    # for mean 2.5 exactly; a floored threshold would let acc = 2 through.
    layer = dense(4, 1)
    t, neg, _, const = fuse_channels(layer, [bn([1.0], [0.0], [2.5], [1.0])], [])
    assert not neg[0] and not const[0]
    assert t[0] == 4


def test_negative_gamma_negates_the_channel() -> None:
    layer = dense(6, 1)
    t, neg, _, _ = fuse_channels(layer, [bn([-2.0], [0.0], [1.0], [1.0])], [])
    # bit = acc <= 1 (grid -6..6 step 2: acc <= 0) -> on -acc: -acc >= 0
    assert neg[0]
    assert t[0] == 0


def test_zero_gamma_is_constant() -> None:
    layer = dense(6, 2)
    t, _, _, const = fuse_channels(layer, [bn([0.0, 0.0], [0.5, -0.5], [0, 0], [1, 1])], [])
    assert const.all()
    assert t[0] <= -6 and t[1] > 6  # always 1, always 0


def test_out_of_range_threshold_is_constant() -> None:
    layer = dense(6, 2)
    _, _, _, const = fuse_channels(layer, [bn([1.0, -1.0], [0, 0], [100, 100], [1, 1])], [])
    assert const.all()


def test_nan_is_an_error() -> None:
    from bnn_hls.errors import ModelError

    layer = dense(6, 1)
    with pytest.raises(ModelError, match="NaN"):
        fuse_channels(
            layer,
            [
                FloatOp("div", {"a": np.full(1, 0.0, np.float32)}),
                FloatOp("mul", {"a": np.full(1, 0.0, np.float32)}),
            ],
            [],
        )


@pytest.mark.parametrize("style", ["qonnx", "plain", "plain_where"])
@pytest.mark.parametrize("pool_before_bn", [False, True])
def test_pool_with_negative_gamma(tmp_path: Path, style: str, pool_before_bn: bool) -> None:
    """MaxPool before a decreasing BatchNorm becomes an AND of the thresholded bits."""
    spec = [ConvSpec(16, 3, 1, 1, pool=2, pool_before_bn=pool_before_bn), DenseSpec(8)]
    model = build_bnn(
        (2, 6, 6),
        spec,
        4,
        style=style,
        input_mode="bipolar",
        seed=3,
        bn=BnStats(negative_gamma=0.5, zero_gamma=0.1, out_of_range=0.1),
    )
    onnx.save(model, tmp_path / "m.onnx")
    c = compile_file(tmp_path / "m.onnx")
    pools = [layer for layer in c.model.layers if isinstance(layer, ir.MaxPool)]
    assert len(pools) == 1
    n_and = int(pools[0].and_channels.sum())
    assert (n_and > 0) == pool_before_bn
    x = random_inputs(c.model.input, 200, seed=1)
    assert np.array_equal(golden.run(c.unfused, x).acc, golden.run(c.model, x).acc)
    rep = verify_golden(c.model, SourceModel(c.onnx_model, c.info), x)
    # a bare Sign(0) = 0 (plain): random inputs hold exact zeros, only they may disagree
    assert rep.all_agree if style != "plain" else rep.passed(allow_ties=True)
    report = c.model.notes["batchshift"]
    assert sum(e["negated_channels"] for e in report) > 0
    assert sum(e["constant_channels"] for e in report) > 0


def test_fused_ir_has_no_float_and_report_counts(tmp_path: Path) -> None:
    model = build_bnn((12,), [DenseSpec(10)], 3, input_mode="quant8", seed=1)
    onnx.save(model, tmp_path / "m.onnx")
    c = compile_file(tmp_path / "m.onnx")
    assert not c.unfused.is_integer_only()
    assert c.model.is_integer_only()
    (entry,) = c.model.notes["batchshift"]
    # the input scale (1 op) + one BatchNorm (4 ops) + the sign, per output; 10 outputs
    assert entry["float_ops_removed_per_image"] == 10 * 6
    assert entry["float_param_bytes_replaced"] == 4 * (1 + 4 * 10)
    assert entry["grid_values_checked"] > 0


def test_pass_leaves_its_input_unchanged(tmp_path: Path) -> None:
    model = build_bnn((10,), [DenseSpec(6)], 3, input_mode="bipolar", seed=2)
    onnx.save(model, tmp_path / "m.onnx")
    c = compile_file(tmp_path / "m.onnx")
    kinds = [layer.kind for layer in c.unfused.layers]
    again = BatchShift().run(c.unfused, PassOptions()).model
    assert [layer.kind for layer in c.unfused.layers] == kinds
    assert [layer.kind for layer in again.layers] == [layer.kind for layer in c.model.layers]
