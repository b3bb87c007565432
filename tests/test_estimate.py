"""bnn-hls estimate: Yosys resources per stage next to the budget, cached per stage."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest

from bnn_hls.modelgen import ConvSpec, DenseSpec, build_bnn

from .conftest import run_cli


def test_estimate_small_model_and_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BNN_HLS_CACHE", str(tmp_path / "cache"))
    model = build_bnn(
        (2, 5, 5), [ConvSpec(4, 3, 1, 1, pool=2), DenseSpec(6)], 3, input_mode="bipolar", seed=1
    )
    onnx.save(model, tmp_path / "m.onnx")
    # two Yosys runs at a time; the second estimate runs one at a time from the cache
    code, out, err = run_cli(["estimate", tmp_path / "m.onnx", "--json", "--jobs", "2"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    modules = {s["module"] for s in doc["stages"]}
    assert {"bnn_mvtu", "bnn_swg", "bnn_pool", "bnn_fifo"} <= modules
    assert doc["total"]["lut"] > 0 and doc["total"]["ff"] > 0
    assert doc["total"]["lut"] == sum(s["lut"] for s in doc["stages"])
    assert doc["budget_xc7z020"]["lut"] == 53200
    assert doc["cycles_per_image"] == max(s["cycles"] for s in doc["stages"])
    # identical FIFOs share one synthesis even in the first run; the layers do not
    assert not any(s["cached"] for s in doc["stages"] if s["module"] != "bnn_fifo")
    code, out, _ = run_cli(["estimate", tmp_path / "m.onnx", "--json", "-j", "1"], capsys)
    again = json.loads(out)
    assert all(s["cached"] for s in again["stages"])
    assert again["total"] == doc["total"]
    # the stages keep the pipeline's order whatever order the parallel runs finished in
    assert [s["name"] for s in again["stages"]] == [s["name"] for s in doc["stages"]]
    assert doc["stages"][0]["module"] == "bnn_swg" and doc["stages"][-1]["module"] == "bnn_fifo"
    code, out, _ = run_cli(["estimate", tmp_path / "m.onnx"], capsys)
    assert "xc7z020 budget" in out and "Yosys" in out


# Logic levels on the longest register-to-register path (Yosys ltp after synth_xilinx) that a
# stage may have at 100 MHz on the xc7z020-1: a LUT with its routing costs ~0.5-0.8 ns, a
# CARRY4 ~0.1 ns; 8 LUTs and 16 cells in all leave room for clock-to-out, setup and routing.
MAX_LUT_LEVELS = 8
MAX_LEVELS = 16


@pytest.mark.parametrize("name", ["digits/digits_cnn", "mnist_tfc/tfc_mnist"])
def test_logic_levels_at_the_widest_foldings(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every stage at the SIMD of the optimiser's fastest folding of the example. PE is set to
    1: the PE lanes are copies side by side (the path through one is the path through all),
    and synthesising all of them takes minutes per layer."""
    from bnn_hls.backends.rtl import write_rtl_project
    from bnn_hls.compiler import compile_file
    from bnn_hls.dataflow.folding import Fold, check_folding
    from bnn_hls.dataflow.optimiser import optimise
    from bnn_hls.yosys import estimate_rtl

    from .conftest import EXAMPLES

    monkeypatch.setenv("BNN_HLS_CACHE", str(tmp_path / "cache"))
    model = compile_file(EXAMPLES / f"{name}.onnx").model
    fastest = optimise(model).folding
    narrow = {k: Fold(1, f.simd, f.rom, f.kernel) for k, f in fastest.items()}
    check_folding(model, narrow)
    plan = write_rtl_project(model, narrow, tmp_path / "rtl")
    stages = estimate_rtl(tmp_path / "rtl", plan, fifos=False)
    assert {e.module for e in stages} >= {"bnn_mvtu"}
    for e in stages:
        r = e.resources
        assert 0 < r.levels <= MAX_LEVELS and r.lut_levels <= MAX_LUT_LEVELS, (e.name, r)
