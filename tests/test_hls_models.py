"""Whole models through the HLS backend: generated C++ compiled with g++ (no Xilinx tools),
bit-exact against the golden model; warnings, Tcl, folding options."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bnn_hls import golden
from bnn_hls.compiler import compile_file
from bnn_hls.dataflow.folding import default_folding
from bnn_hls.modelgen import build_bnn
from bnn_hls.verify import random_inputs

from .conftest import DIGITS, TFC_MNIST, run_cli
from .hls_helpers import csim_scores, random_folding
from .strategies import ModelSpec, model_specs


def check_csim(path: Path, folder: Path, n: int, seed: int = 0, folding=None) -> None:  # type: ignore[no-untyped-def]
    c = compile_file(path)
    fold = folding(c.model) if callable(folding) else default_folding(c.model)
    x = random_inputs(c.model.input, n, seed=seed)
    scores, sim = csim_scores(c.model, fold, x, folder)
    assert np.array_equal(scores, golden.run(c.model, x).acc)
    assert "warning:" not in sim.warnings, sim.warnings[-3000:]


@pytest.mark.parametrize(
    "path",
    [DIGITS / "digits_mlp.onnx", DIGITS / "digits_cnn.onnx", TFC_MNIST / "tfc_mnist.onnx"],
    ids=lambda p: p.stem,
)
def test_examples_csim_bit_exact(path: Path, tmp_path: Path) -> None:
    check_csim(path, tmp_path / "hls", 200)


@pytest.mark.parametrize("name,n", [("tfc", 300), ("sfc", 100), ("cnv", 300)])
def test_reference_topologies_csim(reference_dir: Path, tmp_path: Path, name: str, n: int) -> None:
    check_csim(reference_dir / f"{name}.onnx", tmp_path / "hls", n)


@pytest.mark.parametrize("seed", [1, 2])
def test_digits_cnn_random_foldings(tmp_path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    check_csim(
        DIGITS / "digits_cnn.onnx",
        tmp_path / "hls",
        60,
        seed,
        lambda model: random_folding(model, rng),
    )


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(spec=model_specs(), fold_seed=st.integers(0, 1000))
def test_random_models_random_folding(spec: ModelSpec, fold_seed: int, tmp_path: Path) -> None:
    model = build_bnn(spec.input_shape, spec.layers, spec.classes, **spec.kwargs())  # type: ignore[arg-type]
    import tempfile

    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    onnx.save(model, folder / "m.onnx")
    rng = np.random.default_rng(fold_seed)
    check_csim(folder / "m.onnx", folder / "hls", 40, spec.seed, lambda m: random_folding(m, rng))


def test_verify_level_csim_cli(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(
        ["verify", DIGITS / "digits_mlp.onnx", "--level", "csim", "--random", "100"], capsys
    )
    assert code == 0, out + err
    assert "equal to the golden model: 100/100" in out and "PASS" in out


def test_compile_writes_hls_project(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code, _, err = run_cli(["compile", DIGITS / "digits_cnn.onnx", "-o", out], capsys)
    assert code == 0, err
    hls = out / "hls"
    for name in (
        "top.cpp",
        "top.h",
        "config.h",
        "tb.cpp",
        "hls.tcl",
        "bnn_mvtu.h",
        "params_l1_conv.h",
        "csim_input.bin",
        "csim_expected.bin",
    ):
        assert (hls / name).is_file(), name
    top = (hls / "top.cpp").read_text()
    assert "#pragma HLS DATAFLOW" in top and "l1_conv_mvtu(" in top
    assert "BIND_STORAGE" in (hls / "params_l1_conv.h").read_text()
    # the shipped test data reproduces through the generated testbench
    from bnn_hls.csim import CSim

    sim = CSim(hls)
    sim.build()
    res = subprocess.run(
        [
            str(sim.exe),
            str(hls / "csim_input.bin"),
            str(tmp_path / "o.bin"),
            "8",
            str(hls / "csim_expected.bin"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert "matches the golden model on 8 images" in res.stdout


def test_vivado_flavor_csim(capsys: pytest.CaptureFixture[str]) -> None:
    """The Vivado HLS flavour's C++ (-std=c++0x, ROM tables as native integers in C-sim)
    equals the golden model, with both binary convs on the result-sharing unit."""
    args = ["verify", DIGITS / "digits_cnn.onnx", "--sharing", "exact", "--level", "csim"]
    code, out, err = run_cli([*args, "--hls-flavor", "vivado", "--random", "20"], capsys)
    assert code == 0 and "PASS" in out, out + err


def test_vivado_flavor_pragmas(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code, _, _ = run_cli(
        ["compile", DIGITS / "digits_mlp.onnx", "-o", out, "--hls-flavor", "vivado"], capsys
    )
    assert code == 0
    params = (out / "hls" / "params_l1_dense.h").read_text()
    assert "core = ROM_1P_" in params and "BIND_STORAGE" not in params
    assert "-flow_target" not in (out / "hls" / "hls.tcl").read_text()


def tcl_calls(tcl: Path, argv: str = "") -> list[list[str]]:
    """Source a Tcl script in tclsh with recording stand-ins for the HLS tool's commands."""
    stub = f"""
set calls {{}}
foreach cmd {{open_project set_top add_files open_solution set_part create_clock csim_design
             csynth_design cosim_design export_design}} {{
    proc $cmd {{args}} "lappend ::calls \\[list $cmd {{*}}\\$args\\]"
}}
proc exit {{args}} {{}}
set argv [list {argv}]
cd {tcl.parent}
source {tcl.name}
foreach c $calls {{ puts [join $c "\\t"] }}
"""
    res = subprocess.run(["tclsh"], input=stub, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    return [line.split("\t") for line in res.stdout.splitlines()]


def test_hls_tcl_runs_in_tclsh(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    run_cli(["compile", DIGITS / "digits_cnn.onnx", "-o", out], capsys)
    calls = tcl_calls(out / "hls" / "hls.tcl")
    names = [c[0] for c in calls]
    assert names[:2] == ["open_project", "set_top"] and ["set_top", "bnn_top"] in calls
    assert ["set_part", "xc7z020clg400-1"] in calls
    assert ["create_clock", "-period", "10", "-name", "default"] in calls
    assert "csynth_design" in names and "export_design" in names
    assert "csim_design" not in names and "cosim_design" not in names
    calls = tcl_calls(out / "hls" / "hls.tcl", "csim cosim")
    names = [c[0] for c in calls]
    assert "csim_design" in names and "cosim_design" in names
    export = next(c for c in calls if c[0] == "export_design")
    assert "ip_catalog" in export


@pytest.mark.parametrize(
    "folding,needle",
    [
        ('{"layers": {"l1_dense": {"pe": 7, "simd": 8}}}', "PE 7 does not divide"),
        ('{"layers": {"l1_dense": {"pe": 16, "simd": 5}}}', "SIMD 5 does not divide"),
        ('{"layers": {"nope": {"pe": 1, "simd": 1}}}', "does not have"),
        ("not json", "cannot read folding file"),
    ],
)
def test_bad_folding_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], folding: str, needle: str
) -> None:
    f = tmp_path / "fold.json"
    f.write_text(folding)
    code, _, err = run_cli(
        ["compile", DIGITS / "digits_mlp.onnx", "-o", tmp_path / "o", "--folding", f], capsys
    )
    assert code == 2 and needle in err, err
    assert not (tmp_path / "o").exists()


def test_incompatible_neighbour_folding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bnn_hls.modelgen import DenseSpec

    onnx.save(
        build_bnn((8,), [DenseSpec(6), DenseSpec(4)], 3, input_mode="bipolar"), tmp_path / "m.onnx"
    )
    f = tmp_path / "fold.json"
    f.write_text('{"layers": {"l1_dense": {"pe": 3, "simd": 8}, "l3_dense": {"pe": 4, "simd": 2}}}')
    code, _, err = run_cli(
        ["compile", tmp_path / "m.onnx", "-o", tmp_path / "o", "--folding", f], capsys
    )
    assert code == 2 and "must divide one another" in err, err


def test_folding_file_is_used(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "fold.json"
    f.write_text('{"layers": {"l1_dense": {"pe": 4, "simd": 2}}}')
    code, _, _ = run_cli(
        ["compile", DIGITS / "digits_mlp.onnx", "-o", tmp_path / "o", "--folding", f], capsys
    )
    assert code == 0
    config = (tmp_path / "o" / "hls" / "config.h").read_text()
    assert "L1_DENSE_PE = 4;" in config and "L1_DENSE_SIMD = 2;" in config
    code, out, _ = run_cli(
        ["verify", DIGITS / "digits_mlp.onnx", "--level", "csim", "--folding", f, "--random", "30"],
        capsys,
    )
    assert code == 0 and "30/30" in out
