"""The sliding-window (im2col) stage in front of a conv's MVTU or result-sharing unit
(hw/rtl/bnn_swg.sv, hw/hls/bnn_swg.h)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .. import ir
from . import resource_model as rm
from .hls_rules import Access, KernelRule
from .memory import Buffer
from .stage import Stage
from .streams import MAX_FIFO_DEPTH, Stream


@dataclass(eq=False)
class WindowStage(Stage):
    """Input: the conv's input pixels, C / SIMD words each. Output: per output pixel its
    window, KH x KW x C / SIMD words in (ky, kx, channel word) order; padded taps are all-zero
    words (binary zero padding, corrected after the popcount; integer 0) or all-one words
    (+1 padding). A line buffer of KH + SH rows lets loading overlap emitting."""

    src: Stream
    dst: Stream
    layer: ir.Conv | ir.MaxPool  # a conv's windows, or an overlapping max-pool's

    kind: ClassVar[str] = "window"
    hls_template: ClassVar[str] = "window.h.j2"
    hls_params: ClassVar[tuple[str, ...]] = (
        "IH", "IW", "C", "SIMD", "ELEM_BITS", "KH", "KW", "SH", "SW", "PT", "PL", "PB", "PR",
    )  # fmt: skip
    rtl_params: ClassVar[tuple[str, ...]] = (*hls_params, "PAD_ONES", "W")
    cost_kind: ClassVar[str] = "window"
    hls_kernels: ClassVar[dict[str, KernelRule]] = {
        "sliding_window": KernelRule(
            ("IH", "IW", "C", "SIMD", "ELEM_BITS", "KH", "KW", "SH", "SW", "PT", "PL", "PB", "PR"),
            ("in", "out", "pad_word", "line", "reps"),
            {"line": Access(1, 1)},
        )
    }

    @property
    def name(self) -> str:
        return f"{self.layer.name}_window"

    @property
    def hls_prefix(self) -> str:
        return f"{self.layer.name.upper()}_WIN"

    @property
    def rtl_module(self) -> str:
        return "bnn_swg"

    @property
    def words_per_pixel(self) -> int:
        return self.layer.in_shape[-1] // self.dst.elems

    def params(self) -> dict[str, int]:
        h, w, c = self.layer.in_shape
        t, left, b, r = self.layer.pads
        return {
            "IH": h,
            "IW": w,
            "C": c,
            "SIMD": self.dst.elems,
            "ELEM_BITS": self.dst.bits,
            "KH": self.layer.kernel[0],
            "KW": self.layer.kernel[1],
            "SH": self.layer.stride[0],
            "SW": self.layer.stride[1],
            "PT": t,
            "PL": left,
            "PB": b,
            "PR": r,
            "PAD_ONES": int(self.layer.pad_value == 1),
            "W": self.dst.width,
        }

    def buffers(self) -> list[Buffer]:
        """The line buffer: a ring of KH + SH input rows."""
        return [Buffer("line", self.buffer_words(), self.dst.width)]

    def fill_words(self) -> int:
        """Input words the window must hold before its first window (its first rows)."""
        h, w, _ = self.layer.in_shape
        return min(h, self.layer.kernel[0] - self.layer.pads[0]) * w * self.words_per_pixel

    def buffer_words(self) -> int:
        """Words of the line buffer: KH + SH rows (hw/rtl/bnn_swg.sv)."""
        w = self.layer.in_shape[1]
        return (self.layer.kernel[0] + self.layer.stride[0]) * w * self.words_per_pixel

    def cycles(self) -> int:
        h, w, _ = self.layer.in_shape
        oh, ow, _ = self.layer.out_shape
        cw = self.words_per_pixel
        taps = self.layer.kernel[0] * self.layer.kernel[1] * cw
        # loading overlaps emitting, except for the first rows of each image
        return max(h * w * cw, self.fill_words() + oh * ow * taps)

    def resource_features(self) -> dict[str, float]:
        lut_bits, _ = rm.auto_memory_bits(self.dst.width, self.buffer_words())
        return {"const": 1.0, "width": float(self.dst.width), "lutram_bits": float(lut_bits)}

    def block_ram(self) -> float:
        return rm.auto_memory_bits(self.dst.width, self.buffer_words())[1]

    def fifo_depths(self) -> dict[str, int]:
        """Two input rows in front (it loads a row ahead while it emits, in bursts), and behind
        it room for the windows it cannot emit while it fills its first rows at the start of
        an image; shallower FIFOs stall the producers (measured: docs/rtl.md)."""
        row_words = self.layer.in_shape[1] * self.words_per_pixel
        return {
            self.src.name: min(MAX_FIFO_DEPTH, 2 * row_words),
            self.dst.name: min(MAX_FIFO_DEPTH, self.fill_words() + 8),
        }

    def label(self) -> str:
        return f"{self.layer.name}: windows"

    def description(self) -> str:
        p = self.params()
        return (
            f"sliding window {p['KH']}x{p['KW']}, stride {p['SH']}x{p['SW']}, pads (t,l,b,r) "
            f"{p['PT']},{p['PL']},{p['PB']},{p['PR']}"
        )
