"""Piecewise approximation (docs/pa.md): staircase activations in plain ONNX (the Sign and the
Where forms) and few-level real weights, rounded to fixed point (--coeff-bits); BatchShift on
staircases; the MVTU over binary bases bit-exact against the golden model in C-sim and RTL-sim
under random foldings."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from bnn_hls import golden, ir
from bnn_hls.compiler import compile_file
from bnn_hls.dataflow.bases import X_STEPS, decompose
from bnn_hls.frontend.fixedpoint import DEFAULT_COEFF_BITS
from bnn_hls.frontend.staircase import rewrite_staircases
from bnn_hls.modelgen import BnStats, ConvSpec, DenseSpec, PaSpec, build_bnn
from bnn_hls.passes import PassOptions
from bnn_hls.reference import SourceModel
from bnn_hls.verify import random_inputs, verify_golden

from .conftest import EXAMPLES, run_cli
from .hls_helpers import csim_scores, random_folding
from .kernel_models import bases_identity
from .strategies import ModelSpec, pa_specs
from .test_rtl import check_model as check_rtl
from .test_rtl_lint import lint


def compile_spec(spec: ModelSpec, folder: Path, bits: int = 8) -> tuple[Path, ir.Model]:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "m.onnx"
    onnx.save(build_bnn(spec.input_shape, spec.layers, spec.classes, **spec.kwargs()), path)  # type: ignore[arg-type]
    c = compile_file(path, PassOptions(coeff_bits=bits))
    assert c.model.is_integer_only()
    return path, c.model


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(spec=pa_specs())
def test_random_pa_models(spec: ModelSpec, tmp_path: Path) -> None:
    """BatchShift is exact on the fixed-point model (fused = un-fused on every input), and at
    16 coefficient bits the compiled model picks the source's top-1 on every input that has
    no pre-activation tie (ONNX Sign(0) = 0 on the binarised input or a Sign term)."""
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    path = folder / "m.onnx"
    onnx.save(build_bnn(spec.input_shape, spec.layers, spec.classes, **spec.kwargs()), path)  # type: ignore[arg-type]
    for bits in (8, 16):
        c = compile_file(path, PassOptions(coeff_bits=bits))
        x = random_inputs(c.model.input, 64, seed=spec.seed % 1000)
        assert np.array_equal(golden.run(c.unfused, x).acc, golden.run(c.model, x).acc)
    rep = verify_golden(c.model, SourceModel(c.onnx_model, c.info), x)
    assert rep.label_disagreements_off_ties == 0, rep
    # the MVTU's base decomposition reproduces every weight and input value
    for layer in c.model.linear_layers():
        for offsets in (False, True):
            bases = decompose(layer, layer.input_element_bits(), offsets=offsets)
            if bases.input_form == X_STEPS:
                lo = layer.input_code_lo
                bases.check(layer, np.arange(lo, lo + layer.input_levels.size))
        # and the kernels' sum over base pairs (plain and sign-magnitude) is the dot product
        bases_identity(layer, layer.input_element_bits(), np.random.default_rng(spec.seed))


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(spec=pa_specs(), fold_seed=st.integers(0, 1000))
def test_random_pa_csim(spec: ModelSpec, fold_seed: int, tmp_path: Path) -> None:
    """Random PA models at random foldings: the generated C++ (the MVTU over bases) equals
    the golden model."""
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    _, model = compile_spec(spec, folder)
    x = random_inputs(model.input, 24, seed=fold_seed)
    folding = random_folding(model, np.random.default_rng(fold_seed))
    scores, sim = csim_scores(model, folding, x, folder / "hls")
    assert np.array_equal(scores, golden.run(model, x).acc)
    assert "warning:" not in sim.warnings, sim.warnings[-3000:]


RTL_MODELS = {
    "dense_2x3_sign": ((20,), [DenseSpec(16), DenseSpec(12)], PaSpec(2, 3, "sign")),
    "conv_padded_3x3_where": ((2, 7, 7), [ConvSpec(8, 3, 1, 1), ConvSpec(6, 3, 2, 1),
                              DenseSpec(12)], PaSpec(3, 3, "where")),
    "conv_pools_2x2": ((2, 9, 9), [ConvSpec(8, 3, 1, 1, pool=2),
                       ConvSpec(6, 3, 1, 1, pool=3, pool_stride=2, pool_before_bn=True),
                       DenseSpec(12)], PaSpec(2, 2, "sign")),
    "dense_4x5": ((12,), [DenseSpec(10)], PaSpec(4, 5, "where")),
    "int_input_conv_1x4": ((1, 6, 6), [ConvSpec(6, 3, 1, 1), DenseSpec(8)], PaSpec(1, 4, "sign")),
    "binary_input_conv_4x2": ((2, 6, 6), [ConvSpec(8, 3, 1, 1, pool=2), DenseSpec(8)],
                              PaSpec(4, 2, "where")),
}  # fmt: skip


@pytest.mark.parametrize("name", list(RTL_MODELS))
def test_pa_rtlsim(name: str, tmp_path: Path) -> None:
    """Six PA models through the generated RTL (Verilator): scores equal the golden model
    with and without random stalls, cycles per image equal the cycle model."""
    shape, layers, pa = RTL_MODELS[name]
    bn = BnStats(negative_gamma=0.4, zero_gamma=0.1, out_of_range=0.1)
    mode = "quant8" if "int_input" in name or len(shape) == 1 else "bipolar"
    model = build_bnn(shape, layers, 5, pa=pa, bn=bn, seed=11, input_mode=mode)
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    rng = np.random.default_rng(len(name))
    check_rtl(path, tmp_path, 6, lambda m: random_folding(m, rng))


def _activation_model(terms: list[tuple[str, float, float]], extra: str = "") -> onnx.ModelProto:
    """Gemm -> staircase (terms: form, v, beta) -> Gemm, binary weights, bipolar input."""
    rng = np.random.default_rng(0)
    w1 = np.where(rng.random((8, 6)) < 0.5, -1.0, 1.0).astype(np.float32)
    w2 = np.where(rng.random((6, 3)) < 0.5, -1.0, 1.0).astype(np.float32)
    inits = [
        numpy_helper.from_array(w1, "w1"),
        numpy_helper.from_array(w2, "w2"),
        numpy_helper.from_array(np.float32(0.5), "s"),
    ]
    nodes = [
        helper.make_node("Sign", ["x"], ["xb"]),
        helper.make_node("MatMul", ["xb", "w1"], ["a"]),
    ]
    nodes.append(helper.make_node("Mul", ["a", "s"], ["y"]))
    outs = []
    for i, (form, v, beta) in enumerate(terms):
        inits += [
            numpy_helper.from_array(np.float32(v), f"v{i}"),
            numpy_helper.from_array(np.float32(beta), f"b{i}"),
            numpy_helper.from_array(np.float32(-beta), f"nb{i}"),
            numpy_helper.from_array(np.float32(-v), f"nv{i}"),
        ]
        if form == "where":
            nodes.append(helper.make_node("Greater", ["y", f"v{i}"], [f"g{i}"]))
            nodes.append(helper.make_node("Where", [f"g{i}", f"b{i}", f"nb{i}"], [f"t{i}"]))
        else:
            if form == "add":  # x + (-v), beta first in the Mul
                nodes.append(helper.make_node("Add", ["y", f"nv{i}"], [f"d{i}"]))
            else:
                nodes.append(helper.make_node("Sub", ["y", f"v{i}"], [f"d{i}"]))
            nodes.append(helper.make_node("Sign", [f"d{i}"], [f"sg{i}"]))
            mul_in = [f"b{i}", f"sg{i}"] if form == "add" else [f"sg{i}", f"b{i}"]
            nodes.append(helper.make_node("Mul", mul_in, [f"t{i}"]))
        outs.append(f"t{i}")
    if extra == "sum":
        nodes.append(helper.make_node("Sum", outs, ["act"]))
    else:
        acc = outs[0]
        for k, t in enumerate(outs[1:]):
            nodes.append(helper.make_node("Add", [acc, t], [f"p{k}"]))
            acc = f"p{k}"
        nodes.append(helper.make_node("Identity", [acc], ["act"]))
    nodes.append(helper.make_node("MatMul", ["act", "w2"], ["out"]))
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 3])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize(
    "terms,extra",
    [
        ([("sign", -1.0, 0.5), ("sign", 1.5, 0.25)], ""),
        ([("add", 0.25, 1.0), ("sign", -2.0, 0.75), ("add", 2.0, 0.5)], "sum"),
        ([("where", 0.0, 1.0), ("where", -1.25, 0.5)], ""),
        ([("where", 1.0, 0.5), ("sign", -1.0, 0.5)], ""),  # the two forms mixed
    ],
)
def test_activation_forms(
    terms: list[tuple[str, float, float]], extra: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """Every form of term and sum becomes one staircase; the user's model is not changed;
    verify passes through the CLI; inspect names the staircase and the fixed point."""
    model = _activation_model(terms, extra)
    before = model.SerializeToString()
    rewritten = rewrite_staircases(model)
    assert model.SerializeToString() == before
    assert sum(n.op_type == "Staircase" for n in rewritten.graph.node) == 1
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    c = compile_file(path)
    stair = next(la for la in c.unfused.layers if isinstance(la, ir.Staircase))
    assert stair.thresholds.size == len(terms)
    assert list(stair.thresholds) == sorted(stair.thresholds)
    code, out, err = run_cli(["verify", path, "--random", "300", "--allow-ties"], capsys)
    assert code == 0 and "PASS" in out, out + err
    code, out, _ = run_cli(["inspect", path], capsys)
    assert code == 0 and "bases" in out and "coefficient bits" in out, out


@pytest.mark.parametrize("form", ["where", "sign"])
def test_ties_of_staircase_terms_are_counted(form: str, tmp_path: Path) -> None:
    """verify counts an input as at a tie when a pre-activation sits on a term's split point,
    in the Where form (x > v) as in the Sign form (Sign(x - v) = 0)."""
    model = _activation_model([(form, 0.0, 1.0), (form, -1.5, 0.5)])
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    c = compile_file(path)
    rng = np.random.default_rng(3)
    x = (rng.random((200, 8)) + 0.1) * np.where(rng.random((200, 8)) < 0.5, -1, 1)
    x = x.astype(np.float32)  # no input at a sign's 0: every tie is the staircase's
    w1 = numpy_helper.to_array(next(i for i in model.graph.initializer if i.name == "w1"))
    y = 0.5 * (np.sign(x) @ w1)  # the staircase's input: multiples of 0.5 up to 4
    at_split = np.any((y == 0.0) | (y == -1.5), axis=1)
    assert 0 < at_split.sum() < len(x)
    rep = verify_golden(c.model, SourceModel(c.onnx_model, c.info), x)
    assert rep.exact_ties == rep.near_ties == int(at_split.sum())


def test_refusals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A negative coefficient is no staircase (the tensor's fan-out is refused, naming the
    node); too few coefficient bits for distinct levels are refused with the option."""
    model = _activation_model([("sign", -1.0, 0.5), ("sign", 1.0, -0.25)])
    path = tmp_path / "neg.onnx"
    onnx.save(model, path)
    code, _, err = run_cli(["inspect", path], capsys)
    assert code == 2 and "feeds 2 nodes" in err and "Traceback" not in err
    close = _activation_model([("sign", -1.0, 1.0), ("sign", 1.0, 0.01)])
    path = tmp_path / "close.onnx"
    onnx.save(close, path)
    code, _, err = run_cli(["inspect", path, "--coeff-bits", "3"], capsys)
    assert code == 2 and "--coeff-bits" in err and "Traceback" not in err
    code, _, err = run_cli(["inspect", path, "--coeff-bits", "40"], capsys)
    assert code == 2 and "3..16" in err


def test_ir_round_trip(tmp_path: Path) -> None:
    model = build_bnn((2, 6, 6), [ConvSpec(6, 3, 1, 1, pool=2), DenseSpec(8)], 4,
                      pa=PaSpec(3, 4, "sign"), seed=2)  # fmt: skip
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    fused = compile_file(path).model
    fused.save(tmp_path / "ir")
    loaded = ir.Model.load(tmp_path / "ir")
    x = random_inputs(fused.input, 50, seed=4)
    assert np.array_equal(golden.run(loaded, x).acc, golden.run(fused, x).acc)
    assert loaded.coeff_bits() == DEFAULT_COEFF_BITS


def test_generated_top_lint_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The RTL of a PA model (MVTU over bases, padded conv with a border correction of
    staircase codes) is Verilator-lint clean."""
    model = build_bnn((2, 6, 6), [ConvSpec(6, 3, 1, 1, pool=2), ConvSpec(4, 3, 1, 1),
                      DenseSpec(8)], 4, pa=PaSpec(3, 4, "where"), seed=5)  # fmt: skip
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    out = tmp_path / "out"
    code, _, err = run_cli(["compile", path, "-o", out], capsys)
    assert code == 0, err
    rtl = out / "rtl"
    files = [rtl / name for name in (rtl / "files.f").read_text().split()]
    assert lint(files, "bnn_top", rtl) == ""


@pytest.mark.parametrize("name", ["digits_cnn_pa2x2", "tfc_pa2x2"])
def test_trained_pa_examples_csim(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """examples/pa/train_pa.py's exports in C-sim (the whole test sets go through the golden
    model and the RTL in test_rtlsim_native)."""
    data = EXAMPLES / ("digits" if name.startswith("digits") else "mnist_tfc")
    prefix = "digits_test" if name.startswith("digits") else "mnist_test"
    head = tmp_path / "head.npy"
    np.save(head, np.load(data / f"{prefix}_x.npy")[:40])
    path = EXAMPLES / "pa" / f"{name}.onnx"
    code, out, err = run_cli(["verify", path, "--level", "csim", "--inputs", head], capsys)
    assert code == 0 and "integer scores equal to the golden model: 40/40" in out, out + err


def test_update_keeps_the_built_precision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """model.json records --coeff-bits; `update` compiles the new model at the same precision
    (at another one the weights would differ and the update be refused)."""
    model = build_bnn((12,), [DenseSpec(8)], 3, pa=PaSpec(2, 3, "where"), seed=4)
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    out = tmp_path / "build"
    code, _, err = run_cli(["build", path, "-o", out, "--coeff-bits", "9"], capsys)
    assert code == 0, err
    code, out_text, err = run_cli(["update", path, "--deploy", out / "deploy"], capsys)
    assert code == 0 and "thresholds.json" in out_text, err


def test_verify_says_when_the_rounding_moved_the_top1(capsys: pytest.CaptureFixture[str]) -> None:
    """At 7 coefficient bits TFC-PA picks another class than the source on 11 of its 200 test
    images (docs/pa.md); verify fails, and says how many of them agree at the most bits: the
    rounding, not the hardware, moved them."""
    path = EXAMPLES / "pa" / "tfc_pa2x2.onnx"
    x = EXAMPLES / "mnist_tfc" / "mnist_test_x.npy"
    code, out, err = run_cli(["verify", path, "--inputs", x, "--coeff-bits", "7"], capsys)
    assert code == 1 and "FAIL" in out, out + err
    line = next(s for s in out.splitlines() if "agree at --coeff-bits 16" in s)
    differ, agree = (int(w) for w in re.findall(r"\b(\d+) (?:inputs whose|agree)", line))
    assert differ == 11 and 0 < agree <= differ
    code, out, err = run_cli(["verify", path, "--inputs", x], capsys)
    assert code == 0 and "agree at --coeff-bits" not in out, out + err
