"""The pipeline's ends: the AXI-Stream input adapter and the scores output."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .. import ir
from . import resource_model as rm
from .stage import Stage
from .streams import SCORE_BITS, Stream


@dataclass(eq=False)
class InputStage(Stage):
    """AXI-Stream words of axi_bits -> the first stream (its low bits): wiring in the RTL, a
    copy loop in HLS."""

    src: Stream
    dst: Stream
    axi_bits: int
    layer: None = None

    kind: ClassVar[str] = "input"
    hls_template: ClassVar[str] = "input.h.j2"
    synthesised: ClassVar[bool] = False

    @property
    def name(self) -> str:
        return "input"

    def cycles(self) -> int:
        return self.src.words_per_image

    def resource_features(self) -> dict[str, float]:
        return {}

    def resource_estimate(self) -> rm.Estimate:
        return rm.Estimate()  # the adapter is wiring


@dataclass(eq=False)
class OutputStage(Stage):
    """The last layer's PE score lanes -> one 32-bit score per AXI-Stream word, TLAST on the
    batch's last word."""

    src: Stream
    dst: Stream
    layer: ir.Scores

    kind: ClassVar[str] = "output"
    hls_template: ClassVar[str] = "output.h.j2"
    rtl_params: ClassVar[tuple[str, ...]] = ("PE", "SCORE_BITS", "CLASSES")
    rtl_library: ClassVar[tuple[str, ...]] = ("bnn_split.sv",)  # lanes -> one score per word
    drives_axis_out: ClassVar[bool] = True
    synthesised: ClassVar[bool] = False  # a few LUTs; its 32-bit port differs from the wrapper's

    @property
    def name(self) -> str:
        return "output"

    @property
    def rtl_module(self) -> str:
        return "bnn_scores_out"

    def params(self) -> dict[str, int]:
        return {
            "PE": self.src.elems,
            "SCORE_BITS": SCORE_BITS,
            "CLASSES": self.dst.words_per_image,
        }

    def cycles(self) -> int:
        return self.dst.words_per_image

    def label(self) -> str:
        return "scores to AXI-Stream"
