"""The arrays of the HLS project as written: every parameter memory (a ROM) and working buffer
(a RAM) of every stage, with the partitioning and storage the generated pragmas give them.
One description serves the pragmas (hls.py), the HLS block-RAM model (`inspect`, `estimate`,
`build`'s fit check) and the documentation of why each kernel's loop reaches II = 1.

Rules, for every array a pipelined loop touches:
- a memory with L lanes is declared [L][depth]; the L lanes of a kernel read the same depth
  index in an iteration. In LUTs it is partitioned completely on dimension 1 (L banks, one
  read each per iteration: a 1-port ROM suffices); in block RAM it is reshaped completely on
  dimension 1 instead (one word of L lanes: one read serves every lane, and the memory costs
  what the RTL's does, not a RAMB18 per lane);
- a buffer takes one write and one read per iteration: a simple dual-port RAM (one write port,
  one read port) or, below REGISTER_MAX_BITS, registers;
- block RAM when the folding asks for it (weights in "block") or when a bank holds at least
  AUTO_BRAM_MIN_BITS bits, distributed RAM (LUTRAM) otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..dataflow.memory import Buffer, Memory
from ..dataflow.plan import Plan
from ..dataflow.resource_model import AUTO_BRAM_MIN_BITS, bram18_count
from ..dataflow.stage import Stage
from ..dataflow.streams import MAX_WORD_BITS

REGISTER_MAX_BITS = 512  # a buffer this small is kept in registers (completely partitioned)


@dataclass(frozen=True)
class HlsArray:
    name: str  # the C identifier
    lanes: int  # the first dimension (1: a plain table)
    depth: int  # words per lane
    width: int  # bits per word
    rom: bool  # a constant table (else a working buffer)
    storage: str  # "bram", "lutram" or "registers"
    writable: bool = False  # a table the load stream rewrites (one lane per iteration)

    @property
    def layout(self) -> str:
        """ "registers", "partition" (a bank per lane), "reshape" (all lanes in one word) or
        "single" (one lane)."""
        if self.storage == "registers":
            return "registers"
        if self.lanes == 1:
            return "single"
        # a load writes one lane per iteration: a lane of a reshaped word would need a
        # read-modify-write, so a writable table keeps a bank per lane
        if (
            self.storage == "bram"
            and self.lanes * self.width <= MAX_WORD_BITS
            and not self.writable
        ):
            return "reshape"
        return "partition"

    @property
    def bram18(self) -> int:
        if self.storage != "bram":
            return 0
        if self.layout == "reshape":
            return bram18_count(self.lanes * self.width, self.depth)
        return self.lanes * bram18_count(self.width, self.depth)

    def pragmas(self, flavor: str) -> list[str]:
        """The pragmas that give the array its partitioning and storage."""
        complete = "type = complete" if flavor == "vitis" else "complete"
        layout = self.layout
        if layout == "registers":
            return [f"#pragma HLS ARRAY_PARTITION variable = {self.name} {complete} dim = 0"]
        out: list[str] = []
        if layout == "partition":
            out.append(f"#pragma HLS ARRAY_PARTITION variable = {self.name} {complete} dim = 1")
        elif layout == "reshape":
            out.append(f"#pragma HLS ARRAY_RESHAPE variable = {self.name} {complete} dim = 1")
        # a writable table is read by the kernel's loop and written by the load loop, never
        # in one iteration: one port per bank
        kind = "ram_1p" if self.writable else ("rom_1p" if self.rom else "ram_s2p")
        if flavor == "vitis":
            out.append(
                f"#pragma HLS BIND_STORAGE variable = {self.name} type = {kind} "
                f"impl = {self.storage}"
            )
        else:
            core = f"{kind.upper()}_{self.storage.upper()}"
            out.append(f"#pragma HLS RESOURCE variable = {self.name} core = {core}")
        return out


def array_name(st: Stage, key: str) -> str:
    """The C identifier of a stage's memory or buffer `key` (also of the empty placeholder a
    kernel argument gets when the stage has no such memory)."""
    return f"{st.hls_prefix.lower()}_{key}"


def memory_array(name: str, mem: Memory) -> HlsArray:
    width = mem.hls_width or mem.lane_bits
    bank_bits = mem.depth * width
    if mem.storage is not None:
        storage = "bram" if mem.storage == "block" else "lutram"
    else:
        storage = "bram" if bank_bits >= AUTO_BRAM_MIN_BITS else "lutram"
    lanes = mem.lanes if mem.banked else 1
    return HlsArray(name, lanes, mem.depth, width, not mem.writable, storage, mem.writable)


def buffer_array(name: str, buf: Buffer) -> HlsArray:
    if buf.bits <= REGISTER_MAX_BITS:
        storage = "registers"
    else:
        storage = "bram" if buf.bits >= AUTO_BRAM_MIN_BITS else "lutram"
    return HlsArray(name, 1, buf.words, buf.width, False, storage)


def stage_arrays(st: Stage) -> dict[str, HlsArray]:
    """The stage's arrays by key: its memories, then its buffers."""
    arrays = {m.key: memory_array(array_name(st, m.key), m) for m in st.memories()}
    arrays.update({b.key: buffer_array(array_name(st, b.key), b) for b in st.buffers()})
    return arrays


def stage_bram36(st: Stage) -> float:
    return sum(a.bram18 for a in stage_arrays(st).values()) / 2


def plan_bram36(plan: Plan) -> tuple[list[tuple[str, float]], float]:
    """RAMB36 of every stage's arrays in the HLS project, and the total (stream FIFOs of depth
    STREAM_DEPTH are shift registers)."""
    rows = [(st.name, stage_bram36(st)) for st in plan.stages]
    return rows, math.fsum(b for _, b in rows)
