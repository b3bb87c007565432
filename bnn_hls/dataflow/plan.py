"""The pipeline plan: the stages in stream order and the streams between them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..packing import pack_words
from . import resource_model as rm
from .stage import LinearStage, Stage
from .streams import FIFO_DEPTH, Stream


@dataclass
class Plan:
    stages: list[Stage]
    streams: list[Stream]  # the internal streams (not the AXI-Stream ports), in order
    input_stream: Stream
    classes: int
    in_axi_bits: int

    def pack_inputs(self, values: np.ndarray) -> np.ndarray:
        """Device inputs (N, *device shape: the input quantiser's integers or bits) -> the
        AXI-Stream words the accelerator reads, (N * words per image, bytes per word)."""
        s = self.input_stream
        return pack_words(values, s.elems, s.bits, self.in_axi_bits // 8)

    def linear_stages(self) -> list[LinearStage]:
        """The stages that compute linear layers (MVTUs and result-sharing units)."""
        return [s for s in self.stages if isinstance(s, LinearStage)]

    def fifo_depths(self) -> dict[str, int]:
        """The RTL FIFO depth of every stream: what its producer and consumer ask for, at
        least FIFO_DEPTH."""
        depths = {s.name: FIFO_DEPTH for s in self.streams}
        for st in self.stages:
            for name, depth in st.fifo_depths().items():
                depths[name] = max(depths[name], depth)
        return depths

    def resource_estimate(self) -> tuple[list[tuple[str, rm.Estimate]], rm.Estimate]:
        """The resource model per stage and FIFO, and the total."""
        rows = [(st.name, st.resource_estimate()) for st in self.stages]
        depths = self.fifo_depths()
        rows += [
            (f"fifo_{s.name}", rm.fifo_estimate(s.width, depths[s.name])) for s in self.streams
        ]
        total = rm.Estimate()
        for _, e in rows:
            total = total + e
        return rows, total
