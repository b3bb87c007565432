"""Stream width converters between a producer's words (PE elements) and its consumer's
(SIMD elements) when they differ (hw/rtl/bnn_gather.sv, bnn_split.sv, hw/hls/bnn_convert.h).
Element order is kept: the first word holds the low elements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .stage import Stage
from .streams import Stream


@dataclass(eq=False)
class ConvertStage(Stage):
    src: Stream
    dst: Stream
    layer: None = None

    rtl_params: ClassVar[tuple[str, ...]] = ("IN_W", "OUT_W")

    @property
    def name(self) -> str:
        return f"convert_{self.dst.name}"

    def params(self) -> dict[str, int]:
        return {
            "IN_W": self.src.width,
            "OUT_W": self.dst.width,
            "IN_WORDS": self.src.words_per_image,
        }

    def label(self) -> str:
        return f"width {self.src.width} -> {self.dst.width}"


@dataclass(eq=False)
class GatherStage(ConvertStage):
    """K narrow words into one (OUT_W = K * IN_W): one input word per cycle."""

    kind: ClassVar[str] = "gather"
    hls_template: ClassVar[str] = "gather.h.j2"

    @property
    def rtl_module(self) -> str:
        return "bnn_gather"

    def cycles(self) -> int:
        return self.src.words_per_image


@dataclass(eq=False)
class SplitStage(ConvertStage):
    """One wide word into K (IN_W = K * OUT_W): one output word per cycle."""

    kind: ClassVar[str] = "split"
    hls_template: ClassVar[str] = "split.h.j2"

    @property
    def rtl_module(self) -> str:
        return "bnn_split"

    def cycles(self) -> int:
        return self.dst.words_per_image


def converter(src: Stream, dst: Stream) -> ConvertStage:
    """The converter from src's words to dst's (their element counts divide one another)."""
    return GatherStage(src, dst) if dst.elems > src.elems else SplitStage(src, dst)
