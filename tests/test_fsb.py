"""Fixed-sign layers (docs/fsb.md): the generator's specification, the compiler's check of a
model's weights against it, and MVTUs whose weights come from the generator instead of a ROM,
bit-exact with the golden model in C-sim and RTL-sim at random foldings."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from bnn_hls import golden
from bnn_hls.backends.rtl import write_rtl_project
from bnn_hls.compiler import compile_file
from bnn_hls.dataflow.lowering import build_plan
from bnn_hls.dataflow.optimiser import layer_candidates
from bnn_hls.dataflow.pairing import linear_steps
from bnn_hls.dataflow.signgen import generator_refusal, sign_generator
from bnn_hls.modelgen import ConvSpec, DenseSpec, build_bnn, with_fixed_signs
from bnn_hls.packing import LFSR_MASK, fsb_signs
from bnn_hls.rtlsim.runner import RtlSim
from bnn_hls.verify import random_inputs

from .conftest import DIGITS, EXAMPLES, run_cli, save
from .hls_helpers import csim_scores, random_folding


def spec_bits(seed: int, channel: int, count: int) -> list[int]:
    """docs/fsb.md, written out with Python integers: splitmix64's (o + 1)-th output, its low
    32 bits (1 for 0), then a Galois LFSR emitting its low bit per step."""
    m = (1 << 64) - 1
    z = (seed + (channel + 1) * 0x9E3779B97F4A7C15) & m
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
    state = ((z ^ (z >> 31)) & 0xFFFFFFFF) or 1
    out = []
    for _ in range(count):
        bit = state & 1
        out.append(bit)
        state = (state >> 1) ^ (LFSR_MASK if bit else 0)
    return out


@pytest.mark.parametrize("seed", [0, 1, 12345, 2**64 - 1])
def test_generator_matches_its_specification(seed: int) -> None:
    bits = fsb_signs(seed, 6, 100)
    for o in range(6):
        assert bits[o].tolist() == spec_bits(seed, o, 100)
    assert 0.35 < bits.mean() < 0.65  # signs, not a constant


# (input shape, layers, generator layers: index -> seed)
MODELS = [
    ((2, 6, 6), [ConvSpec(8, 3, 1, 1, pool=2), ConvSpec(8, 3)], {0: 5, 1: 99}),
    ((1, 8, 8), [ConvSpec(4, 3, 1, 1), ConvSpec(8, 3, 1, 0, pool=2)], {1: 2**40 + 3}),
    ((24,), [DenseSpec(16), DenseSpec(12)], {0: 7, 1: 8, 2: 9}),
    ((3, 5, 5), [ConvSpec(6, 3, 2, 1), DenseSpec(10)], {0: 17}),
]


@pytest.mark.parametrize("case", range(len(MODELS)))
def test_generator_layers_bit_exact(case: int, tmp_path: Path) -> None:
    shape, layers, seeds = MODELS[case]
    model = with_fixed_signs(build_bnn(shape, layers, 4, seed=case), seeds)  # type: ignore[arg-type]
    c = compile_file(save(model, tmp_path))
    linear = c.model.linear_layers()
    for i, layer in enumerate(linear):
        assert (generator_refusal(layer) is None) == (i in seeds), layer.name
    x = random_inputs(c.model.input, 24, seed=case)
    expected = golden.run(c.model, x).acc
    rng = np.random.default_rng(case)
    for trial in range(3):
        folding = random_folding(c.model, rng, shared=0.0)
        # the generator on every layer that has one in the first trial, at random after
        if trial == 0:
            by_name = {layer.name: layer for layer in linear}
            folding = {
                k: f if generator_refusal(by_name[k]) else replace(f, rom="gen", kernel="mvtu")
                for k, f in folding.items()
            }
        scores, _ = csim_scores(c.model, folding, x, tmp_path / f"hls{trial}")
        assert np.array_equal(scores, expected), folding
    plan = build_plan(c.model, folding)
    write_rtl_project(c.model, folding, tmp_path / "rtl")
    words = plan.pack_inputs(golden.input_quant(c.model.input, x))
    res = RtlSim(tmp_path / "rtl", tmp_path / "rtl_build").run(words, expected, seed=case)
    assert all(r.get("mismatched_images") == [] for r in res.runs), (folding, res.runs)


def test_inverted_channels_are_generated(tmp_path: Path) -> None:
    """A negative BatchNorm scale negates a channel's weights (BatchShift): the generator
    keeps an invert bit for it."""
    model = with_fixed_signs(build_bnn((2, 6, 6), [ConvSpec(8, 3, 1, 1)], 3, seed=3), {0: 5})
    c = compile_file(save(model, tmp_path))
    gen = sign_generator(c.model.linear_layers()[0])
    assert gen is not None and 0 < gen.invert.sum() < len(gen.invert)


def test_optimiser_offers_the_generator(tmp_path: Path) -> None:
    """A large fixed-sign layer: the generator (a state per lane and a small table) is among
    the optimiser's undominated choices; a layer without a generator never gets it."""
    model = with_fixed_signs(build_bnn((256,), [DenseSpec(64)], 4, seed=1), {0: 3})
    c = compile_file(save(model, tmp_path))
    (layer, th), (last, last_th) = linear_steps(c.model)
    assert "gen" in {cand.fold.rom for cand in layer_candidates(c.model, layer, th, True)}
    assert all(cand.fold.rom != "gen" for cand in layer_candidates(c.model, last, last_th, False))


def _first_weight(model: onnx.ModelProto) -> str:
    producers = {o: n for n in model.graph.node for o in n.output}
    inits = {t.name for t in model.graph.initializer}
    node = next(n for n in model.graph.node if n.op_type in ("Conv", "MatMul", "Gemm"))
    name = node.input[1]
    while name not in inits:
        name = producers[name].input[0]
    return name


def test_weights_that_are_not_the_generators_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = with_fixed_signs(build_bnn((2, 6, 6), [ConvSpec(8, 3, 1, 1)], 3, seed=3), {0: 5})
    name = _first_weight(model)
    init = next(t for t in model.graph.initializer if t.name == name)
    w = numpy_helper.to_array(init).copy()
    w.flat[7] = -w.flat[7]
    init.CopyFrom(numpy_helper.from_array(w, name))
    code, _, err = run_cli(["inspect", save(model, tmp_path)], capsys)
    assert code == 2 and "Traceback" not in err
    assert "not the signs of generator lfsr32 with seed 5" in err and "1 of 144 differ" in err


@pytest.mark.parametrize(
    "value,needle",
    [
        ("{", "not readable JSON"),
        ("[]", "expected an object"),
        ('{"generator": "mt19937", "version": 1, "layers": []}', "unknown generator"),
        ('{"generator": "lfsr32", "version": 1, "layers": [{"index": 0}]}', "integer seed"),
        ('{"generator": "lfsr32", "version": 1, "layers": [{"index": 9, "seed": 1}]}', "index 9"),
        ('{"generator": "lfsr32", "version": 1, "layers": [{"index": 0, "seed": -1}]}', "2**64"),
    ],
)
def test_bad_metadata(
    value: str, needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = build_bnn((2, 6, 6), [ConvSpec(8, 3, 1, 1)], 3, seed=3)
    entry = model.metadata_props.add()
    entry.key, entry.value = "bnn_hls.fsb", value
    code, _, err = run_cli(["inspect", save(model, tmp_path)], capsys)
    assert code == 2 and needle in err and "Traceback" not in err


def test_rom_gen_needs_a_generator(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = save(build_bnn((24,), [DenseSpec(16)], 4, seed=1), tmp_path)
    folding = tmp_path / "f.json"
    folding.write_text(json.dumps({"layers": {"l1_dense": {"pe": 4, "simd": 8, "rom": "gen"}}}))
    code, _, err = run_cli(["inspect", model, "--folding", folding], capsys)
    assert code == 2 and 'rom "gen"' in err and "fixed-sign generator" in err


FSB_EXAMPLES = sorted((EXAMPLES / "fsb").glob("*.onnx"))


@pytest.mark.parametrize("path", FSB_EXAMPLES, ids=lambda p: p.name)
def test_shipped_fsb_models_on_the_generator(
    path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """examples/fsb/train_fsb.py's exports: their generator layers pass the compiler's check,
    and with every one of them on the generator the whole digits test set is bit-exact in
    C-sim and RTL-sim."""
    c = compile_file(path)
    generated = [layer for layer in c.model.linear_layers() if generator_refusal(layer) is None]
    assert generated, "no layer with fixed signs"
    folding = {
        layer.name: {"pe": 2, "simd": 1 if layer.input_kind == "int" else 8, "rom": "gen"}
        for layer in generated
    }
    (tmp_path / "f.json").write_text(json.dumps({"layers": folding}))
    for level in ("csim", "rtlsim"):
        code, out, err = run_cli(
            [
                "verify", path, "--level", level, "--folding", tmp_path / "f.json",
                "--inputs", DIGITS / "digits_test_x.npy", "--labels", DIGITS / "digits_test_y.npy",
            ],
            capsys,
        )  # fmt: skip
        assert code == 0, err
        assert "450/450" in out
