"""The result-sharing unit: its schedule (backends/share_schedule.py) gives the unshared
match counts at every PE; generated as RTL it equals the golden model bit for bit in Verilator
with the cycles of the analytic model and lints clean; the folding's kernel choice (folding
files, errors, --sharing auto)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bnn_hls import golden, ir
from bnn_hls.backends.rtl import write_rtl_project
from bnn_hls.compiler import compile_file
from bnn_hls.dataflow.cycles import initiation_interval
from bnn_hls.dataflow.folding import divisors
from bnn_hls.dataflow.optimiser import optimise
from bnn_hls.dataflow.share_schedule import ShareSchedule, share_schedule
from bnn_hls.modelgen import build_bnn
from bnn_hls.passes import PassOptions, ResultSharing, parse_sharing
from bnn_hls.rtlsim.runner import RtlSim
from bnn_hls.verify import random_inputs

from .conftest import DIGITS, run_cli
from .hls_helpers import random_folding
from .strategies import ModelSpec, has_binary_conv, model_specs
from .test_rtl_lint import lint


def schedule_sums(sched: ShareSchedule, filters: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """What the unit computes, in numpy (to test the schedule): windows (N, T, C) bits ->
    lane sums S (N, O), output o = nf * PE + p."""
    pat = sched.unit_patterns(filters)  # (NF, U, T)
    x = windows[:, :, sched.unit_channel].transpose(0, 2, 1)  # (N, U, T)
    q = (x[:, None, :, :] == pat[None]).sum(-1)  # (N, NF, U) matches
    mask = (1 << sched.term_bits) - 1
    n = windows.shape[0]
    terms = q[:, np.arange(sched.nf)[:, None, None], sched.lane_unit]  # (N, NF, PE, C)
    terms = np.where(sched.lane_invert[None].astype(bool), mask - terms, terms)
    return terms.sum(-1).reshape(n, sched.outputs)


SETTINGS = dict(
    deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def shared_model(spec: ModelSpec, mode: str, folder: Path) -> ir.Model:
    path = folder / f"m_{spec.seed}.onnx"
    onnx.save(build_bnn(spec.input_shape, spec.layers, spec.classes, **spec.kwargs()), path)  # type: ignore[arg-type]
    model = (
        ResultSharing()
        .run(compile_file(path).model, PassOptions(sharing=parse_sharing(mode)))
        .model
    )
    return model


@settings(max_examples=25, **SETTINGS)  # type: ignore[arg-type]
@given(spec=model_specs(conv=True), mode=st.sampled_from(["exact", "similar:1", "similar:2"]))
def test_schedule_gives_the_match_counts_at_every_pe(
    spec: ModelSpec, mode: str, tmp_path: Path
) -> None:
    model = shared_model(spec, mode, tmp_path)
    rng = np.random.default_rng(spec.seed)
    for layer in model.layers:
        if not isinstance(layer, ir.Conv):
            continue
        o, kh, kw, c = layer.weights.shape
        t = kh * kw
        windows = rng.integers(0, 2, (40, t, c))
        matches = (windows[:, None] == layer.weights.reshape(o, t, c)[None]).sum((2, 3))
        per_channel = np.diff(layer.share_offsets)
        for pe in divisors(o):
            sched = share_schedule(layer, pe)
            excess = (1 << sched.term_bits) - 1 - t
            sums = schedule_sums(sched, layer.share_filters, windows)
            assert np.array_equal(sums - excess * sched.inverted_channels()[None], matches)
            units = np.bincount(sched.unit_channel, minlength=c)
            assert (units <= np.minimum(per_channel, pe)).all()
            if pe == o:  # one step: a unit per distinct filter, every filter fixed
                assert sched.units == layer.share_filters.shape[0]
                assert sched.varying_unit_bits(layer.share_filters) == 0
                assert (sched.lane_options() == 1).all()


def simulate_shared(model: ir.Model, folding, folder: Path, n: int, seed: int):  # type: ignore[no-untyped-def]
    plan = write_rtl_project(model, folding, folder / "rtl")
    x = random_inputs(model.input, n, seed=seed)
    words = plan.pack_inputs(golden.input_quant(model.input, x))
    res = RtlSim(folder / "rtl", folder / "build").run(words, golden.run(model, x).acc, seed)
    return plan, res


@settings(max_examples=6, **SETTINGS)  # type: ignore[arg-type]
@given(
    spec=model_specs(conv=True).filter(has_binary_conv),
    mode=st.sampled_from(["exact", "similar:1"]),
    fold_seed=st.integers(0, 1000),
)
def test_shared_rtl_random_models(
    spec: ModelSpec, mode: str, fold_seed: int, tmp_path: Path
) -> None:
    """Random models, every binary conv on the result-sharing unit at a random folding:
    bit-exact against the golden model with and without backpressure, cycles as modelled."""
    folder = tmp_path / f"m{fold_seed}"
    model = shared_model(spec, mode, tmp_path)
    folding = random_folding(model, np.random.default_rng(fold_seed), shared=1.0)
    plan, res = simulate_shared(model, folding, folder, 6, fold_seed)
    assert any(s.kind == "shared" for s in plan.stages)
    assert res.scores_ok, res.runs
    assert res.runs[0]["cycles_per_image"] == initiation_interval(plan), res.runs[0]


@pytest.mark.parametrize("name", ["digits_cnn", "digits_cnn_shared1"])
def test_digits_cnn_shared_rtlsim_cli(
    name: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`verify --sharing exact --level rtlsim`: the optimiser puts both binary convs on the
    result-sharing unit; the RTL equals the source model and the cycle model."""
    model = DIGITS / f"{name}.onnx"
    code, out, err = run_cli(
        ["verify", model, "--sharing", "exact", "--level", "rtlsim", "--random", "8", "--json"],
        capsys,
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["passed"] and doc["device_vs_golden"] == 8
    assert doc["rtl"]["cycles_per_image_measured"] == doc["rtl"]["cycles_per_image_model"]
    code, out, _ = run_cli(["inspect", model, "--sharing", "exact", "--json"], capsys)
    kernels = {la["name"]: la["kernel"] for la in json.loads(out)["folding"]["layers"]}
    assert kernels == {
        "l1_conv": "mvtu",
        "l3_conv": "shared",
        "l6_conv": "shared",
        "l9_dense": "mvtu",
    }


def folding_file(folder: Path, layers: dict[str, dict[str, object]]) -> Path:
    path = folder / "folding.json"
    path.write_text(json.dumps({"layers": layers}))
    return path


def test_generated_shared_units_lint_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One unit with a step per pixel (every filter fixed), one with many (filters and lane
    terms chosen by the step)."""
    fold = folding_file(
        tmp_path,
        {
            "l3_conv": {"pe": 32, "simd": 32, "kernel": "shared"},
            "l6_conv": {"pe": 4, "simd": 8, "kernel": "shared"},
            "l9_dense": {"pe": 10, "simd": 1},
        },
    )
    out = tmp_path / "out"
    code, _, err = run_cli(
        ["compile", DIGITS / "digits_cnn.onnx", "--sharing", "exact", "--folding", fold, "-o", out],
        capsys,
    )
    assert code == 0, err
    rtl = out / "rtl"
    names = (rtl / "files.f").read_text().split()
    assert {"bnn_share_l3_conv.sv", "bnn_share_l6_conv.sv"} <= set(names)
    assert lint([rtl / n for n in names], "bnn_top", rtl) == ""
    saved = json.loads((out / "folding.json").read_text())["layers"]
    assert saved["l3_conv"]["kernel"] == "shared" and saved["l1_conv"]["kernel"] == "mvtu"
    # the folding file written is read back to the same design
    again = tmp_path / "again"
    args = ["compile", DIGITS / "digits_cnn.onnx", "--sharing", "exact", "--folding"]
    code, _, err = run_cli([*args, out / "folding.json", "-o", again], capsys)
    assert code == 0, err
    assert (again / "rtl" / "bnn_share_l6_conv.sv").read_text() == (
        rtl / "bnn_share_l6_conv.sv"
    ).read_text()


@pytest.mark.parametrize(
    "sharing,layer,words",
    [
        ("exact", "l1_conv", "integers"),
        ("exact", "l9_dense", "not a conv"),
        ("off", "l3_conv", "no sharing plan"),
    ],
)
def test_shared_kernel_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sharing: str, layer: str, words: str
) -> None:
    pe = {"l1_conv": 32, "l9_dense": 10, "l3_conv": 32}[layer]
    fold = folding_file(tmp_path, {layer: {"pe": pe, "simd": 1, "kernel": "shared"}})
    code, _, err = run_cli(
        ["inspect", DIGITS / "digits_cnn.onnx", "--sharing", sharing, "--folding", fold], capsys
    )
    assert code == 2 and layer in err and words in err and "Traceback" not in err
    bad = folding_file(tmp_path, {"l3_conv": {"pe": 32, "simd": 1, "kernel": "magic"}})
    code, _, err = run_cli(["inspect", DIGITS / "digits_cnn.onnx", "--folding", bad], capsys)
    assert code == 2 and "kernel must be one of" in err


@pytest.mark.parametrize("name,target", [("digits_cnn", 150_000), ("digits_cnn_shared1", 20_000)])
def test_auto_is_never_worse_than_either_kernel(name: str, target: float) -> None:
    """--sharing auto searches both kernels per layer: by the resource model its design is no
    larger than the all-shared or the all-MVTU design at the same throughput."""
    model = (
        ResultSharing()
        .run(
            compile_file(DIGITS / f"{name}.onnx").model, PassOptions(sharing=parse_sharing("auto"))
        )
        .model
    )
    results = {
        mode: optimise(model, target_fps=target, shared_kernel=mode)
        for mode in ("choose", "always", "never")
    }
    for mode, res in results.items():
        assert res.ii <= 1e8 / target, mode
    best_pure = min(results["always"].estimate.lut, results["never"].estimate.lut)
    assert results["choose"].estimate.lut <= best_pure + 1
    kernels = {f.kernel for f in results["always"].folding.values()}
    assert kernels == {"mvtu", "shared"}
    assert {f.kernel for f in results["never"].folding.values()} == {"mvtu"}


# CNV with every binary conv on the result-sharing unit (a folding that fits no chip: the
# units of the 128- and 256-channel layers at these PEs hold their filters in logic)
CNV_ALL_SHARED = {
    "l1_conv": {"pe": 32, "simd": 3, "rom": "lut"},
    "l3_conv": {"pe": 8, "simd": 64, "kernel": "shared"},
    "l6_conv": {"pe": 2, "simd": 16, "kernel": "shared"},
    "l8_conv": {"pe": 1, "simd": 64, "kernel": "shared"},
    "l11_conv": {"pe": 1, "simd": 64, "kernel": "shared"},
    "l13_conv": {"pe": 1, "simd": 32, "kernel": "shared"},
    "l16_dense": {"pe": 2, "simd": 8, "rom": "block"},
    "l18_dense": {"pe": 8, "simd": 16, "rom": "block"},
    "l20_dense": {"pe": 10, "simd": 1, "rom": "block"},
}


def test_cnv_all_shared_csim(
    reference_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fold = folding_file(tmp_path, CNV_ALL_SHARED)
    args = ["verify", reference_dir / "cnv.onnx", "--sharing", "exact", "--folding", fold]
    code, out, err = run_cli([*args, "--level", "csim", "--random", "4"], capsys)
    assert code == 0 and "PASS" in out, out + err


@pytest.mark.slow
def test_cnv_auto_rtlsim(reference_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--sharing auto on CNV at the default budget: the optimiser puts the 64-channel convs
    on the result-sharing unit (no wide weight ROM), the RTL equals the source model and the
    cycle model."""
    code, out, _ = run_cli(
        ["inspect", reference_dir / "cnv.onnx", "--sharing", "auto", "--json"], capsys
    )
    kernels = {la["name"]: la["kernel"] for la in json.loads(out)["folding"]["layers"]}
    assert kernels["l3_conv"] == "shared" and kernels["l1_conv"] == "mvtu"
    args = ["verify", reference_dir / "cnv.onnx", "--sharing", "auto", "--json"]
    code, out, err = run_cli([*args, "--level", "rtlsim", "--random", "3"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["passed"] and doc["device_vs_golden"] == 3
    assert doc["rtl"]["cycles_per_image_measured"] == doc["rtl"]["cycles_per_image_model"]
