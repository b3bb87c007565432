"""Multi-level hidden activations and multi-bit weights (QONNX Quant with 2..8 bits, as
Brevitas W1A2 / W2A2 export them): the frontend's Quantise and integer weight levels, BatchShift
generalised to per-channel threshold sets (MultiThreshold), the golden model bit-exact against
onnxruntime, and the hardware (the MVTU with multi-bit weights and multi-threshold outputs, the
max-pools on codes) bit-exact against the golden model in C-sim and RTL-sim, the RTL's cycles
equal to the cycle model, under random foldings."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bnn_hls import golden, ir
from bnn_hls.compiler import compile_file
from bnn_hls.dataflow.folding import Fold, check_folding
from bnn_hls.dataflow.lowering import build_plan
from bnn_hls.modelgen import ActQuant, BnStats, ConvSpec, DenseSpec, WeightQuant, build_bnn
from bnn_hls.packing import pack_trits, unpack_trits
from bnn_hls.reference import SourceModel
from bnn_hls.verify import random_inputs, verify, verify_golden

from .conftest import EXAMPLES, run_cli
from .hls_helpers import csim_scores, random_folding
from .kernel_models import bases_identity
from .strategies import ModelSpec, multilevel_specs
from .test_rtl import check_model as check_rtl


def check(model: onnx.ModelProto, folder: Path, seed: int, n: int = 64) -> ir.Model:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "m.onnx"
    onnx.save(model, path)
    c = compile_file(path)
    assert c.model.is_integer_only()
    x = random_inputs(c.model.input, n, seed=seed)
    # BatchShift: the thresholds equal the float ops and the quantiser, exactly
    assert np.array_equal(golden.run(c.unfused, x).acc, golden.run(c.model, x).acc)
    # the golden model equals onnxruntime on the file
    rep = verify_golden(c.model, SourceModel(c.onnx_model, c.info), x)
    assert rep.all_agree, rep
    # the MVTU over bases' sum (plain and sign-magnitude weights) is each layer's dot product
    for layer in c.model.linear_layers():
        bases_identity(layer, layer.input_element_bits(), np.random.default_rng(seed))
    return c.model


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(spec=multilevel_specs())
def test_random_multilevel_models(spec: ModelSpec, tmp_path: Path) -> None:
    model = build_bnn(spec.input_shape, spec.layers, spec.classes, **spec.kwargs())  # type: ignore[arg-type]
    check(model, tmp_path / f"s{spec.seed}", spec.seed)


@pytest.mark.parametrize("pool_before_bn", [False, True])
@pytest.mark.parametrize("act", [ActQuant(2, True, False, 0.5), ActQuant(3, False, True, 0.25)])
def test_negative_and_constant_channels(
    tmp_path: Path, act: ActQuant, pool_before_bn: bool
) -> None:
    """A decreasing channel (gamma < 0) has its weights negated and its thresholds counted on
    the negated accumulator; gamma = 0 gives a constant code; a max-pool before a decreasing
    channel becomes a min over the codes."""
    spec = [ConvSpec(16, 3, 1, 1, pool=2, pool_before_bn=pool_before_bn), DenseSpec(8)]
    bn = BnStats(negative_gamma=0.5, zero_gamma=0.15, out_of_range=0.1)
    model = check(
        build_bnn((2, 6, 6), spec, 4, input_mode="bipolar", seed=3, bn=bn, act=act),
        tmp_path,
        seed=1,
        n=200,
    )
    report = model.notes["batchshift"]
    assert sum(e["negated_channels"] for e in report) > 0
    assert sum(e["constant_channels"] for e in report) > 0
    pool = next(layer for layer in model.layers if isinstance(layer, ir.MaxPool))
    assert pool.value_type == "int" and (int(pool.and_channels.sum()) > 0) == pool_before_bn
    th = next(layer for layer in model.layers if isinstance(layer, ir.MultiThreshold))
    lo, hi = th.code_range
    assert th.thresholds.shape == (16, hi - lo)
    assert np.all(np.diff(th.thresholds, axis=1) >= 0)  # sorted per channel


def test_ir_round_trip(tmp_path: Path) -> None:
    model = build_bnn((10,), [DenseSpec(12), DenseSpec(6)], 3, act=ActQuant(4, True, True, 0.2))
    fused = check(model, tmp_path / "m", seed=0)
    fused.save(tmp_path / "ir")
    loaded = ir.Model.load(tmp_path / "ir")
    x = random_inputs(fused.input, 50, seed=4)
    assert np.array_equal(golden.run(loaded, x).acc, golden.run(fused, x).acc)


def test_inspect_and_verify_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = build_bnn((2, 8, 8), [ConvSpec(8, 3, 1, 1, pool=2), DenseSpec(12)], 5,
                      act=ActQuant(2, True, False, 0.5), seed=1)  # fmt: skip
    path = tmp_path / "a2.onnx"
    onnx.save(model, path)
    code, out, _ = run_cli(["inspect", path], capsys)
    assert code == 0
    assert "4 levels -> int2" in out and "int2 x bit" in out and " max " in out
    code, out, err = run_cli(["verify", path, "--random", "200"], capsys)
    assert code == 0 and "PASS" in out, out + err


def test_weight_levels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Ternary weights (2-bit narrow, one scale per channel) with 2-bit activations, as
    Brevitas' W2A2 exports them: integer levels in the IR, every path of the golden model
    equal, inspect names the widths."""
    layers = [ConvSpec(8, 3, 1, 1, pool=2), DenseSpec(10)]
    act, weights = ActQuant(2, True, False, 0.5), WeightQuant(2, True, True)
    model = build_bnn((2, 6, 6), layers, 4, seed=5, act=act, weights=weights)
    fused = check(model, tmp_path / "m", seed=2, n=200)
    conv = fused.linear_layers()[0]
    assert not conv.binary_weights and set(np.unique(np.abs(conv.weight_levels))) <= {0, 1}
    x = random_inputs(fused.input, 40, seed=9)
    assert np.array_equal(golden.run(fused, x, method="xnor").acc, golden.run(fused, x).acc)
    path = tmp_path / "w2a2.onnx"
    onnx.save(model, path)
    code, out, _ = run_cli(["inspect", path], capsys)
    assert code == 0 and "int8 x int2" in out and "int2 x int2" in out


def test_full_precision_weights_still_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = build_bnn((12,), [DenseSpec(6)], 3, seed=1)
    for t in model.graph.initializer:
        if t.name.startswith("w_"):
            values = np.random.default_rng(0).normal(0, 1, tuple(t.dims)).astype(np.float32)
            t.CopyFrom(onnx.numpy_helper.from_array(values, t.name))
    for node in model.graph.node:
        if node.op_type == "BipolarQuant" and node.input[0].startswith("w_"):
            node.op_type, node.domain = "Identity", ""
            del node.input[1:]
    path = tmp_path / "fp.onnx"
    onnx.save(model, path)
    code, _, err = run_cli(["inspect", path], capsys)
    assert code == 2 and "weights are not binary" in err and "2..8 bits" in err


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(spec=multilevel_specs(), fold_seed=st.integers(0, 1000))
def test_random_multilevel_csim(spec: ModelSpec, fold_seed: int, tmp_path: Path) -> None:
    """Random multi-bit models at random foldings: the generated C++ equals the golden model."""
    folder = Path(tempfile.mkdtemp(dir=tmp_path))  # hypothesis repeats seeds: a fresh folder
    model = check(build_bnn(spec.input_shape, spec.layers, spec.classes, **spec.kwargs()),  # type: ignore[arg-type]
                  folder, spec.seed, n=16)  # fmt: skip
    x = random_inputs(model.input, 24, seed=fold_seed)
    folding = random_folding(model, np.random.default_rng(fold_seed))
    scores, sim = csim_scores(model, folding, x, folder / "hls")
    assert np.array_equal(scores, golden.run(model, x).acc)
    assert "warning:" not in sim.warnings, sim.warnings[-3000:]


RTL_MODELS = {
    "w2a2_dense": ((20,), [DenseSpec(16), DenseSpec(12)], ActQuant(2, True, False, 0.5),
                   WeightQuant(2, True, True)),
    "w1a3_pool_before_bn": ((2, 8, 8), [ConvSpec(8, 3, 1, 1, pool=2, pool_before_bn=True),
                            DenseSpec(12)], ActQuant(3, False, False, 0.25), None),
    "w2a2_pools": ((2, 9, 9), [ConvSpec(8, 3, 1, 1, pool=2),
                   ConvSpec(6, 3, 1, 1, pool=3, pool_stride=2, pool_before_bn=True),
                   DenseSpec(12)], ActQuant(2, True, False, 0.5), WeightQuant(2, True, True)),
    "w3a1_padded": ((2, 7, 7), [ConvSpec(8, 3, 1, 1), ConvSpec(6, 3, 2, 1), DenseSpec(12)],
                    None, WeightQuant(3, False, True)),
    "w4a4": ((12,), [DenseSpec(10)], ActQuant(4, True, True, 0.2), WeightQuant(4, True, False)),
    "w2a2_int_input_conv": ((1, 6, 6), [ConvSpec(6, 3, 1, 0), DenseSpec(8)],
                            ActQuant(2, False, False, 0.5), WeightQuant(2, False, False)),
}  # fmt: skip


@pytest.mark.parametrize("name", list(RTL_MODELS))
def test_multilevel_rtlsim(name: str, tmp_path: Path) -> None:
    """Six multi-bit models through the generated RTL (Verilator): scores equal the golden
    model with and without random stalls, cycles per image equal the cycle model."""
    shape, layers, act, weights = RTL_MODELS[name]
    bn = BnStats(negative_gamma=0.4, zero_gamma=0.1, out_of_range=0.1)
    mode = "quant8" if "int_input" in name or len(shape) == 1 else "bipolar"
    model = build_bnn(shape, layers, 5, act=act, weights=weights, bn=bn, seed=7, input_mode=mode)
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    rng = np.random.default_rng(len(name))
    check_rtl(path, tmp_path, 6, lambda m: random_folding(m, rng))


@settings(max_examples=50, deadline=None, derandomize=True)
@given(st.integers(1, 40), st.integers(0, 2**31))
def test_trit_packing_round_trip(n: int, seed: int) -> None:
    """Three ternary values per 5-bit code (1.67 bits per weight): every value comes back,
    every code is one of the 27 that three trits make."""
    trits = np.random.default_rng(seed).integers(-1, 2, (3, n))
    bits = pack_trits(trits)
    assert bits.shape == (3, 5 * -(-n // 3))
    codes = (bits.reshape(3, -1, 5) << np.arange(5)).sum(-1)
    assert codes.max() < 27
    assert np.array_equal(unpack_trits(bits, n), trits)


@pytest.mark.parametrize("level", ["csim", "rtlsim"])
def test_packed_ternary_weights(level: str) -> None:
    """The trained W2A2 digits CNN with every layer's weights in block RAM: the ternary
    layers store their weights three to a 5-bit code (SIMD 1, 4 and 8: codes padded), and the
    generated C++ and RTL equal the golden model."""
    c = compile_file(EXAMPLES / "multibit" / "digits_cnn_w2a2.onnx")
    simd = {"l1_conv": 1, "l3_conv": 4, "l6_conv": 8, "l9_dense": 8}
    folding = {name: Fold(2, simd[name], "block", "bases", "writable") for name in simd}
    check_folding(c.model, folding)
    plan = build_plan(c.model, folding)
    packed = [s.name for s in plan.linear_stages() if s.params()["WPACK"]]
    assert packed == ["l1_conv_bases", "l3_conv_bases", "l6_conv_bases"]  # not the scores
    summary = verify(c, level=level, random=12, folding=folding)
    assert summary.passed, summary.to_json()
