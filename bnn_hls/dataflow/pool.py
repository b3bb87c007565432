"""Binary max-pool (hw/rtl/bnn_pool.sv, hw/hls/bnn_pool.h): an OR over the window, or an AND
for the channels whose max was taken before a decreasing threshold (BatchShift)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import ir
from ..errors import ModelError
from .memory import Memory
from .stage import Stage
from .streams import Stream


def pool_refusal(layer: ir.MaxPool) -> str | None:
    """Why the hardware max-pool cannot compute `layer`, or None."""
    if layer.kernel != layer.stride or layer.kernel[0] != layer.kernel[1]:
        return "the hardware max-pool needs a square window with stride equal to its size"
    return None


@dataclass(eq=False)
class PoolStage(Stage):
    """K x K windows with stride K on pixels of C / PE words (PE: the producer's word)."""

    src: Stream
    dst: Stream
    layer: ir.MaxPool

    kind: ClassVar[str] = "pool"
    hls_template: ClassVar[str] = "pool.h.j2"
    hls_params: ClassVar[tuple[str, ...]] = ("IH", "IW", "C", "PE", "K")
    rtl_params: ClassVar[tuple[str, ...]] = hls_params

    def __post_init__(self) -> None:
        reason = pool_refusal(self.layer)
        if reason is not None:
            raise ModelError(f"layer {self.layer.name}: {reason}")

    @property
    def name(self) -> str:
        return self.layer.name

    @property
    def rtl_module(self) -> str:
        return "bnn_pool"

    def params(self) -> dict[str, int]:
        h, w, c = self.layer.in_shape
        return {"IH": h, "IW": w, "C": c, "PE": self.src.elems, "K": self.layer.kernel[0]}

    def cycles(self) -> int:
        return self.src.words_per_image

    def _and_mask(self) -> np.ndarray:
        c = self.layer.in_shape[-1]
        mask = np.zeros(c, np.int64)
        mask[: self.layer.and_channels.size] = self.layer.and_channels
        return mask.reshape(c // self.src.elems, self.src.elems)

    def memories(self) -> list[Memory]:
        cw = self.layer.in_shape[-1] // self.src.elems
        return [Memory("and_mask", cw, self.src.elems, 1, self._and_mask)]

    def label(self) -> str:
        return f"{self.layer.name}: max-pool"

    def description(self) -> str:
        k = self.layer.kernel[0]
        return f"{k}x{k} binary max-pool"
