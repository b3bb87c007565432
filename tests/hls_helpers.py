"""Helpers for tests of the HLS backend: build a model's C simulation and run it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bnn_hls import golden, ir
from bnn_hls.backends.hls import write_hls_project
from bnn_hls.csim import CSim
from bnn_hls.dataflow.folding import Fold, Folding, compatible, divisors, refusals, simd_domain
from bnn_hls.dataflow.kernels import KERNELS
from bnn_hls.dataflow.signgen import generator_refusal


def random_folding(model: ir.Model, rng: np.random.Generator, shared: float = 0.5) -> Folding:
    """Any legal folding, PE and SIMD from 1 to full, the MVTU or the MVTU over binary bases,
    weights in LUTs or block RAM (or from the fixed-sign generator, for a layer that has
    one), thresholds writable or constant; a layer that can take the result-sharing kernel
    gets it with probability `shared`."""
    folding: Folding = {}
    prev: int | None = None
    shared_refusals = refusals(model, "shared")
    able = {k: refusals(model, k) for k in ("mvtu", "bases")}
    for layer in model.linear_layers():
        pe = int(rng.choice(divisors(layer.out_channels)))
        options = [d for d in divisors(simd_domain(layer)) if prev is None or compatible(d, prev)]
        # the MVTU, or over binary bases, where each can compute the layer
        kernels = [k for k, why in able.items() if why[layer.name] is None]
        kernel = kernels[0] if len(kernels) == 1 else str(rng.choice(kernels))
        if shared_refusals[layer.name] is None and rng.random() < shared:
            kernel = "shared"
        roms = ["lut", "block"]
        if KERNELS[kernel].generates_weights and generator_refusal(layer) is None:
            roms.append("gen")
        rom = str(rng.choice(roms))
        thresholds = str(rng.choice(["writable", "const"]))
        folding[layer.name] = Fold(pe, int(rng.choice(options)), rom, kernel, thresholds)
        prev = pe
    return folding


def csim_scores(
    model: ir.Model, folding: Folding, x: np.ndarray, folder: Path, flavor: str = "vitis"
) -> tuple[np.ndarray, CSim]:
    plan = write_hls_project(model, folding, folder, flavor=flavor, csim_inputs=x[:2])
    sim = CSim(folder)
    sim.build()
    scores = sim.run(plan.pack_inputs(golden.input_quant(model.input, x)), len(x), plan.classes)
    return scores, sim
