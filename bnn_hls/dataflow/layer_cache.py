"""Per-layer memo for values derived from an IR layer (border tables, sharing schedules) that
the folding optimiser and the lowering ask for many times. Entries keep the layer itself, so a
new layer that reuses a freed layer's id() never gets the old layer's value."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from .. import ir

T = TypeVar("T")


class LayerCache(Generic[T]):
    def __init__(self, compute: Callable[..., T], size: int = 256) -> None:
        self.compute = compute
        self.size = size
        self.entries: dict[tuple[int, Hashable], tuple[ir.Layer, T]] = {}

    def __call__(self, layer: ir.Layer, *args: Hashable) -> T:
        key = (id(layer), args)
        hit = self.entries.get(key)
        if hit is not None and hit[0] is layer:
            return hit[1]
        if len(self.entries) >= self.size:
            self.entries.clear()
        value = self.compute(layer, *args)
        self.entries[key] = (layer, value)
        return value
