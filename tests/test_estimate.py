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
    code, out, err = run_cli(["estimate", tmp_path / "m.onnx", "--json"], capsys)
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
    code, out, _ = run_cli(["estimate", tmp_path / "m.onnx", "--json"], capsys)
    again = json.loads(out)
    assert all(s["cached"] for s in again["stages"])
    assert again["total"] == doc["total"]
    code, out, _ = run_cli(["estimate", tmp_path / "m.onnx"], capsys)
    assert "xc7z020 budget" in out and "Yosys" in out
