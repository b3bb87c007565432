"""Fixed-sign layers (docs/fsb.md): a model's metadata may say that a linear layer's signs
come from the seeded generator of packing.fsb_signs. The importer checks every such layer's
weights against the generator, bit for bit, and refuses the model naming the layer if they
differ; a checked layer keeps its seed (ir.Linear.sign_seed) so the hardware may produce its
weights from the generator instead of storing them."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import numpy as np
import onnx

from .. import ir
from ..errors import ModelError, quote_name
from ..packing import FSB_GENERATOR, fsb_signs

METADATA_KEY = "bnn_hls.fsb"
EXAMPLE = '{"generator": "lfsr32", "version": 1, "layers": [{"index": 0, "seed": 7}]}'
MAX_SEED = (1 << 64) - 1


def _refuse(message: str) -> ModelError:
    return ModelError(f"metadata {METADATA_KEY}: {message}", hint=f"write {EXAMPLE}")


def read_spec(model: onnx.ModelProto) -> dict[int, int]:
    """{linear layer index: seed} from the model's metadata ({} without the entry)."""
    entries = [p.value for p in model.metadata_props if p.key == METADATA_KEY]
    if not entries:
        return {}
    if len(entries) > 1:
        raise _refuse("given more than once")
    try:
        doc: Any = json.loads(entries[0])
    except (ValueError, RecursionError):
        raise _refuse("not readable JSON") from None
    if not isinstance(doc, dict):
        raise _refuse("expected an object")
    if doc.get("generator") != FSB_GENERATOR or doc.get("version") != 1:
        raise _refuse(
            f"unknown generator {quote_name(str(doc.get('generator')), 24)} version "
            f"{quote_name(str(doc.get('version')), 8)} (this bnn-hls knows {FSB_GENERATOR} 1)"
        )
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise _refuse('"layers" must be a list')
    seeds: dict[int, int] = {}
    for entry in layers:
        index = entry.get("index") if isinstance(entry, dict) else None
        seed = entry.get("seed") if isinstance(entry, dict) else None
        if type(index) is not int or type(seed) is not int or index < 0:
            raise _refuse("each layer needs an integer index >= 0 and an integer seed")
        if not 0 <= seed <= MAX_SEED:
            raise _refuse(f"layer {index}: the seed must be from 0 to 2**64 - 1")
        if index in seeds:
            raise _refuse(f"layer {index} is given twice")
        seeds[index] = seed
    return seeds


def attach_sign_seeds(model: ir.Model, seeds: dict[int, int]) -> ir.Model:
    """The model with each fixed-sign layer's seed, after checking its weights (as imported)
    equal the generator's signs."""
    if not seeds:
        return model
    linear = model.linear_layers()
    unknown = sorted(i for i in seeds if i >= len(linear))
    if unknown:
        raise _refuse(f"layer index {unknown[0]}, but the model has {len(linear)} linear layers")
    replaced: dict[str, ir.Linear] = {}
    for index, seed in seeds.items():
        layer = linear[index]
        if not layer.binary_weights:
            raise ModelError(
                f"layer {layer.name} ({layer.source or 'linear'}): the metadata gives it fixed "
                "signs, but its weights are not binary",
                hint=f"drop index {index} from {METADATA_KEY}",
            )
        bits = layer.weights.reshape(layer.out_channels, -1)
        expected = fsb_signs(seed, layer.out_channels, layer.fan_in)
        wrong = np.argwhere(bits != expected)
        if wrong.size:
            o, k = (int(v) for v in wrong[0])
            raise ModelError(
                f"layer {layer.name} ({layer.source or 'linear'}): its weights are not the "
                f"signs of generator {FSB_GENERATOR} with seed {seed} ({len(wrong)} of "
                f"{bits.size} differ, the first at output {o}, input {k})",
                hint="export the signs packing.fsb_signs gives (docs/fsb.md), in the fan-in "
                "order it documents",
            )
        replaced[layer.name] = replace(layer, sign_seed=seed)
    return replace(model, layers=[replaced.get(layer.name, layer) for layer in model.layers])
