"""The HLS project's schedule without an HLS tool: every array a pipelined kernel loop reads
fits its ports after the pragmas (backends/hls_check.py, on every example, CNV at two
foldings and random models; and a design with one pragma removed fails); no word is wider
than 4096 bits; the report gate of hls.tcl on recorded csynth reports; the Vivado HLS
flavour; the HLS block-RAM model and `build`'s refusal of a design over the chip."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings

from bnn_hls.backends.hls import write_hls_project
from bnn_hls.backends.hls_arrays import plan_bram36
from bnn_hls.backends.hls_check import check_project
from bnn_hls.compiler import compile_file
from bnn_hls.dataflow.lowering import build_plan
from bnn_hls.dataflow.optimiser import optimise
from bnn_hls.modelgen import build_bnn
from bnn_hls.passes import PassOptions, parse_sharing

from .conftest import DIGITS, EXAMPLE_MODELS, ROOT, run_cli
from .hls_helpers import random_folding
from .strategies import ModelSpec, model_specs

FIXTURES = Path(__file__).parent / "fixtures" / "csynth"


def generated(path: Path, folder: Path, sharing: str = "off", **opt: float) -> Path:
    c = compile_file(path, PassOptions(parse_sharing(sharing)))
    folding = optimise(c.model, shared_kernel="choose", **opt).folding  # type: ignore[arg-type]
    write_hls_project(c.model, folding, folder)  # it runs check_project itself
    return folder


@pytest.mark.parametrize("path", EXAMPLE_MODELS, ids=lambda p: p.stem)
def test_examples_fit_their_ports(path: Path, tmp_path: Path) -> None:
    for sharing in ("off", "auto"):
        assert check_project(generated(path, tmp_path / sharing, sharing)) == []


@pytest.mark.parametrize("target", [None, 6000.0])
def test_cnv_fits_its_ports(reference_dir: Path, tmp_path: Path, target: float | None) -> None:
    opt = {} if target is None else {"target_fps": target}
    hls = generated(reference_dir / "cnv.onnx", tmp_path / "hls", "auto", **opt)
    assert check_project(hls) == []
    widths = [int(w) for w in re.findall(r"ap_uint<(\d+)>", (hls / "top.cpp").read_text())]
    assert max(widths) <= 4096


@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(spec=model_specs())
def test_random_designs_fit_their_ports(spec: ModelSpec, tmp_path: Path) -> None:
    path = tmp_path / f"m{spec.seed}.onnx"
    onnx.save(build_bnn(spec.input_shape, spec.layers, spec.classes, **spec.kwargs()), path)  # type: ignore[arg-type]
    c = compile_file(path, PassOptions(parse_sharing("exact")))
    folding = random_folding(c.model, np.random.default_rng(spec.seed))
    folder = tmp_path / f"h{spec.seed}"
    write_hls_project(c.model, folding, folder)
    assert check_project(folder) == []


def test_a_removed_pragma_is_caught(tmp_path: Path) -> None:
    """Every partition or reshape pragma the check relies on: without it, it names the
    array."""
    hls = generated(DIGITS / "digits_cnn.onnx", tmp_path / "hls")
    pragmas = [
        (p, line)
        for p in sorted(hls.glob("params_*.h"))
        for line in p.read_text().splitlines()
        if re.match(r"#pragma HLS ARRAY_(PARTITION|RESHAPE)", line) and "dim = 1" in line
    ]
    assert len(pragmas) >= 4
    for path, line in pragmas:
        original = path.read_text()
        path.write_text(original.replace(line + "\n", "", 1))
        try:
            problems = check_project(hls)
        finally:
            path.write_text(original)
        name = re.search(r"variable = (\w+)", line).group(1)  # type: ignore[union-attr]
        assert any(name in p and "read(s) per iteration" in p for p in problems), (line, problems)
    # a storage pragma that gives a buffer no write port
    params = next(p for p in sorted(hls.glob("params_*.h")) if "type = ram_s2p" in p.read_text())
    params.write_text(params.read_text().replace("type = ram_s2p", "type = rom_1p", 1))
    assert any("no write port" in p for p in check_project(hls))


def test_words_wider_than_4096_bits_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "fold.json"
    f.write_text('{"layers": {"l1_dense": {"pe": 256, "simd": 64}}}')
    code, _, err = run_cli(
        ["compile", DIGITS / "digits_mlp.onnx", "-o", tmp_path / "o", "--folding", f], capsys
    )
    assert code == 0, err  # 256 bits out, 512 in: within the limits
    # 200 scores of 32 bits in one word: 6400 bits
    model = build_bnn((8,), [], 200, input_mode="bipolar")
    onnx.save(model, tmp_path / "wide.onnx")
    f.write_text('{"layers": {"l1_dense": {"pe": 200, "simd": 8}}}')
    code, _, err = run_cli(
        ["compile", tmp_path / "wide.onnx", "-o", tmp_path / "o3", "--folding", f], capsys
    )
    assert code == 2 and "6400-bit words" in err and "at most 4096" in err, err
    assert not (tmp_path / "o3").exists()


def gate(folder: Path) -> list[str]:
    script = ROOT / "templates" / "hls" / "check_csynth.tcl.j2"
    tcl = f"source {{{script}}}\nforeach p [bnn_check_csynth {{{folder}}}] {{ puts $p }}\n"
    res = subprocess.run(["tclsh"], input=tcl, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    return res.stdout.splitlines()


def test_csynth_report_gate() -> None:
    assert gate(FIXTURES / "good") == []
    slow = gate(FIXTURES / "slow")
    assert slow == ["loop VITIS_LOOP_53_1 (l3_conv_mvtu_Pipeline_VITIS_LOOP_53_1_csynth.xml) "
                    "has II = 16, not 1"]  # fmt: skip
    big = gate(FIXTURES / "vivado_big")
    assert "loop Loop1.1 (csynth.xml) has II = 2, not 1" in big
    assert "the design needs 312 BRAM_18K, the part has 280 (csynth.xml)" in big
    assert gate(FIXTURES / "missing") == [f"no csynth report in {FIXTURES / 'missing'} "
                                          "(did synthesis run?)"]  # fmt: skip


def test_hls_tcl_stops_on_the_gate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """hls.tcl runs the gate after csynth_design and exits 1 on a problem (tclsh with
    stand-ins for the tool's commands and a recorded report)."""
    out = tmp_path / "out"
    code, _, _ = run_cli(["compile", DIGITS / "digits_mlp.onnx", "-o", out], capsys)
    assert code == 0
    hls = out / "hls"
    report = hls / "bnn_hls_prj" / "solution1" / "syn" / "report"
    report.mkdir(parents=True)
    for f in (FIXTURES / "slow").iterdir():
        (report / f.name).write_text(f.read_text())
    stub = """
foreach cmd {open_project set_top add_files open_solution set_part create_clock csim_design
             csynth_design cosim_design export_design} { proc $cmd {args} {} }
set argv {}
source hls.tcl
"""
    res = subprocess.run(["tclsh"], input=stub, capture_output=True, text=True, cwd=hls)
    assert res.returncode == 1
    assert "bnn-hls: loop VITIS_LOOP_53_1" in res.stderr and "II = 16" in res.stderr


def test_vivado_flavour(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code, _, _ = run_cli(
        ["compile", DIGITS / "digits_cnn.onnx", "-o", out, "--hls-flavor", "vivado"], capsys
    )
    assert code == 0
    hls = out / "hls"
    tcl = (hls / "hls.tcl").read_text()
    assert '-cflags "-std=c++0x' in tcl and "-std=c++14" not in tcl
    assert "#define BNN_AXIS_SIDE_BITS 1" in (hls / "config.h").read_text()
    params = "".join(p.read_text() for p in hls.glob("params_*.h"))
    assert "core = ROM_1P_" in params and "BIND_STORAGE" not in params
    assert "type = complete" not in params  # Vivado HLS takes the positional form
    assert check_project(hls) == []
    code, out_text, err = run_cli(
        [
            "verify",
            DIGITS / "digits_cnn.onnx",
            "--level",
            "csim",
            "--hls-flavor",
            "vivado",
            "--random",
            "10",
        ],
        capsys,
    )
    assert code == 0 and "10/10" in out_text, err


def test_hls_block_ram_model_and_build_refusal(
    reference_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    c = compile_file(reference_dir / "cnv.onnx")
    default = optimise(c.model).folding
    rows, total = plan_bram36(build_plan(c.model, default))
    assert 0 < total <= 140 and total == sum(b for _, b in rows)
    code, out, _ = run_cli(["inspect", reference_dir / "cnv.onnx"], capsys)
    assert code == 0 and "HLS project:" in out and "RAMB36 by the arrays as written" in out
    # weights words of 64 x 128 bits, too wide to reshape: a RAMB18 column per PE
    f = tmp_path / "fold.json"
    f.write_text(
        '{"layers": {"l11_conv": {"pe": 64, "simd": 128, "rom": "block"}, '
        '"l13_conv": {"pe": 64, "simd": 128, "rom": "block"}}}'
    )
    code, _, err = run_cli(
        ["build", reference_dir / "cnv.onnx", "-o", tmp_path / "b", "--ip", "hls", "--folding", f],
        capsys,
    )
    assert code == 2 and "RAMB36 for its arrays as written" in err and "has 140" in err, err
    assert not (tmp_path / "b").exists()
