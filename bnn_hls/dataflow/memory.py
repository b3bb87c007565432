"""A stage's parameter memory, described once for every backend: its name, shape and packed
contents. Word d holds `lanes` lanes of `lane_bits` bits (packing.py's lane format); the RTL
writes the words into a .mem file, the HLS backend declares the same values as a C array in
the layout its kernel reads. Contents are computed on first use, so the folding optimiser can
ask for shapes without packing weights."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ..packing import bits_to_words, lanes_to_words


@dataclass
class Memory:
    key: str  # "weights", "thresholds", ...: the stage's name for it (file: <layer>_<key>.mem)
    depth: int
    lanes: int
    lane_bits: int
    # (depth, lanes) integers, or for form "bits" (depth, lanes, lane_bits) 0/1 values
    fill: Callable[[], np.ndarray] = field(repr=False)
    form: str = "ints"
    signed: bool = False  # lanes are two's complement
    # where the folding asks the memory to live ("lut" or "block"); None: the backend's choice
    storage: str | None = None
    # the HLS kernel's element width, when wider than lane_bits (class tables are 8-bit there)
    hls_width: int | None = None
    # the kernel reads one bank per lane (declared [lanes][depth]); else a plain table [depth]
    banked: bool = True
    # the host rewrites it at run time through the load stream (docs/thresholds.md)
    writable: bool = False

    @property
    def width(self) -> int:
        return self.lanes * self.lane_bits

    @property
    def file_param(self) -> str:
        """The RTL kernel parameter that names its .mem file."""
        return f"{self.key.upper()}_FILE"

    @cached_property
    def values(self) -> np.ndarray:
        data = np.asarray(self.fill())
        want = (
            (self.depth, self.lanes)
            if self.form == "ints"
            else (
                self.depth,
                self.lanes,
                self.lane_bits,
            )
        )
        if data.shape != want:
            raise AssertionError(f"memory {self.key}: contents {data.shape}, declared {want}")
        return data

    def words(self) -> list[int]:
        """One integer per word, lanes packed (what the RTL's .mem file holds)."""
        if self.form == "bits":
            return bits_to_words(self.values.reshape(self.depth, self.width))
        return lanes_to_words(self.values, self.lane_bits)


@dataclass(frozen=True)
class Buffer:
    """A working buffer a stage's kernel keeps between loop iterations (an MVTU's input
    vector, a sliding window's line buffer): `words` of `width` bits, one write and one read
    per iteration at most, never read-modified-written (what the kernels' II = 1 rests on)."""

    key: str
    words: int
    width: int

    @property
    def bits(self) -> int:
        return self.words * self.width
