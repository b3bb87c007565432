"""The matrix-vector-threshold unit (hw/rtl/bnn_mvtu.sv, hw/hls/bnn_mvtu.h): XNOR-popcount
(binary inputs) or add/subtract (integer inputs) of SIMD inputs x PE outputs per cycle over a
layer's binary weights, or small products over multi-bit weights; then thresholds (bits, or
multi-level codes: the count of a channel's thresholds reached) or signed scores (the last
layer)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from .. import ir
from ..packing import (
    LOAD_VALUE_BYTES,
    TRIT_CODE_BITS,
    TRITS_PER_CODE,
    bit_planes,
    lanes_to_words,
    pack_trits,
)
from . import resource_model as rm
from .bases import X_STEPS, Bases, decompose
from .border import BorderTables, border_tables
from .hls_rules import Access, KernelRule, border_arrays
from .layer_cache import LayerCache
from .memory import Buffer, Memory
from .signgen import STATE_BITS, sign_generator
from .stage import LinearStage
from .streams import MAX_FIFO_DEPTH, SCORE_BITS, Stream

if TYPE_CHECKING:
    from .folding import Fold


def _generated(p: dict[str, int]) -> bool:
    return bool(p["WGEN"])


# bnn_mvtu.h's two kernels (threshold outputs, class scores) share their arrays and most of
# their template parameters and arguments
_MVTU_ARRAYS = {
    "weights": Access(1, parallel="PE", when=lambda p: not p["WGEN"]),
    "seeds": Access(1, parallel="PE", when=_generated),  # the fixed-sign generator
    "invert": Access(1, parallel="PE", when=_generated),
    "thresholds": Access(1, parallel="PE*LEVELS"),
    **border_arrays(),
    "vec": Access(1, 1, when=lambda p: p["O"] // p["PE"] > 1),  # for output folds after the first
}
_MVTU_ARGS = (
    "in", "out", "weights", "seeds", "invert", "thresholds", "row_class", "col_class",
    "correction", "coeffs", "vec",
)  # fmt: skip
_MVTU_HEAD = ("K", "O", "SIMD", "PE", "INT_IN", "IN_BITS", "W_BITS", "ACC_BITS")
_MVTU_TAIL = (
    "OH",
    "OW",
    "BORDER",
    "RC",
    "CC",
    "WGEN",
    "BASES",
    "WB",
    "WSIGN",
    "WPACK",
    "XB",
    "XFORM",
    "XLO",
)
# coeffs (the MVTU over bases) is read at constant indices only (unrolled loops): no rule


@dataclass(eq=False)
class MvtuStage(LinearStage):
    """Per input vector (a dense layer's input, or one window) NF = O / PE output words, word
    nf holding outputs nf * PE + p at element (bit, code or score lane) p. Weights: NF * SF
    words of PE lanes of SIMD x W_BITS bits, word (nf, sf) lane p element s = weight of output
    nf * PE + p, input sf * SIMD + s (a bit, or a W_BITS-bit two's-complement integer).
    Thresholds: NF words of PE x LEVELS lanes, lane p * LEVELS + l = threshold l of output
    nf * PE + p."""

    src: Stream
    dst: Stream
    layer: ir.Linear
    pe: int
    simd: int
    rom: str  # where the weights come from: "lut", "block" (RAM) or "gen" (the generator)
    in_bits: int  # bits per input element
    thresholds: np.ndarray | None  # (O, LEVELS) on the accumulator; None: scores out
    rtl_library: ClassVar[tuple[str, ...]] = ("bnn_popcount.sv", "bnn_thr_table.sv")
    out_lo: int  # the lowest output code (0 for bits)
    border: BorderTables | None
    writable: bool = False  # the thresholds are loaded at run time
    bases: Bases | None = None  # the MVTU over binary bases (BasesStage), else None

    kind: ClassVar[str] = "mvtu"
    hls_template: ClassVar[str] = "mvtu.h.j2"
    hls_params: ClassVar[tuple[str, ...]] = (
        "K", "O", "PE", "SIMD", "NF", "SF", "ACC_BITS", "IN_BITS", "W_BITS", "LEVELS",
        "OUT_BITS", "OUT_LO", "OH", "OW", "RC", "CC", "WGEN", "BASES", "WB", "WSIGN", "WPACK",
        "XB", "XFORM", "XLO",
    )  # fmt: skip
    rtl_params: ClassVar[tuple[str, ...]] = (
        "K", "O", "SIMD", "PE", "INT_IN", "IN_BITS", "W_BITS", "ACC_BITS", "SCORES",
        "SCORE_BITS", "LEVELS", "OUT_BITS", "OUT_LO", "OH", "OW", "BORDER", "RC", "CC", "IN_W",
        "OUT_W", "ROM_BLOCK", "THR_WRITABLE", "WGEN", "BASES", "WB", "WSIGN", "WPACK", "XB",
        "XFORM", "XLO",
    )  # fmt: skip
    cost_kind: ClassVar[str] = "mvtu"
    uses_rom: ClassVar[bool] = True
    title: ClassVar[str] = "MVTU"
    over_bases: ClassVar[bool] = False  # BasesStage: weights and inputs as binary bases
    generates_weights: ClassVar[bool] = True
    default_rank: ClassVar[int] = 1
    hls_kernels: ClassVar[dict[str, KernelRule]] = {
        **LinearStage.hls_kernels,
        "mvtu_threshold": KernelRule(
            (*_MVTU_HEAD, "LEVELS", "OUT_BITS", "OUT_LO", *_MVTU_TAIL),
            (*_MVTU_ARGS, "reps"),
            _MVTU_ARRAYS,
        ),
        "mvtu_scores": KernelRule(
            (*_MVTU_HEAD, "SCORE_BITS", *_MVTU_TAIL),
            (*_MVTU_ARGS, "reps"),
            {**_MVTU_ARRAYS, "thresholds": Access(1, parallel="PE")},
        ),
    }

    @classmethod
    def build(
        cls,
        layer: ir.Linear,
        threshold: ir.ThresholdLayer | None,
        fold: Fold,
        src: Stream,
        dst: Stream,
    ) -> MvtuStage:
        in_bits = 1 if layer.input_kind == "bit" else src.bits
        thresholds, out_lo = None, 0
        if threshold is not None:
            thresholds = threshold.thresholds.reshape(layer.out_channels, -1)
            out_lo = threshold.out_range()[0] if isinstance(threshold, ir.MultiThreshold) else 0
        # sign-magnitude bases move a per-channel offset into the thresholds: scores keep none
        bases = (
            decompose(layer, in_bits, offsets=thresholds is not None) if cls.over_bases else None
        )
        # the load stream carries 32-bit values: wider thresholds (fixed-point layers of a
        # piecewise approximation) stay constant
        fits = ir.signed_bits(*acc_range(layer, bases)) + 2 <= 8 * LOAD_VALUE_BYTES
        writable = fold.writable and thresholds is not None and fits
        return cls(
            src,
            dst,
            layer,
            fold.pe,
            fold.simd,
            fold.rom,
            in_bits,
            thresholds,
            out_lo,
            border_tables(layer),
            writable,
            bases,
        )

    @classmethod
    def refusal(cls, layer: ir.Linear, threshold: ir.ThresholdLayer | None) -> str | None:
        if layer.mapped_input:
            return (
                "its inputs are a staircase activation's codes, which only the MVTU over "
                'binary bases reads (give it "kernel": "bases")'
            )
        return None

    @property
    def name(self) -> str:
        return f"{self.layer.name}_mvtu"

    @property
    def rtl_module(self) -> str:
        return "bnn_mvtu"

    @property
    def generated(self) -> bool:
        """The weights come from the fixed-sign generator (signgen.py), not a ROM."""
        return self.rom == "gen"

    @property
    def scores(self) -> bool:
        return self.thresholds is None

    @property
    def int_in(self) -> bool:
        return self.layer.input_kind == "int"

    @property
    def w_bits(self) -> int:
        """Bits per stored weight element (the weight's two's-complement width)."""
        return self.layer.weight_bits()

    @property
    def weight_word_bits(self) -> int:
        """Bits of one PE's weight word: SIMD elements of W_BITS bits."""
        return self.simd * self.w_bits

    def coeff_rows(self) -> list[list[int]]:
        """The base pairs' coefficients, (WB + 1) x (XB + 1): 2 x 2 zeros, unused (BASES 0)."""
        return [[0, 0], [0, 0]]

    def rtl_parameters(self) -> list[tuple[str, int | str]]:
        """The RTL parameters, and the coefficients as one packed vector of 64-bit lanes
        (lane m * (XB + 1) + n is C[m][n])."""
        flat = [c for row in self.coeff_rows() for c in row]
        (packed,) = lanes_to_words(np.array([flat], dtype=object), 64)
        return [*super().rtl_parameters(), ("COEFFS", f"{64 * len(flat)}'h{packed:x}")]

    @property
    def levels(self) -> int:
        """Thresholds per output channel (1 for bits and for scores)."""
        return 1 if self.thresholds is None else int(self.thresholds.shape[1])

    @property
    def out_bits(self) -> int:
        """Bits of an output code: 1 for bits, the codes' two's-complement width otherwise
        (the output stream's element width: also for two-level codes, whose one threshold
        makes a code of two bits, not a bit)."""
        if self.thresholds is None:
            return 1  # scores: SCORE_BITS lanes, OUT_BITS unused
        return self.dst.bits

    @property
    def offsets(self) -> np.ndarray | None:
        """(O,): the layer's dot product less the kernel's sum (sign-magnitude bases: taken
        off the thresholds), else None."""
        return channel_offsets(self.layer, self.bases)

    @property
    def acc_bits(self) -> int:
        return ir.signed_bits(*acc_range(self.layer, self.bases))

    @property
    def table_bits(self) -> int:
        """Thresholds and border corrections are stored at the accumulator's width + 2."""
        return self.acc_bits + 2

    @property
    def nf(self) -> int:
        return self.layer.out_channels // self.pe

    @property
    def sf(self) -> int:
        return self.layer.fan_in // self.simd

    @property
    def pixels(self) -> int:
        shape = self.layer.out_shape
        return shape[0] * shape[1] if isinstance(self.layer, ir.Conv) else 1

    def params(self) -> dict[str, int]:
        layer, border = self.layer, self.border
        oh, ow = (layer.out_shape[0], layer.out_shape[1]) if isinstance(layer, ir.Conv) else (1, 1)
        return {
            "K": layer.fan_in,
            "O": layer.out_channels,
            "PE": self.pe,
            "SIMD": self.simd,
            "NF": self.nf,
            "SF": self.sf,
            "INT_IN": int(self.int_in),
            "IN_BITS": self.in_bits,
            "W_BITS": self.w_bits,
            "LEVELS": self.levels,
            "OUT_BITS": self.out_bits,
            "OUT_LO": self.out_lo,
            "ACC_BITS": self.acc_bits,
            "SCORES": int(self.scores),
            "SCORE_BITS": SCORE_BITS,
            "OH": oh,
            "OW": ow,
            "BORDER": int(border is not None),
            "RC": 1 if border is None else border.correction.shape[0],
            "CC": 1 if border is None else border.correction.shape[1],
            "IN_W": self.src.width,
            "OUT_W": self.dst.width,
            "ROM_BLOCK": int(self.rom == "block"),
            "THR_WRITABLE": int(self.writable),
            "WGEN": int(self.generated),
            **self._bases_params(),
        }

    def _bases_params(self) -> dict[str, int]:
        """The kernel's base parameters: off (the MVTU's own products)."""
        return {"BASES": 0, "WB": 1, "WSIGN": 0, "WPACK": 0, "XB": 1, "XFORM": 0, "XLO": 0}

    def cycles(self) -> int:
        return self.pixels * self.nf * self.sf

    def macs_per_cycle(self) -> int:
        return self.pe * self.simd

    def _weight_bits(self) -> np.ndarray:
        """(NF * SF, PE, SIMD * W_BITS) bits: element s of a lane at bits [s * W_BITS, ...)."""
        layer, wb = self.layer, self.w_bits
        if wb == 1:
            values = layer.weights.reshape(layer.out_channels, layer.fan_in).astype(np.int64)
        else:
            values = layer.weight_levels.reshape(layer.out_channels, layer.fan_in).astype(np.int64)
        tiles = values.reshape(self.nf, self.pe, self.sf, self.simd).transpose(0, 2, 1, 3)
        return bit_planes(tiles, wb).reshape(self.nf * self.sf, self.pe, self.simd * wb)

    def _threshold_lanes(self) -> np.ndarray:
        if self.thresholds is None:  # a scores layer compares nothing: a zero table
            return np.zeros((self.nf, self.pe), np.int64)
        thresholds = self.thresholds.astype(np.int64)
        if self.offsets is not None:
            thresholds = thresholds - self.offsets[:, None]
        return thresholds.reshape(self.nf, self.pe * self.levels)

    def _generator_lanes(self, field: str) -> np.ndarray:
        """(NF, PE): a generator table (each channel's starting state, or its invert bit)."""
        gen = sign_generator(self.layer)
        assert gen is not None, "the folding checks that the layer has a generator"
        return np.asarray(getattr(gen, field), np.int64).reshape(self.nf, self.pe)

    def weight_memories(self) -> list[Memory]:
        """The weights ROM, or the generator's per-channel tables (docs/fsb.md)."""
        if self.generated:
            return [
                Memory(
                    "seeds", self.nf, self.pe, STATE_BITS, lambda: self._generator_lanes("states")
                ),
                Memory("invert", self.nf, self.pe, 1, lambda: self._generator_lanes("invert")),
            ]
        return [
            Memory(
                "weights",
                self.nf * self.sf,
                self.pe,
                self.weight_word_bits,
                self._weight_bits,
                "bits",
                storage=self.rom,
            )
        ]

    def memories(self) -> list[Memory]:
        mems = [
            *self.weight_memories(),
            Memory(
                "thresholds",
                self.nf,
                self.pe * self.levels,
                self.table_bits,
                self._threshold_lanes,
                signed=True,
                writable=self.writable,
            ),
        ]
        return mems + border_memories(self.border, self.pe, self.table_bits)

    def buffers(self) -> list[Buffer]:
        """The input vector, kept for the output folds after the first (none with one)."""
        if self.nf == 1:
            return []
        return [Buffer("vec", self.sf, self.src.width)]

    def resource_features(self) -> dict[str, float]:
        a_w = self.table_bits
        depth = self.nf * self.sf
        weight_width = self.pe * self.simd * self.w_bits
        border_classes = 0 if self.border is None else self.border.classes
        binary = not self.int_in and self.w_bits == 1
        products = not self.over_bases
        return {
            "const": 1.0,
            "binary_macs": float(weight_width) if binary and products else 0.0,
            # integer inputs or multi-bit weights: adders (and small products) of these bits
            "int_mac_bits": float(weight_width * self.in_bits) if products and not binary else 0.0,
            **self._bases_features(a_w),
            "accumulators": float(self.pe * a_w),
            "input_buffer": float(self.simd * self.in_bits * math.ceil(self.sf / 32))
            if self.nf > 1
            else 0.0,
            "weight_rom": float(rm.lut_rom_size(weight_width, depth)) if self.rom == "lut" else 0.0,
            "weight_register": float(weight_width) if self.rom == "lut" else 0.0,
            # the generator: per lane a 32-bit state stepped SIMD times per cycle, and the
            # per-channel table of starting states and invert bits
            "generator_lanes": float(self.pe * (STATE_BITS + self.simd)) if self.generated else 0.0,
            "generator_seeds": float(rm.lut_rom_size(self.pe * (STATE_BITS + 1), self.nf))
            if self.generated
            else 0.0,
            **(
                {}
                if self.scores
                else rm.threshold_features(self.pe * self.levels * a_w, self.nf, self.writable)
            ),
            "border_rom": float(rm.lut_rom_size(self.pe * a_w, border_classes * self.nf))
            if border_classes
            else 0.0,
            "score_outputs": float(self.pe * SCORE_BITS) if self.scores else 0.0,
        }

    def _bases_features(self, acc_bits: int) -> dict[str, float]:
        """The resource features of base pairs (none: the MVTU's own products)."""
        return {}

    def block_ram(self) -> float:
        if self.rom != "block":
            return 0.0
        return rm.bram18_count(self.pe * self.weight_word_bits, self.nf * self.sf) / 2

    def fifo_depths(self) -> dict[str, int]:
        """It takes an input vector's SF words in a burst (its first output fold), then
        re-reads them from its buffer for the other folds: room for a whole vector lets the
        producer keep its pace meanwhile (measured: 298 instead of 256 cycles per image for a
        balanced digits MLP with 2-word FIFOs)."""
        if self.nf == 1:
            return {}
        return {self.src.name: min(MAX_FIFO_DEPTH, self.sf + 2)}

    def label(self) -> str:
        layer = self.layer
        return f"{layer.name}: {layer.kind} {layer.fan_in} x {layer.out_channels}"

    def description(self) -> str:
        layer = self.layer
        src = f"int{self.in_bits}" if self.int_in else "bit"
        weights = "bit" if self.w_bits == 1 else f"int{self.w_bits}"
        if self.scores:
            out = f"int{SCORE_BITS} scores"
        elif self.levels == 1:
            out = "bits (acc >= T)"
        else:
            out = f"int{self.out_bits} codes ({self.levels + 1} levels)"
        return (
            f"{layer.kind}, {layer.fan_in} x {layer.out_channels}, {src} x {weights} -> {out}, "
            f"PE {self.pe}, SIMD {self.simd}"
        )


def _kernel_range(layer: ir.Linear, bases: Bases) -> tuple[np.ndarray, int, int]:
    offsets = bases.channel_offsets(layer)
    lo, hi = layer.channel_ranges()
    return offsets, int((lo - offsets).min()), int((hi - offsets).max())


_KERNEL_RANGE: LayerCache[tuple[np.ndarray, int, int]] = LayerCache(_kernel_range)


def channel_offsets(layer: ir.Linear, bases: Bases | None) -> np.ndarray | None:
    """Per output channel, the dot product less what the kernel sums (sign-magnitude bases),
    else None (the kernel sums the dot product itself)."""
    if bases is None or not bases.weight_sign:
        return None
    return _KERNEL_RANGE(layer, bases)[0]


def acc_range(layer: ir.Linear, bases: Bases | None) -> tuple[int, int]:
    """The range of the kernel's accumulator: the layer's, or with sign-magnitude bases each
    channel's less its offset."""
    if bases is None or not bases.weight_sign:
        return layer.out_range()
    _, lo, hi = _KERNEL_RANGE(layer, bases)
    return lo, hi


def border_memories(border: BorderTables | None, pe: int, bits: int) -> list[Memory]:
    """A conv's zero-padding correction (word (row class, column class, nf): PE lanes of
    `bits`) and its row and column classes; none without a correction."""
    if border is None:
        return []
    rc, cc, o = border.correction.shape
    oh, ow = len(border.row_class), len(border.col_class)

    def rows() -> np.ndarray:
        return border.row_class.astype(np.int64).reshape(oh, 1)

    def cols() -> np.ndarray:
        return border.col_class.astype(np.int64).reshape(ow, 1)

    def corr() -> np.ndarray:
        return border.correction.astype(np.int64).reshape(rc * cc * (o // pe), pe)

    return [
        Memory("correction", rc * cc * (o // pe), pe, bits, corr, signed=True),
        Memory("row_class", oh, 1, max(1, (rc - 1).bit_length()), rows, hls_width=8, banked=False),
        Memory("col_class", ow, 1, max(1, (cc - 1).bit_length()), cols, hls_width=8, banked=False),
    ]


@dataclass(eq=False)
class BasesStage(MvtuStage):
    """The MVTU over binary bases (docs/pa.md, bases.py): the same unit, folding, streams and
    tables, with each weight element stored as its base bits and the dot product summed per
    base pair as coefficient x popcount(w_m & x_n). The only kernel for a layer whose inputs
    are a staircase activation's codes; for other multi-bit layers the folding's choice
    against the MVTU's small products."""

    kind: ClassVar[str] = "bases"
    title: ClassVar[str] = "MVTU over binary bases"
    over_bases: ClassVar[bool] = True
    generates_weights: ClassVar[bool] = False  # its weights are base bits, kept in a ROM
    default_rank: ClassVar[int] = 2  # the only kernel for staircase inputs, else the MVTU's

    @property
    def name(self) -> str:
        return f"{self.layer.name}_bases"

    @property
    def _bases(self) -> Bases:
        assert self.bases is not None, "built by MvtuStage.build with over_bases"
        return self.bases

    @property
    def w_bits(self) -> int:
        """Bits per stored weight element: one per weight base, and its sign if signed."""
        return self._bases.stored_bits

    def coeff_rows(self) -> list[list[int]]:
        """The base pairs' coefficients, (WB + 1) x (XB + 1)."""
        return self._bases.pair_coeffs().tolist()  # type: ignore[no-any-return]

    def _bases_params(self) -> dict[str, int]:
        b = self._bases
        return {
            "BASES": 1,
            "WB": b.weight_bases,
            "WSIGN": int(b.weight_sign),
            "WPACK": int(self.packed),
            "XB": b.input_bases,
            "XFORM": b.input_form,
            "XLO": b.input_lo,
        }

    @property
    def packed(self) -> bool:
        """Ternary weights in block RAM are stored three to a 5-bit code (packing.pack_trits):
        block RAM holds 1.67 bits per weight instead of 2; the decoders merge into the pair
        bits' LUTs (Yosys, resource_model.json's trit_decoders_note). LUT ROMs stay unpacked:
        whether packing pays there was not measured."""
        b = self._bases
        return self.rom == "block" and b.weight_sign and b.weight_coeffs == (0, b.weight_coeffs[1])

    @property
    def weight_word_bits(self) -> int:
        if self.packed:
            return TRIT_CODE_BITS * -(-self.simd // TRITS_PER_CODE)
        return self.simd * self.w_bits

    def _weight_bits(self) -> np.ndarray:
        """(NF * SF, PE, word bits): element s of a lane holds its WB base bits (and its
        sign) at [s * W_BITS, ...); packed: the trits' 5-bit codes."""
        if self.packed:
            w = self.layer.int_weights() // self._bases.weight_coeffs[1]  # -1, 0, 1
            tiles = w.reshape(self.nf, self.pe, self.sf, self.simd).transpose(0, 2, 1, 3)
            return pack_trits(tiles.reshape(self.nf * self.sf, self.pe, self.simd))
        wb = self.w_bits
        base_bits = self._bases.weight_bits(self.layer.int_weights())
        planes = base_bits.reshape(self.nf, self.pe, self.sf, self.simd * wb)
        return (
            planes.transpose(0, 2, 1, 3)
            .reshape(self.nf * self.sf, self.pe, self.simd * wb)
            .astype(np.uint8)
        )

    def _bases_features(self, acc_bits: int) -> dict[str, float]:
        """Per PE an AND-popcount of SIMD bits for every base pair with a coefficient, and a
        constant multiply-add of its count into the accumulator; once, the input bases
        (comparators for staircase steps, wiring for bits)."""
        coeffs = self._bases.pair_coeffs()
        # pairs with a popcount: the constant pair (0, 0) counts SIMD and needs none
        pairs = int(np.count_nonzero(coeffs)) - int(coeffs[0, 0] != 0)
        steps = self._bases.input_form == X_STEPS
        return {
            "base_pair_bits": float(self.pe * self.simd * pairs),
            "base_coeff_adders": float(self.pe * pairs * acc_bits),
            "trit_decoders": float(self.pe * -(-self.simd // TRITS_PER_CODE))
            if self.packed
            else 0.0,
            "input_base_bits": float(self.simd * self._bases.input_bases * self.in_bits)
            if steps
            else 0.0,
        }

    @classmethod
    def refusal(cls, layer: ir.Linear, threshold: ir.ThresholdLayer | None) -> str | None:
        if layer.input_kind == "bit" and layer.binary_weights:
            return "its weights and inputs are binary (the MVTU's XNOR-popcount is its one base)"
        return None
