"""Streams between pipeline stages: how many elements of how many bits a word carries.

Word format (docs/conventions.md): element j of a word at bits [j * bits, (j + 1) * bits),
two's complement for integers, bit 1 = +1 for binary values; pixels row-major, channel index
= element index (LSB first).
"""

from __future__ import annotations

from dataclasses import dataclass

SCORE_BITS = 32  # a score word on the output stream, and an MVTU's score lanes
FIFO_DEPTH = 2  # the RTL top's FIFO on every stream, unless a stage asks for more
MAX_FIFO_DEPTH = 512
# the widest word any kernel may use: HLS's AP_INT_MAX_W limit (the RTL has none, but one
# design serves both backends)
MAX_WORD_BITS = 4096
# the widest AXI-Stream input the AXI DMA takes
MAX_AXI_BITS = 1024


@dataclass
class Stream:
    """One stream of the pipeline. Names are given by the lowering once the chain is complete
    ("s_in" for the first, then "s1", "s2", ... in order; the AXI ports "axis_in", "axis_out")."""

    name: str
    elems: int  # elements per word
    bits: int  # bits per element
    words_per_image: int

    @property
    def width(self) -> int:
        return self.elems * self.bits


def axi_width(bits: int) -> int:
    """AXI-Stream width for `bits` of data: a power of two from 8 up, as the AXI DMA takes."""
    width = 8
    while width < bits:
        width *= 2
    return width
