"""Weights without memory (docs/fsb.md): a fixed-sign layer's weights are the generator's
signs (packing.fsb_signs) up to a sign per output channel, so an MVTU can produce them with
an LFSR per lane instead of reading a ROM (Fold.rom == "gen"). What the hardware keeps per
output channel: the LFSR's starting state (32 bits) and an invert bit."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import ir
from ..packing import fsb_channel_states, fsb_signs
from .layer_cache import LayerCache

STATE_BITS = 32


@dataclass(frozen=True)
class SignGenerator:
    states: np.ndarray  # (O,) uint64: each output channel's starting state
    invert: np.ndarray  # (O,) uint8: 1 where the channel's weights are the inverted signs


def _generator(layer: ir.Layer) -> SignGenerator | str:
    assert isinstance(layer, ir.Linear)
    if layer.sign_seed < 0:
        return "its weights do not come from the fixed-sign generator (docs/fsb.md)"
    if not layer.binary_weights:
        return "its weights are not binary"
    o, k = layer.out_channels, layer.fan_in
    bits = layer.weights.reshape(o, k)
    gen = fsb_signs(layer.sign_seed, o, k)
    same, inverted = (bits == gen).all(1), (bits != gen).all(1)
    if not (same | inverted).all():  # a pass changed them (--sharing similar)
        return "its weights are no longer the generator's signs after the passes"
    return SignGenerator(fsb_channel_states(layer.sign_seed, o), inverted.astype(np.uint8))


_cached = LayerCache(_generator)


def sign_generator(layer: ir.Linear) -> SignGenerator | None:
    found = _cached(layer)
    return found if isinstance(found, SignGenerator) else None


def generator_refusal(layer: ir.Linear) -> str | None:
    """Why the layer's weights cannot come from the generator, or None."""
    found = _cached(layer)
    return found if isinstance(found, str) else None
