"""Resource model of the generated RTL: LUT, FF and block RAM of a pipeline stage from its
shape and folding, without running a synthesis tool. Each stage class names its features
(Stage.resource_features) and its block RAM; this module holds what they share: block RAM
from memory shapes (the xc7 RAMB18 aspect ratios), LUT-ROM sizes, and the LUT and FF
coefficients per feature, fitted to Yosys results of the RTL kernels
(benchmarks/calibrate_resources.py writes the calibration data and resource_model.json). The
folding optimiser uses it to compare thousands of candidate foldings in milliseconds;
`bnn-hls estimate` runs Yosys itself (yosys.py)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

COEFFICIENTS_FILE = Path(__file__).resolve().parent / "resource_model.json"

# the PYNQ-Z2's chip
XC7Z020 = {"lut": 53200, "ff": 106400, "bram36": 140, "dsp": 220}

# RAMB18E1 simple-dual-port aspect ratios (depth, width); a RAMB36 is two of them
BRAM18_SHAPES = ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1))
# below this many bits Yosys keeps a FIFO or line buffer in LUT RAM or registers (measured)
AUTO_BRAM_MIN_BITS = 4096
LUT_ROM_ENTRIES = 64  # a 6-input LUT is a 64-entry, 1-bit ROM


@dataclass(frozen=True)
class Estimate:
    lut: float = 0.0
    ff: float = 0.0
    bram36: float = 0.0

    def __add__(self, other: Estimate) -> Estimate:
        return Estimate(self.lut + other.lut, self.ff + other.ff, self.bram36 + other.bram36)


def bram18_count(width: int, depth: int) -> int:
    """RAMB18s of the cheapest aspect ratio for a width x depth memory."""
    return min(math.ceil(width / w) * math.ceil(depth / d) for d, w in BRAM18_SHAPES)


def lut_rom_size(width: int, depth: int) -> int:
    """LUT6s of a ROM in logic: one per output bit and 64 entries (plus the muxes above)."""
    return width * math.ceil(depth / LUT_ROM_ENTRIES)


def threshold_features(width: int, depth: int, writable: bool) -> dict[str, float]:
    """A threshold table of `depth` words of `width` bits: a ROM in logic when constant, a
    distributed RAM (64 words per LUT, like the ROM) with a write port when the thresholds
    are loaded at run time; each has its own coefficients (resource_model.json: the writable
    table's were fitted on writable-vs-const Yosys runs, threshold_ram_note)."""
    key = "threshold_ram" if writable else "threshold_rom"
    return {key: float(lut_rom_size(width, depth))}


def auto_memory_bits(width: int, depth: int) -> tuple[int, float]:
    """(bits kept in LUT RAM or registers, RAMB36) of a memory the tool maps as it likes."""
    if width * depth < AUTO_BRAM_MIN_BITS:
        return width * depth, 0.0
    return 0, bram18_count(width, depth) / 2


def fifo_features(width: int, depth: int) -> dict[str, float]:
    lut_bits, _ = auto_memory_bits(width, depth)
    registers = width * depth if depth <= 2 else 0
    return {
        "const": 1.0,
        "width": float(width),
        "register_bits": float(registers),
        "lutram_bits": float(lut_bits - registers),
    }


def small_features(width: int) -> dict[str, float]:
    """Width converters, max-pool, scores adapter: a few LUTs and a word of registers."""
    return {"const": 1.0, "width": float(width)}


@lru_cache(maxsize=1)
def coefficients() -> dict[str, dict[str, dict[str, float]]]:
    """{kind: {"lut": {feature: c}, "ff": {feature: c}}} from resource_model.json."""
    doc = json.loads(COEFFICIENTS_FILE.read_text())
    return doc["coefficients"]  # type: ignore[no-any-return]


def apply(kind: str, features: dict[str, float], bram36: float) -> Estimate:
    coef = coefficients()[kind]
    lut = sum(coef["lut"].get(f, 0.0) * v for f, v in features.items())
    ff = sum(coef["ff"].get(f, 0.0) * v for f, v in features.items())
    return Estimate(lut, ff, bram36)


def fifo_estimate(width: int, depth: int) -> Estimate:
    _, bram = auto_memory_bits(width, depth) if depth > 2 else (0, 0.0)
    return apply("fifo", fifo_features(width, depth), bram)
