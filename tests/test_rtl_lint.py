"""Verilator lint (--lint-only -Wall) of the RTL library and of generated tops is clean."""

from __future__ import annotations

import subprocess
from pathlib import Path

import onnx
import pytest

from bnn_hls.modelgen import DenseSpec, build_bnn
from bnn_hls.package_data import resource_dir
from bnn_hls.rtlsim.native import tool_env

from .conftest import DIGITS, run_cli

LIBRARY = [
    "bnn_fifo",
    "bnn_swg",
    "bnn_max_min",
    "bnn_gather",
    "bnn_split",
    "bnn_label",
    "bnn_popcount",
    "bnn_thr_table",
    "bnn_thr_loader",
]
# modules that instantiate others: (module, the files it needs)
COMPOSED = [
    ("bnn_mvtu", ["bnn_mvtu", "bnn_popcount", "bnn_thr_table"]),
    ("bnn_share_ctrl", ["bnn_share_ctrl", "bnn_thr_table"]),
    ("bnn_scores_out", ["bnn_scores_out", "bnn_split"]),
    ("bnn_share_lane", ["bnn_share_lane", "bnn_popcount"]),
    ("bnn_pool", ["bnn_pool", "bnn_max_min"]),
    ("bnn_window_max", ["bnn_window_max", "bnn_max_min"]),
]
DEPENDS = {module: files[1:] for module, files in COMPOSED}


def lint(files: list[Path], top: str, cwd: Path, params: dict[str, int] | None = None) -> str:
    import os

    env = {**os.environ, **tool_env()}
    env.pop("VERILATOR_ROOT", None)
    flags = [f"-G{k}={v}" for k, v in (params or {}).items()]
    res = subprocess.run(
        ["verilator", "--lint-only", "-Wall", *flags, "--top-module", top, *map(str, files)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        check=False,
    )
    return res.stdout + res.stderr if res.returncode else ""


@pytest.mark.parametrize("module", LIBRARY)
def test_library_module_lint_clean(module: str, tmp_path: Path) -> None:
    rtl = resource_dir("hw") / "rtl"
    assert lint([rtl / f"{module}.sv"], module, tmp_path) == ""


@pytest.mark.parametrize("module,files", COMPOSED)
def test_composed_module_lint_clean(module: str, files: list[str], tmp_path: Path) -> None:
    rtl = resource_dir("hw") / "rtl"
    assert lint([rtl / f"{f}.sv" for f in files], module, tmp_path) == ""


@pytest.mark.parametrize(
    "module,params",
    [
        ("bnn_mvtu", {"W_BITS": 2, "LEVELS": 3, "OUT_BITS": 2, "OUT_LO": -1, "OUT_W": 8}),
        ("bnn_mvtu", {"INT_IN": 1, "IN_BITS": 2, "IN_W": 16, "W_BITS": 3}),
        ("bnn_pool", {"EB": 3}),
        ("bnn_window_max", {"EB": 2}),
        # writable thresholds (docs/thresholds.md) and the load stream's word widths
        ("bnn_mvtu", {"THR_WRITABLE": 1, "LEVELS": 3, "OUT_BITS": 2, "OUT_W": 8}),
        ("bnn_mvtu", {"THR_WRITABLE": 1, "SCORES": 1, "OUT_W": 128}),
        ("bnn_share_ctrl", {"THR_WRITABLE": 1}),
        # weights from the fixed-sign generator (docs/fsb.md)
        ("bnn_mvtu", {"WGEN": 1, "K": 36, "SIMD": 4, "PE": 2, "O": 8, "OUT_W": 2, "IN_W": 4}),
        # the MVTU over binary bases (docs/pa.md): staircase codes, bit inputs
        (
            "bnn_mvtu",
            {
                "BASES": 1,
                "WB": 3,
                "W_BITS": 3,
                "XB": 4,
                "XFORM": 1,
                "XLO": 0,
                "INT_IN": 1,
                "IN_BITS": 3,
                "IN_W": 24,
                "LEVELS": 3,
                "OUT_BITS": 3,
                "OUT_W": 12,
            },
        ),
        ("bnn_mvtu", {"BASES": 1, "WB": 2, "W_BITS": 2, "XB": 1, "SCORES": 1, "OUT_W": 128}),
        # sign-magnitude weights: one magnitude base and the sign (ternary)
        (
            "bnn_mvtu",
            {"BASES": 1, "WB": 1, "WSIGN": 1, "W_BITS": 2, "INT_IN": 1, "IN_BITS": 2, "IN_W": 16},
        ),
        # ... stored three to a 5-bit code (SIMD 8: the last code holds two)
        (
            "bnn_mvtu",
            {
                "BASES": 1,
                "WB": 1,
                "WSIGN": 1,
                "WPACK": 1,
                "W_BITS": 2,
                "ROM_BLOCK": 1,
                "INT_IN": 1,
                "IN_BITS": 2,
                "IN_W": 16,
            },
        ),
        ("bnn_thr_table", {"WRITABLE": 1, "DEPTH": 3, "LANES": 5, "LANE_BITS": 11}),
        ("bnn_thr_table", {"WRITABLE": 1, "DEPTH": 1, "LANES": 1, "LANE_BITS": 32}),
        ("bnn_thr_loader", {"AXI_W": 64, "TOTAL": 5}),
        ("bnn_thr_loader", {"AXI_W": 32, "TOTAL": 1}),
        ("bnn_thr_loader", {"AXI_W": 16, "TOTAL": 8}),
    ],
)
def test_multibit_variants_lint_clean(module: str, params: dict[str, int], tmp_path: Path) -> None:
    """The multi-bit forms (weights of W_BITS, codes of LEVELS thresholds, pools on codes),
    writable thresholds and the threshold loader at several word widths."""
    rtl = resource_dir("hw") / "rtl"
    files = [rtl / f"{f}.sv" for f in [module, *DEPENDS.get(module, [])]]
    assert lint(files, module, tmp_path, params) == ""


@pytest.mark.parametrize("model", ["digits_cnn", "digits_mlp"])
def test_generated_top_lint_clean(
    model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code, _, err = run_cli(["compile", DIGITS / f"{model}.onnx", "-o", out], capsys)
    assert code == 0, err
    rtl = out / "rtl"
    files = [rtl / name for name in (rtl / "files.f").read_text().split()]
    assert lint(files, "bnn_top", rtl) == ""


def test_top_with_one_writable_table_lint_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One hidden layer: its table takes every load value, so no value index is compared."""
    path = tmp_path / "m.onnx"
    onnx.save(build_bnn((1, 4, 4), [DenseSpec(8)], 4, seed=3), path)
    out = tmp_path / "out"
    code, _, err = run_cli(["compile", path, "-o", out], capsys)
    assert code == 0, err
    rtl = out / "rtl"
    assert "unused_tw_index" in (rtl / "bnn_top.sv").read_text()
    files = [rtl / name for name in (rtl / "files.f").read_text().split()]
    assert lint(files, "bnn_top", rtl) == ""


@pytest.mark.parametrize(
    "module,params,message",
    [
        ("bnn_mvtu", {"K": 12, "SIMD": 5}, "SIMD (5) must divide K (12)"),
        ("bnn_swg", {"C": 6, "SIMD": 4}, "SIMD (4) must divide C (6)"),
        ("bnn_pool", {"C": 8, "PE": 3}, "PE (3) must divide C (8)"),
        ("bnn_gather", {"IN_W": 3, "OUT_W": 8}, "IN_W (3) must divide OUT_W (8)"),
        ("bnn_mvtu", {"BASES": 1, "XFORM": 2}, "XFORM (2) must be 0 (bit-planes) or 1"),
        ("bnn_mvtu", {"BASES": 1, "XB": 3}, "XB at most IN_BITS as bit-planes"),
        ("bnn_mvtu", {"BASES": 1, "WSIGN": 1}, "holds its WB (1) base bits and WSIGN"),
        ("bnn_mvtu", {"WPACK": 1}, "WPACK packs ternary weights over bases"),
        ("bnn_thr_loader", {"AXI_W": 24}, "AXI_W (24) must be a power of two from 8"),
    ],
)
def test_bad_parameters_stop_elaboration(
    module: str, params: dict[str, int], message: str, tmp_path: Path
) -> None:
    """A kernel given parameters it cannot take stops with a message naming them, as the HLS
    kernels' static_asserts do."""
    import os

    rtl = resource_dir("hw") / "rtl"
    env = {**os.environ, **tool_env()}
    env.pop("VERILATOR_ROOT", None)
    flags = [f"-G{k}={v}" for k, v in params.items()]
    res = subprocess.run(
        [
            "verilator",
            "--lint-only",
            "-Wno-fatal",
            "-Werror-USERFATAL",
            *flags,
            *(str(rtl / f"{f}.sv") for f in [module, *DEPENDS.get(module, [])]),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert res.returncode != 0 and message in res.stdout + res.stderr, res.stderr
