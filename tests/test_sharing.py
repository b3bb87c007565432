"""Result sharing: exact sharing is bit-identical, similar merging stays within its distance,
and the operation counts agree with a brute-force count."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bnn_hls import golden, ir
from bnn_hls.compiler import compile_file
from bnn_hls.errors import ModelError
from bnn_hls.modelgen import build_bnn
from bnn_hls.passes import PassOptions, ResultSharing, parse_sharing
from bnn_hls.passes.sharing import filters_2d
from bnn_hls.verify import random_inputs

from .conftest import DIGITS, run_cli
from .hls_helpers import csim_scores, random_folding
from .strategies import ModelSpec, has_binary_conv, model_specs


def brute_force_distinct(layer: ir.Conv) -> int:
    f2 = filters_2d(layer)
    total = 0
    for ch in range(f2.shape[1]):
        seen = set()
        for f in f2[:, ch, :]:
            a, b = tuple(f), tuple(1 - f)
            seen.add(min(a, b))
        total += len(seen)
    return total


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(spec=model_specs(conv=True), distance=st.sampled_from([1, 2, 3]))
def test_random_models(spec: ModelSpec, distance: int, tmp_path: Path) -> None:
    path = tmp_path / f"m_{spec.seed}_{distance}.onnx"
    onnx.save(build_bnn(spec.input_shape, spec.layers, spec.classes, **spec.kwargs()), path)  # type: ignore[arg-type]
    model = compile_file(path).model
    x = random_inputs(model.input, 20, seed=spec.seed)
    reference = golden.run(model, x).acc

    result = ResultSharing().run(model, PassOptions(sharing=parse_sharing("exact")))

    exact, rep = result.model, result.report
    assert np.array_equal(golden.run(exact, x).acc, reference)  # lossless, bit for bit
    for layer, entry in zip(
        [la for la in exact.layers if isinstance(la, ir.Conv)],
        [e for e in rep["layers"] if not e["degenerate_1x1"]],
    ):
        assert layer.shared
        assert entry["distinct_2d"] == brute_force_distinct(layer)
        assert entry["paper_xnor_reduction"] == round(
            1 - entry["distinct_2d"] / entry["filters_2d"], 4
        )

    result = ResultSharing().run(model, PassOptions(sharing=parse_sharing(f"similar:{distance}")))

    similar, srep = result.model, result.report
    convs = [la for la in model.layers if isinstance(la, ir.Conv)]
    merged = [la for la in similar.layers if isinstance(la, ir.Conv)]
    for before, after, entry in zip(
        convs, merged, [e for e in srep["layers"] if not e["degenerate_1x1"]]
    ):
        changed = (filters_2d(before) != filters_2d(after)).sum(-1)
        assert changed.max() <= distance
        assert int(changed.sum()) == entry["changed_bits"]
        assert entry["distinct_2d"] <= brute_force_distinct(before)
    # the shared execution of the merged plan equals the plain execution of merged weights
    plain = dataclasses.replace(
        similar,
        layers=[
            dataclasses.replace(
                la,
                share_index=np.zeros((0, 0), np.int32),
                share_invert=np.zeros((0, 0), np.uint8),
                share_filters=np.zeros((0, 0), np.uint8),
                share_offsets=np.zeros(0, np.int32),
            )
            if isinstance(la, ir.Conv)
            else la
            for la in similar.layers
        ],
    )
    assert np.array_equal(golden.run(similar, x).acc, golden.run(plain, x).acc)


def test_cnv_figures(reference_dir: Path) -> None:
    """Random +-1 weights of the CNV shapes: about 17 % of the 2-D filter XNORs are shared
    lossless, about 68 % at distance 1 (the figures issue 7 reports)."""
    model = compile_file(reference_dir / "cnv.onnx").model
    exact = ResultSharing().run(model, PassOptions(sharing=parse_sharing("exact"))).report
    assert 0.12 < exact["conv_totals"]["paper_xnor_reduction"] < 0.22
    similar = ResultSharing().run(model, PassOptions(sharing=parse_sharing("similar:1"))).report
    assert 0.6 < similar["conv_totals"]["paper_xnor_reduction"] < 0.75


def test_ir_round_trip_keeps_the_plan(tmp_path: Path) -> None:
    model = compile_file(DIGITS / "digits_cnn.onnx").model
    shared = ResultSharing().run(model, PassOptions(sharing=parse_sharing("exact"))).model
    shared.save(tmp_path / "ir")
    loaded = ir.Model.load(tmp_path / "ir")
    x = random_inputs(model.input, 10, seed=3)
    assert np.array_equal(golden.run(loaded, x).acc, golden.run(model, x).acc)
    assert all(la.shared for la in loaded.layers if isinstance(la, ir.Conv))


def test_bad_mode() -> None:
    for bad in ("similar", "similar:0", "similar:x", "maybe"):
        with pytest.raises(ModelError, match="--sharing"):
            parse_sharing(bad)


def test_cli(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["inspect", DIGITS / "digits_cnn.onnx", "--sharing", "exact"], capsys)
    assert code == 0 and "result sharing (exact)" in out and "fewer" in out
    code, _, err = run_cli(["inspect", DIGITS / "digits_cnn.onnx", "--sharing", "lots"], capsys)
    assert code == 2 and "--sharing" in err
    # exact sharing is lossless against the source model, and the generated C++ (both binary
    # convs on the result-sharing kernel) equals the shared golden model
    code, out, _ = run_cli(
        [
            "verify",
            DIGITS / "digits_cnn.onnx",
            "--sharing",
            "exact",
            "--level",
            "csim",
            "--random",
            "30",
        ],
        capsys,
    )
    assert code == 0 and "PASS" in out


@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(spec=model_specs(conv=True).filter(has_binary_conv), fold_seed=st.integers(0, 1000))
def test_shared_hls_kernel_csim(spec: ModelSpec, fold_seed: int, tmp_path: Path) -> None:
    """The result-sharing HLS kernel (hw/hls/bnn_shared.h), generated from the plan's
    schedule, equals the shared golden model bit for bit in C simulation, under random
    foldings (each eligible conv on the shared kernel or the MVTU)."""
    folder = tmp_path / f"m{fold_seed}"
    folder.mkdir(exist_ok=True)  # hypothesis replays a failing example in the same tmp_path
    path = folder / "m.onnx"
    onnx.save(build_bnn(spec.input_shape, spec.layers, spec.classes, **spec.kwargs()), path)  # type: ignore[arg-type]
    shared = (
        ResultSharing()
        .run(compile_file(path).model, PassOptions(sharing=parse_sharing("exact")))
        .model
    )
    x = random_inputs(shared.input, 12, seed=fold_seed)
    folding = random_folding(shared, np.random.default_rng(fold_seed), shared=0.8)
    scores, sim = csim_scores(shared, folding, x, folder / "hls")
    assert np.array_equal(scores, golden.run(shared, x).acc)
    assert "warning:" not in sim.warnings, sim.warnings[-3000:]


def test_tied_finetuned_example_shares_losslessly() -> None:
    """The digits CNN trained with merged filters tied (train_digits.py --share-distance 1):
    exact sharing saves what distance-1 merging saves on the plain model, at no loss."""
    path = DIGITS / "digits_cnn_shared1.onnx"
    record = json.loads(Path(str(path) + ".json").read_text())
    model = compile_file(path).model
    result = ResultSharing().run(model, PassOptions(sharing=parse_sharing("exact")))
    shared, rep = result.model, result.report
    assert rep["conv_totals"]["paper_xnor_reduction"] > 0.4
    x = np.load(DIGITS / "digits_test_x.npy")
    y = np.load(DIGITS / "digits_test_y.npy")
    labels = golden.run(shared, x).labels
    assert np.array_equal(labels, golden.run(model, x).labels)
    assert abs(float((labels == y).mean()) - record["test_accuracy_float_model"]) < 1e-9
