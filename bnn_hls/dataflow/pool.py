"""Max-pool (hw/rtl/bnn_pool.sv, hw/hls/bnn_pool.h) of bits or of multi-level codes: the max
over the window (an OR of bits), or the min (an AND) for the channels whose max was taken
before a decreasing threshold (BatchShift)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .. import ir
from ..errors import ModelError
from .hls_rules import Access, KernelRule
from .memory import Memory
from .stage import Stage
from .streams import Stream


def pool_refusal(layer: ir.MaxPool) -> str | None:
    """Why the streaming max-pool cannot compute `layer`, or None (the lowering then uses a
    sliding window and WindowMaxStage)."""
    if layer.overlapping:
        return "the streaming max-pool needs a square window with stride equal to its size"
    return None


def and_mask_memory(layer: ir.MaxPool, pe: int) -> Memory:
    """The channels whose max is an AND: C / PE words of PE one-bit lanes."""
    c = layer.in_shape[-1]

    def fill() -> np.ndarray:
        mask = np.zeros(c, np.int64)
        mask[: layer.and_channels.size] = layer.and_channels
        return mask.reshape(c // pe, pe)

    return Memory("and_mask", c // pe, pe, 1, fill)


@dataclass(eq=False)
class PoolStage(Stage):
    """K x K windows with stride K on pixels of C / PE words (PE: the producer's word)."""

    src: Stream
    dst: Stream
    layer: ir.MaxPool

    kind: ClassVar[str] = "pool"
    hls_template: ClassVar[str] = "pool.h.j2"
    hls_params: ClassVar[tuple[str, ...]] = ("IH", "IW", "C", "PE", "K", "EB")
    hls_kernels: ClassVar[dict[str, KernelRule]] = {
        "maxpool_bits": KernelRule(
            hls_params, ("in", "out", "and_mask", "reps"), {"and_mask": Access(1, parallel="PE")}
        )
    }
    rtl_params: ClassVar[tuple[str, ...]] = hls_params
    rtl_library: ClassVar[tuple[str, ...]] = ("bnn_max_min.sv",)

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
        return {
            "IH": h,
            "IW": w,
            "C": c,
            "PE": self.src.elems,
            "K": self.layer.kernel[0],
            "EB": self.src.bits,
        }

    def cycles(self) -> int:
        return self.src.words_per_image

    def memories(self) -> list[Memory]:
        return [and_mask_memory(self.layer, self.src.elems)]

    def label(self) -> str:
        return f"{self.layer.name}: max-pool"

    def description(self) -> str:
        k = self.layer.kernel[0]
        return f"{k}x{k} max-pool of {'bits' if self.src.bits == 1 else f'int{self.src.bits}'}"


@dataclass(eq=False)
class WindowMaxStage(Stage):
    """The max over each window's taps, behind a sliding window: a max-pool whose windows
    overlap (kernel 3, stride 2) or are not square (hw/rtl/bnn_window_max.sv,
    hw/hls/bnn_pool.h). Per output pixel KH x KW x C / PE words in (tap-major, channel word
    fastest), C / PE words out."""

    src: Stream
    dst: Stream
    layer: ir.MaxPool

    kind: ClassVar[str] = "window_max"
    hls_template: ClassVar[str] = "window_max.h.j2"
    hls_params: ClassVar[tuple[str, ...]] = ("PE", "CW", "TAPS", "PIXELS", "EB")
    hls_kernels: ClassVar[dict[str, KernelRule]] = {
        "window_max_bits": KernelRule(
            hls_params, ("in", "out", "and_mask", "reps"), {"and_mask": Access(1, parallel="PE")}
        )
    }
    rtl_params: ClassVar[tuple[str, ...]] = ("PE", "CW", "TAPS", "EB")
    rtl_library: ClassVar[tuple[str, ...]] = ("bnn_max_min.sv",)

    @property
    def name(self) -> str:
        return f"{self.layer.name}_max"

    @property
    def rtl_module(self) -> str:
        return "bnn_window_max"

    def params(self) -> dict[str, int]:
        kh, kw = self.layer.kernel
        oh, ow, c = self.layer.out_shape
        return {
            "PE": self.src.elems,
            "CW": c // self.src.elems,
            "TAPS": kh * kw,
            "PIXELS": oh * ow,
            "EB": self.src.bits,
        }

    def cycles(self) -> int:
        return self.src.words_per_image

    def memories(self) -> list[Memory]:
        return [and_mask_memory(self.layer, self.src.elems)]

    def label(self) -> str:
        return f"{self.layer.name}: max over windows"

    def description(self) -> str:
        (kh, kw), (sh, sw) = self.layer.kernel, self.layer.stride
        return f"max over {kh}x{kw} windows, stride {sh}x{sw}"
