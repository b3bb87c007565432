"""Resource model of the generated RTL: LUT, FF and block RAM of every pipeline stage from its
shape and folding, without running a synthesis tool. Block RAM follows from the memory shapes
(the xc7 RAMB18 aspect ratios); LUTs and FFs are linear in a few features whose coefficients
are fitted to Yosys results of the RTL kernels (benchmarks/calibrate_resources.py writes the
calibration data and bnn_hls/resource_model.json). The folding optimiser uses it to compare
thousands of candidate foldings in milliseconds; `bnn-hls estimate` runs Yosys itself."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import ir
from .backends.plan import SCORE_BITS, Plan, Stage
from .backends.share_schedule import ShareSchedule

COEFFICIENTS_FILE = Path(__file__).resolve().parent / "resource_model.json"

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


@dataclass(frozen=True)
class MvtuShape:
    """What an MVTU's cost depends on."""

    k: int  # fan-in
    o: int  # outputs
    simd: int
    pe: int
    in_bits: int  # bits per input element (1: binary XNOR)
    int_in: bool
    acc_bits: int
    scores: bool  # last layer: PE signed scores instead of PE threshold bits
    border_classes: int  # row x column classes of the zero-padding correction, 0 if none
    rom: str  # "lut" or "block"

    @property
    def depth(self) -> int:
        return (self.o // self.pe) * (self.k // self.simd)

    @property
    def nf(self) -> int:
        return self.o // self.pe


def bram18_count(width: int, depth: int) -> int:
    """RAMB18s of the cheapest aspect ratio for a width x depth memory."""
    return min(math.ceil(width / w) * math.ceil(depth / d) for d, w in BRAM18_SHAPES)


def lut_rom_size(width: int, depth: int) -> int:
    """LUT6s of a ROM in logic: one per output bit and 64 entries (plus the muxes above)."""
    return width * math.ceil(depth / LUT_ROM_ENTRIES)


def auto_memory_bits(width: int, depth: int) -> tuple[int, float]:
    """(bits kept in LUT RAM or registers, RAMB36) of a memory the tool maps as it likes."""
    if width * depth < AUTO_BRAM_MIN_BITS:
        return width * depth, 0.0
    return 0, bram18_count(width, depth) / 2


def mvtu_features(m: MvtuShape) -> dict[str, float]:
    a_w = m.acc_bits + 2
    sf = m.k // m.simd
    weight_width = m.pe * m.simd
    return {
        "const": 1.0,
        "binary_macs": 0.0 if m.int_in else float(weight_width),
        "int_mac_bits": float(weight_width * m.in_bits) if m.int_in else 0.0,
        "accumulators": float(m.pe * a_w),
        "input_buffer": float(m.simd * m.in_bits * math.ceil(sf / 32)) if m.nf > 1 else 0.0,
        "weight_rom": float(lut_rom_size(weight_width, m.depth)) if m.rom == "lut" else 0.0,
        "weight_register": float(weight_width) if m.rom == "lut" else 0.0,
        "threshold_rom": 0.0 if m.scores else float(lut_rom_size(m.pe * a_w, m.nf)),
        "border_rom": float(lut_rom_size(m.pe * a_w, m.border_classes * m.nf))
        if m.border_classes
        else 0.0,
        "score_outputs": float(m.pe * SCORE_BITS) if m.scores else 0.0,
    }


def shared_features(
    sched: ShareSchedule, filters: np.ndarray, simd: int, compare_bits: int, border_classes: int
) -> dict[str, float]:
    """What a result-sharing unit costs (hw/rtl/bnn_share_ctrl.sv + the generated units and
    lanes): the units' popcounts, their filter bits that change between steps (logic of the
    step index), the lanes' bit-plane popcounts and the multiplexers in front of them, the
    window registers, the threshold and border tables and the comparators."""
    b, t, c, nf = sched.term_bits, sched.taps, sched.channels, sched.nf
    width = sched.pe * compare_bits
    sf = t * c // simd
    return {
        "const": 1.0,
        "unit_bits": float(sched.units * t),
        "varying_unit_bits": float(sched.varying_unit_bits(filters) * math.ceil(nf / 32)),
        "lane_bits": float(sched.pe * c * b),
        "lane_mux_bits": float(b * (sched.lane_options() - 1).sum()),
        "window_bits": float(t * c + (sf - 1) * simd),
        "registers": float(sched.units * b + sched.pe * sched.sum_bits),
        "threshold_rom": float(lut_rom_size(width, nf)),
        "border_rom": float(lut_rom_size(width, border_classes * nf)) if border_classes else 0.0,
        "compare_bits": float(width),
    }


def shared_estimate(features: dict[str, float]) -> Estimate:
    return apply("shared", features, 0.0)


def shared_stage_features(st: Stage) -> dict[str, float]:
    layer = st.layer
    assert isinstance(layer, ir.Conv)
    border = st.params["border"]
    return shared_features(
        st.params["schedule"],
        layer.share_filters,
        int(st.params["simd"]),
        st.params["tables"].compare_bits,
        0 if border is None else int(np.prod(border.correction.shape[:2])),
    )


def window_features(width: int, buffer_words: int) -> dict[str, float]:
    lut_bits, _ = auto_memory_bits(width, buffer_words)
    return {"const": 1.0, "width": float(width), "lutram_bits": float(lut_bits)}


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


def mvtu_estimate(m: MvtuShape) -> Estimate:
    bram = bram18_count(m.pe * m.simd, m.depth) / 2 if m.rom == "block" else 0.0
    return apply("mvtu", mvtu_features(m), bram)


def window_buffer_words(layer: ir.Conv, simd: int) -> int:
    """Words of a sliding window's line buffer: KH + SH rows (hw/rtl/bnn_swg.sv)."""
    _, w, c = layer.in_shape
    return (layer.kernel[0] + layer.stride[0]) * w * (c // simd)


def window_estimate(layer: ir.Conv, simd: int, elem_bits: int) -> Estimate:
    width = simd * elem_bits
    words = window_buffer_words(layer, simd)
    _, bram = auto_memory_bits(width, words)
    return apply("window", window_features(width, words), bram)


def fifo_estimate(width: int, depth: int) -> Estimate:
    _, bram = auto_memory_bits(width, depth) if depth > 2 else (0, 0.0)
    return apply("fifo", fifo_features(width, depth), bram)


def mvtu_shape(st: Stage) -> MvtuShape:
    layer = st.layer
    assert isinstance(layer, ir.Linear)
    p = st.params
    border = p["border"]
    return MvtuShape(
        k=layer.fan_in,
        o=layer.out_channels,
        simd=int(p["simd"]),
        pe=int(p["pe"]),
        in_bits=int(p["in_bits"]),
        int_in=layer.input_kind == "int",
        acc_bits=int(p["acc_bits"]),
        scores=bool(p["scores"]),
        border_classes=0 if border is None else int(np.prod(border.correction.shape[:2])),
        rom=str(p["rom"]),
    )


def stage_estimate(st: Stage) -> Estimate:
    if st.kind == "mvtu":
        return mvtu_estimate(mvtu_shape(st))
    if st.kind == "shared":
        return shared_estimate(shared_stage_features(st))
    if st.kind == "window":
        assert isinstance(st.layer, ir.Conv)
        return window_estimate(st.layer, st.dst.elems, st.dst.bits)
    if st.kind == "input":
        return Estimate()  # the AXI-Stream adapter is wiring in the RTL
    return apply("small", small_features(max(st.src.width, st.dst.width)), 0.0)


def plan_estimate(plan: Plan) -> tuple[list[tuple[str, Estimate]], Estimate]:
    """Per stage and FIFO, and the total."""
    from .backends.rtl import fifo_depths

    rows = [(st.name, stage_estimate(st)) for st in plan.stages]
    depths = fifo_depths(plan)
    rows += [(f"fifo_{s.name}", fifo_estimate(s.width, depths[s.name])) for s in plan.streams]
    total = Estimate()
    for _, e in rows:
        total = total + e
    return rows, total
