"""The folding optimiser: legal, within budget, balanced, and honest about what cannot be done."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bnn_hls import ir
from bnn_hls.compiler import compile_file
from bnn_hls.dataflow.cycles import CLOCK_HZ, cycle_model, initiation_interval
from bnn_hls.dataflow.folding import (
    ROM_STYLES,
    Fold,
    Folding,
    check_folding,
    compatible,
    divisors,
    simd_domain,
)
from bnn_hls.dataflow.lowering import build_plan
from bnn_hls.dataflow.optimiser import (
    BRAM_WEIGHTS,
    MAX_INPUT_BITS_PER_CYCLE,
    Candidate,
    budget_chains,
    candidate,
    cheapest_chain,
    limits_for,
    optimise,
)
from bnn_hls.dataflow.resource_model import Estimate
from bnn_hls.dataflow.signgen import generator_refusal
from bnn_hls.errors import ModelError
from bnn_hls.modelgen import build_bnn

from .conftest import DIGITS, TFC_MNIST, run_cli
from .strategies import ModelSpec, model_specs

MODELS = [DIGITS / "digits_mlp.onnx", DIGITS / "digits_cnn.onnx", TFC_MNIST / "tfc_mnist.onnx"]


def check_result(model: ir.Model, folding: Folding, budget: float, ii: int) -> None:
    check_folding(model, folding)  # legal
    plan = build_plan(model, folding)
    assert initiation_interval(plan) == ii
    _, total = plan.resource_estimate()
    limits = limits_for(budget)
    assert total.lut <= limits.lut and total.bram36 <= limits.bram36
    first = model.linear_layers()[0]
    assert plan.input_stream.width <= MAX_INPUT_BITS_PER_CYCLE or folding[first.name].simd == 1
    # balanced: no layer could be made less parallel (legally, with its neighbours' folds
    # unchanged) and still keep within the II while costing no more LUTs and block RAM
    layers = model.linear_layers()
    for i, layer in enumerate(layers):
        fold = folding[layer.name]
        chosen = candidate(model, layer, fold)
        prev_pe = folding[layers[i - 1].name].pe if i else None
        next_simd = folding[layers[i + 1].name].simd if i + 1 < len(layers) else None
        for pe in divisors(layer.out_channels):
            for simd in divisors(simd_domain(layer)):
                if pe > fold.pe or simd > fold.simd or pe * simd == fold.pe * fold.simd:
                    continue
                if prev_pe is not None and not compatible(simd, prev_pe):
                    continue
                if next_simd is not None and not compatible(next_simd, pe):
                    continue
                for rom in ROM_STYLES:
                    if rom == "gen" and generator_refusal(layer) is not None:
                        continue  # weights from the generator need a fixed-sign layer
                    alt = candidate(model, layer, Fold(pe, simd, rom))
                    assert not (
                        alt.cycles <= ii
                        and alt.cost.lut <= chosen.cost.lut
                        and alt.cost.bram36 <= chosen.cost.bram36
                    ), f"{layer.name}: {fold} could be {alt.fold} at II {ii}"


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.name)
@pytest.mark.parametrize("budget", [0.7, 0.3])
def test_examples_fastest_within_budget(path: Path, budget: float) -> None:
    model = compile_file(path).model
    res = optimise(model, budget=budget)
    check_result(model, res.folding, budget, res.ii)


@pytest.mark.parametrize("name", ["tfc", "sfc", "lfc", "cnv"])
def test_reference_topologies(reference_dir: Path, name: str) -> None:
    model = compile_file(reference_dir / f"{name}.onnx").model
    fastest = optimise(model)
    check_result(model, fastest.folding, 0.7, fastest.ii)
    # a target half as fast: reached, and no more expensive than the fastest design
    target = CLOCK_HZ / fastest.ii / 2
    slower = optimise(model, target_fps=target)
    check_result(model, slower.folding, 0.7, slower.ii)
    assert slower.ii <= CLOCK_HZ / target
    assert slower.estimate.lut <= fastest.estimate.lut


def test_issue_targets_are_reachable_by_the_model(reference_dir: Path) -> None:
    """The throughputs issue 8 asks for, within its LUT limits by the resource model (the
    Yosys figures are in benchmarks/results)."""
    cnv = optimise(compile_file(reference_dir / "cnv.onnx").model, target_fps=6000)
    assert CLOCK_HZ / cnv.ii >= 6000
    tfc = optimise(compile_file(reference_dir / "tfc.onnx").model, target_fps=3_000_000)
    assert CLOCK_HZ / tfc.ii >= 3_000_000


def test_impossible_target_says_what_is_possible(reference_dir: Path) -> None:
    model = compile_file(reference_dir / "tfc.onnx").model
    with pytest.raises(ModelError, match="no folding of this model is faster"):
        optimise(model, target_fps=1e9)
    with pytest.raises(ModelError, match="the fastest design that fits runs at"):
        optimise(model, target_fps=5e6, budget=0.05)
    with pytest.raises(ModelError, match="budget"):
        optimise(model, budget=1.5)
    with pytest.raises(ModelError, match="positive"):
        optimise(model, target_fps=-3)


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(spec=model_specs(), budget=st.sampled_from([0.2, 0.5, 0.7]))
def test_random_models(spec: ModelSpec, budget: float, tmp_path: Path) -> None:
    path = tmp_path / f"m_{spec.seed}_{len(spec.layers)}_{budget}.onnx"
    onnx.save(build_bnn(spec.input_shape, spec.layers, spec.classes, **spec.kwargs()), path)  # type: ignore[arg-type]
    model = compile_file(path).model
    try:
        res = optimise(model, budget=budget)
    except ModelError as exc:  # a large random model may not fit a small budget
        assert "does not fit the budget" in str(exc)
        return
    check_result(model, res.folding, budget, res.ii)
    # the per-stage cycle model agrees with the optimiser's own per-layer cycles
    stages = {s.name: s.cycles for s in cycle_model(build_plan(model, res.folding))}
    for layer in model.linear_layers():
        fold = res.folding[layer.name]
        pixels = layer.out_shape[0] * layer.out_shape[1] if isinstance(layer, ir.Conv) else 1
        nf, sf = layer.out_channels // fold.pe, layer.fan_in // fold.simd
        assert stages[f"{layer.name}_mvtu"] == pixels * nf * sf
    assert np.isfinite(res.estimate.lut)


def test_cli_folding_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = DIGITS / "digits_cnn.onnx"
    code, out, _ = run_cli(["inspect", model, "--target-fps", "50000"], capsys)
    assert code == 0 and "cheapest design for 50,000 images/s" in out and "efficiency" in out
    code, out, _ = run_cli(["inspect", model, "--budget", "0.3", "--json"], capsys)
    assert code == 0
    doc = json.loads(out)
    assert doc["folding"]["model_estimate"]["lut_fraction"] <= 0.3
    code, _, err = run_cli(["inspect", model, "--target-fps", "1e12"], capsys)
    assert code == 2 and "no folding of this model is faster" in err
    code, _, err = run_cli(["inspect", model, "--budget", "0"], capsys)
    assert code == 2 and "budget" in err
    folding = tmp_path / "f.json"
    folding.write_text(json.dumps({"layers": {"l1_conv": {"pe": 2, "simd": 1, "rom": "ram"}}}))
    code, _, err = run_cli(["inspect", model, "--folding", folding], capsys)
    assert code == 2 and "rom must be one of" in err and "f.json" in err
    code, _, err = run_cli(["inspect", model, "--folding", folding, "--budget", "0.5"], capsys)
    assert code == 2 and "cannot be combined" in err
    # compile writes the chosen folding, usable again as --folding
    code, _, _ = run_cli(
        ["compile", model, "-o", tmp_path / "out", "--target-fps", "50000"], capsys
    )
    assert code == 0
    again = json.loads((tmp_path / "out" / "folding.json").read_text())
    assert all(v["rom"] in ("lut", "block") for v in again["layers"].values())
    code, out, _ = run_cli(
        ["inspect", model, "--folding", tmp_path / "out" / "folding.json"], capsys
    )
    assert code == 0 and "from folding.json" in out


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    costs=st.lists(
        st.lists(
            st.tuples(st.integers(0, 40), st.integers(0, 40), st.integers(1, 4)),
            min_size=1,
            max_size=5,
        ),
        min_size=1,
        max_size=4,
    ),
    lut_cap=st.integers(10, 120),
    bram_cap=st.integers(1, 60),
)
def test_budget_chains_finds_the_fewest_luts_that_fit(
    costs: list[list[tuple[int, int, int]]], lut_cap: int, bram_cap: int
) -> None:
    """The exact search against brute force over every chain (LUTs, RAMB18 halves, PE; SIMD 1
    so that any PE may follow any other): the fewest LUTs among chains within both limits,
    found also where the price sweep cannot (a point off the convex hull)."""
    cands = [
        [Candidate(Fold(pe, 1), 1, Estimate(lut, 0.0, halves / 2)) for lut, halves, pe in layer]
        for layer in costs
    ]
    limits = Estimate(lut_cap, 0.0, bram_cap / 2)
    fitting = [
        chain
        for chain in itertools.product(*cands)
        if sum(c.cost.lut for c in chain) <= limits.lut
        and sum(c.cost.bram36 for c in chain) <= limits.bram36
    ]
    chains = budget_chains(cands, 1, limits)
    if not fitting:
        assert chains == []
        return
    assert chains, "a chain fits but the search found none"
    best = min(sum(c.cost.lut for c in chain) for chain in fitting)
    assert sum(c.cost.lut for c in chains[0]) == best
    for chain in chains:
        assert sum(c.cost.lut for c in chain) <= limits.lut
        assert sum(c.cost.bram36 for c in chain) <= limits.bram36


def test_exact_search_finds_what_the_price_sweep_misses() -> None:
    """A layer whose only fitting folding lies above the convex hull of LUT against block RAM:
    at every price the sweep picks one over a limit, the exact search the one inside."""
    all_lut = Candidate(Fold(1, 1), 1, Estimate(100.0, 0.0, 0.0))
    all_bram = Candidate(Fold(2, 1), 1, Estimate(0.0, 0.0, 10.0))
    between = Candidate(Fold(4, 1), 1, Estimate(60.0, 0.0, 6.0))
    cands = [[all_lut, all_bram, between]]
    limits = Estimate(70.0, 0.0, 7.0)
    swept = {cheapest_chain(cands, 1, limits, w)[0].fold for w in BRAM_WEIGHTS}  # type: ignore[index]
    assert between.fold not in swept
    assert budget_chains(cands, 1, limits) == [[between]]
