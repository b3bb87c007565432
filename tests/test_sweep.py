"""bnn-hls sweep: design points, Pareto fronts, local processes and a Dask cluster."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bnn_hls.sweep import pareto

from .conftest import DIGITS, run_cli

MLP = DIGITS / "digits_mlp.onnx"
CNN = DIGITS / "digits_cnn.onnx"


def dominated(r: dict[str, Any], rows: list[dict[str, Any]], cost: str) -> bool:
    return any(
        o["model"][cost] <= r["model"][cost]
        and o["images_per_s"] >= r["images_per_s"]
        and (o["model"][cost] < r["model"][cost] or o["images_per_s"] > r["images_per_s"])
        for o in rows
    )


def test_sweep_local_points_and_fronts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sweep"
    args = ["sweep", CNN, "--targets", "100000,20000,5000", "--rom", "auto,lut,block"]
    code, stdout, err = run_cli([*args, "--sharing", "off,auto", "-j", "2", "-o", out], capsys)
    assert code == 0, err
    assert "18 of 18 points built within the budget (0 over it)" in stdout
    doc = json.loads((out / "sweep.json").read_text())
    rows = [r for r in doc["points"] if r["status"] == "ok"]
    assert len(doc["points"]) == 18 and len(rows) == 18
    for r in rows:  # each point reaches its target with the cycles it reports
        assert r["images_per_s"] >= r["point"]["target_fps"]
        assert r["images_per_s"] == pytest.approx(100e6 / r["cycles_per_image"])
        if r["point"]["rom"] == "lut":
            assert all(f[2] == "lut" for f in r["folding"].values() if f[3] == "mvtu")
    for cost, key in (("lut", "pareto_lut"), ("bram36", "pareto_bram36")):
        front = [r for r in rows if r["label"] in doc[key]]
        assert front and not any(dominated(r, rows, cost) for r in front)
        # every point off the front is beaten by one on it, or equals one
        for r in rows:
            if r["label"] not in doc[key]:
                assert dominated(r, front, cost) or any(
                    f["model"][cost] == r["model"][cost] and f["images_per_s"] == r["images_per_s"]
                    for f in front
                )
    assert (out / "pareto.png").stat().st_size > 1000
    assert "| point |" in (out / "sweep.md").read_text()


def test_sweep_keeps_over_budget_points_off_the_fronts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every MVTU's weights forced into LUTs at a low budget: the point is listed as over the
    budget and is on no front."""
    args = ["sweep", CNN, "--targets", "20000", "--rom", "auto,lut", "--budgets", "0.06"]
    code, out, err = run_cli([*args, "-j", "1", "--json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    status = {r["point"]["rom"]: r for r in doc["points"]}
    assert status["lut"]["status"] == "over budget", status["lut"]
    assert status["lut"]["model"]["lut"] > 0.06 * 53200
    assert status["lut"]["label"] not in doc["pareto_lut"] + doc["pareto_bram36"]


def test_sweep_marks_unreachable_points_and_measures_rtl(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run_cli(
        ["sweep", MLP, "--targets", "1e9,1e6", "--rtlsim", "3", "-j", "1", "--json"], capsys
    )
    assert code == 0, err
    doc = json.loads(out)
    fast, slow = doc["points"]
    assert fast["status"] == "refused" and "lower --target-fps" in fast["reason"]
    assert slow["status"] == "ok"
    assert slow["rtlsim_cycles_per_image"] == slow["cycles_per_image"]
    assert doc["pareto_lut"] == [slow["label"]]


def test_sweep_on_a_local_dask_cluster(capsys: pytest.CaptureFixture[str]) -> None:
    """The same points on a Dask cluster the test starts (two worker processes) as locally."""
    distributed = pytest.importorskip("distributed")
    args = ["sweep", CNN, "--targets", "50000,10000", "--rom", "auto,lut", "--json"]
    code, out, err = run_cli([*args, "-j", "2"], capsys)
    assert code == 0, err
    local = json.loads(out)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        code, out, err = run_cli([*args, "--cluster", cluster.scheduler_address], capsys)
    assert code == 0, err
    remote = json.loads(out)
    assert remote["ran_on"] == "dask" and local["ran_on"] == "local"
    assert remote["points"] == local["points"]
    assert remote["pareto_lut"] == local["pareto_lut"]


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--rom", "flash"], "--rom: 'flash' is not among auto, lut, block"),
        (["--targets", "fast"], "--targets: 'fast' is not a number"),
        (["--budgets", "1.5"], "--budgets: 1.5 is not a fraction"),
        (["--budgets", "most"], "--budgets: 'most' is not a number"),
        (["--cluster", "tcp://127.0.0.1:9"], "cannot reach the Dask scheduler"),
    ],
)
def test_sweep_bad_options(
    extra: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("bnn_hls.sweep.CONNECT_TIMEOUT_S", 2)
    code, _, err = run_cli(["sweep", MLP, "--targets", "1000", *extra], capsys)
    assert code == 2 and message in err, err
    assert "Traceback" not in err


def test_pareto_keeps_one_of_equal_designs() -> None:
    row = {"status": "ok", "images_per_s": 10.0, "model": {"lut": 5, "bram36": 1.0}}
    rows = [
        {**row, "label": "a"},
        {**row, "label": "b"},
        {**row, "label": "c", "images_per_s": 5.0},
    ]
    assert [r["label"] for r in pareto(rows, "lut")] == ["a"]


def test_sweep_worker_failure_is_one_message(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task that fails on a cluster worker (here: bnn-hls not importable there) ends the
    sweep with one message naming the cause, exit 2."""
    distributed = pytest.importorskip("distributed")
    import bnn_hls.sweep as sweep_module

    def broken(*_: object) -> dict[str, object]:
        raise ModuleNotFoundError("No module named 'bnn_hls'")

    monkeypatch.setattr(sweep_module, "evaluate", broken)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        args = ["sweep", MLP, "--targets", "1000", "--cluster", cluster.scheduler_address]
        code, _, err = run_cli(args, capsys)
    assert code == 2, err
    assert "a worker of the Dask cluster failed: ModuleNotFoundError" in err
    assert "install the same bnn-hls" in err and "Traceback" not in err
