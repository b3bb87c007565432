"""The result-sharing conv unit (passes/sharing.py; its schedule in share_schedule.py): every
distinct 2-D filter result of a window computed once and added, inverted where the filter is
the inverse, by the outputs that use it. The RTL unit is generated per layer
(templates/rtl/share_conv.sv.j2 around hw/rtl/bnn_share_ctrl.sv); the HLS kernel is
hw/hls/bnn_shared.h with the schedule's tables."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from .. import ir
from ..errors import ModelError
from ..packing import bits_to_u64
from . import resource_model as rm
from .border import BorderTables, border_tables
from .hls_rules import Access, KernelRule, border_arrays
from .memory import Memory
from .mvtu import border_memories
from .share_schedule import ShareSchedule, ShareTables, cached_schedule, share_tables
from .stage import LinearStage
from .streams import MAX_FIFO_DEPTH, MAX_WORD_BITS, Stream

if TYPE_CHECKING:
    from .folding import Fold

MAX_SHARED_TAPS = 64  # a 2-D filter fits one 64-bit word in the HLS kernel's tables


@dataclass(eq=False)
class SharedStage(LinearStage):
    """Per output pixel it holds the window and takes NF = O / PE steps of PE outputs; it
    collects the next window's SF words meanwhile, so a pixel takes max(NF, SF) cycles."""

    src: Stream
    dst: Stream
    layer: ir.Conv
    pe: int
    simd: int
    thresholds: np.ndarray  # (O,) on the accumulator
    border: BorderTables | None
    writable: bool = False  # the thresholds are loaded at run time

    kind: ClassVar[str] = "shared"
    hls_template: ClassVar[str] = "shared.h.j2"
    hls_params: ClassVar[tuple[str, ...]] = (
        "C", "T", "SIMD", "O", "PE", "NF", "U", "OH", "OW", "RC", "CC", "SUM_W", "CMP_W",
    )  # fmt: skip
    # the generated module's own parameters are its memory files; these go to the control
    rtl_control_params: ClassVar[tuple[str, ...]] = (
        "C", "T", "SIMD", "O", "PE", "SUM_W", "CMP_W", "OH", "OW", "BORDER", "RC", "CC",
        "THR_WRITABLE",
    )  # fmt: skip
    rtl_library: ClassVar[tuple[str, ...]] = (
        "bnn_share_ctrl.sv",
        "bnn_share_lane.sv",
        "bnn_popcount.sv",
        "bnn_thr_table.sv",
    )
    cost_kind: ClassVar[str] = "shared"
    title: ClassVar[str] = "result-sharing kernel"
    default_rank: ClassVar[int] = 0
    claims_layer: ClassVar[bool] = True
    hls_kernels: ClassVar[dict[str, KernelRule]] = {
        **LinearStage.hls_kernels,
        "shared_conv_threshold": KernelRule(
            ("C", "T", "SIMD", "O", "PE", "OH", "OW", "BORDER", "RC", "CC", "SUM_W", "CMP_W",
             "UNIT"),
            ("in", "out", "thresholds", "row_class", "col_class", "correction", "reps"),
            {"thresholds": Access(1, parallel="PE"), **border_arrays()},
        ),
    }  # fmt: skip

    @classmethod
    def refusal(cls, layer: ir.Linear, threshold: ir.ThresholdLayer | None) -> str | None:
        """A conv with a sharing plan, binary inputs, thresholds after it, at most 64 taps."""
        if not isinstance(layer, ir.Conv):
            return "it is not a conv"
        if not layer.shared:
            return "it has no sharing plan (use --sharing exact, similar:D or auto)"
        if layer.input_kind != "bit":
            return "its inputs are integers (the unit shares binary 2-D filter results)"
        if threshold is None:
            return "it outputs scores (the unit outputs threshold bits)"
        if isinstance(threshold, ir.MultiThreshold):
            return "it outputs multi-level codes (the unit outputs threshold bits)"
        taps = layer.kernel[0] * layer.kernel[1]
        if taps > MAX_SHARED_TAPS:
            return f"its kernel has more than {MAX_SHARED_TAPS} taps"
        if taps * layer.in_shape[-1] > MAX_WORD_BITS:
            return (
                f"its window ({taps} taps x {layer.in_shape[-1]} channels) is wider than "
                f"{MAX_WORD_BITS} bits"
            )
        return None

    @classmethod
    def build(
        cls,
        layer: ir.Linear,
        threshold: ir.ThresholdLayer | None,
        fold: Fold,
        src: Stream,
        dst: Stream,
    ) -> SharedStage:
        reason = cls.refusal(layer, threshold)
        if reason is not None:
            raise ModelError(f"layer {layer.name}: the {cls.title} cannot compute it: {reason}")
        assert isinstance(layer, ir.Conv) and threshold is not None
        return cls(
            src,
            dst,
            layer,
            fold.pe,
            fold.simd,
            threshold.thresholds,
            border_tables(layer),
            fold.writable,
        )

    @property
    def name(self) -> str:
        return f"{self.layer.name}_shared"

    @property
    def rtl_module(self) -> str:
        return f"bnn_share_{self.layer.name}"

    @property
    def rtl_template(self) -> str:
        return "share_conv.sv.j2"

    @property
    def schedule(self) -> ShareSchedule:
        return cached_schedule(self.layer, self.pe)

    @cached_property
    def tables(self) -> ShareTables:
        correction = None if self.border is None else self.border.correction
        return share_tables(self.schedule, self.thresholds, correction)

    @property
    def pixels(self) -> int:
        return self.layer.out_shape[0] * self.layer.out_shape[1]

    @property
    def steps(self) -> int:
        """Cycles per output pixel: it collects a window's words while it issues the previous
        window's output steps (hw/rtl/bnn_share_ctrl.sv)."""
        return max(self.layer.out_channels // self.pe, self.layer.fan_in // self.simd)

    def params(self) -> dict[str, int]:
        sched, border = self.schedule, self.border
        oh, ow, _ = self.layer.out_shape
        return {
            "C": sched.channels,
            "T": sched.taps,
            "SIMD": self.simd,
            "O": sched.outputs,
            "PE": sched.pe,
            "NF": sched.nf,
            "U": sched.units,
            "SUM_W": sched.sum_bits,
            "CMP_W": self.tables.compare_bits,
            "OH": oh,
            "OW": ow,
            "BORDER": int(border is not None),
            "RC": 1 if border is None else border.correction.shape[0],
            "CC": 1 if border is None else border.correction.shape[1],
            "THR_WRITABLE": int(self.writable),
        }

    def cycles(self) -> int:
        return self.pixels * self.steps

    def widest_word(self) -> int:
        return max(super().widest_word(), self.layer.fan_in)  # the whole window

    def macs_per_cycle(self) -> int:
        return self.layer.out_channels * self.layer.fan_in // self.steps

    def threshold_lanes(self) -> np.ndarray:
        """(NF, PE): the thresholds in the lane-sum domain, 2 * S + corr >= T."""
        return self.tables.thresholds.astype(np.int64).reshape(self.schedule.nf, self.pe)

    def memories(self) -> list[Memory]:
        bits = self.tables.compare_bits
        mems = [
            Memory(
                "thresholds",
                self.schedule.nf,
                self.pe,
                bits,
                self.threshold_lanes,
                signed=True,
                writable=self.writable,
            )
        ]
        return mems + border_memories(self.border, self.pe, bits)

    def unit_pattern_words(self) -> np.ndarray:
        """(NF, U) uint64: the filter each unit compares with at each step, tap t at bit t."""
        sched = self.schedule
        patterns = sched.unit_patterns(self.layer.share_filters)  # (NF, U, T), T <= 64
        return bits_to_u64(patterns)[..., 0]

    def resource_features(self) -> dict[str, float]:
        """What the unit costs (hw/rtl/bnn_share_ctrl.sv + the generated units and lanes): the
        units' popcounts, their filter bits that change between steps (logic of the step
        index), the lanes' bit-plane popcounts and the multiplexers in front of them, the
        window registers, the threshold and border tables and the comparators."""
        sched, filters = self.schedule, self.layer.share_filters
        b, t, c, nf = sched.term_bits, sched.taps, sched.channels, sched.nf
        width = sched.pe * self.tables.compare_bits
        sf = t * c // self.simd
        border_classes = 0 if self.border is None else self.border.classes
        return {
            "const": 1.0,
            "unit_bits": float(sched.units * t),
            "varying_unit_bits": float(sched.varying_unit_bits(filters) * math.ceil(nf / 32)),
            "lane_bits": float(sched.pe * c * b),
            "lane_mux_bits": float(b * (sched.lane_options() - 1).sum()),
            "window_bits": float(t * c + (sf - 1) * self.simd),
            "registers": float(sched.units * b + sched.pe * sched.sum_bits),
            **rm.threshold_features(width, nf, self.writable),
            "border_rom": float(rm.lut_rom_size(width, border_classes * nf))
            if border_classes
            else 0.0,
            "compare_bits": float(width),
        }

    def fifo_depths(self) -> dict[str, int]:
        """It takes a window's words at once when its last steps are issued, then waits for
        the next steps; room for a window keeps the producer going."""
        if self.schedule.nf == 1:
            return {}
        return {self.src.name: min(MAX_FIFO_DEPTH, self.layer.fan_in // self.simd + 2)}

    def label(self) -> str:
        return (
            f"{self.layer.name}: result-sharing conv {self.layer.in_shape[-1]} -> "
            f"{self.layer.out_channels}, {self.schedule.units} units"
        )

    def description(self) -> str:
        sched = self.schedule
        return (
            f"result-sharing conv, {self.layer.in_shape[-1]} -> {self.layer.out_channels} "
            f"channels, {sched.units} units, PE {sched.pe}, SIMD {self.simd}"
        )

    def unit_plan(self) -> dict[str, Any]:
        """The unit logic of the schedule, as plain data both backends generate code from:
        per unit its input channel and filter (T bits, tap t at bit t): a default and, where
        it changes, (steps, filter) cases; per lane and channel the (unit, inverted) term it
        adds: a default and (steps, term) cases."""
        sched = self.schedule
        values = self.unit_pattern_words()  # (NF, U)
        units = []
        for u in range(sched.units):
            default, cases = _case_groups([int(v) for v in values[:, u]])
            units.append(
                {
                    "index": u,
                    "channel": int(sched.unit_channel[u]),
                    "default": default,
                    "cases": cases,
                }
            )
        key = sched.lane_unit * 2 + sched.lane_invert  # (NF, PE, C)
        lanes = []
        for p in range(sched.pe):
            terms = []
            for ch in range(sched.channels):
                default, cases = _case_groups([int(k) for k in key[:, p, ch]])
                terms.append(
                    {
                        "default": divmod(default, 2),
                        "cases": [(steps, divmod(k, 2)) for steps, k in cases],
                    }
                )
            lanes.append({"index": p, "terms": terms})
        return {"units": units, "lanes": lanes}

    def step_tables(self) -> dict[str, Any]:
        """The same logic as per-step tables (the HLS unit's form: a table indexed by the step
        compiles far faster than a switch of as many cases, and is the same constant logic):
        a varying unit's filter at every step; a varying lane term's few options (unit,
        inverted) and, per step, which one."""
        nf = self.schedule.nf
        plan = self.unit_plan()
        units = []
        for unit in plan["units"]:
            steps = [unit["default"]] * nf
            for ns, value in unit["cases"]:
                for n in ns:
                    steps[n] = value
            units.append({**unit, "steps": steps})
        lanes = []
        for lane in plan["lanes"]:
            terms = []
            for entry in lane["terms"]:
                options = [entry["default"], *(k for _, k in entry["cases"])]
                select = [0] * nf
                for i, (ns, _) in enumerate(entry["cases"], start=1):
                    for n in ns:
                        select[n] = i
                terms.append({**entry, "options": options, "select": select})
            lanes.append({"index": lane["index"], "terms": terms})
        return {"units": units, "lanes": lanes}

    def rtl_template_context(self) -> dict[str, Any]:
        """What templates/rtl/share_conv.sv.j2 needs: the units' filters (fixed, or a case
        over the step where they change) and each lane's terms, as SystemVerilog text."""
        layer, sched = self.layer, self.schedule
        t, b, nf = sched.taps, sched.term_bits, sched.nf
        plan = self.unit_plan()
        units, varying = [], []
        for unit in plan["units"]:
            u, ch = unit["index"], unit["channel"]
            entry: dict[str, Any] = {
                "index": u,
                "x_hi": ch * t + t - 1,
                "x_lo": ch * t,
                "q_hi": u * b + b - 1,
                "q_lo": u * b,
            }
            if not unit["cases"]:
                entry["pattern"] = _hex(t, unit["default"])
            else:
                entry["pattern"] = f"f[{u * t + t - 1}:{u * t}]"
                varying.append(
                    {
                        "hi": u * t + t - 1,
                        "lo": u * t,
                        "default": _hex(t, unit["default"]),
                        "cases": [(_labels(steps), _hex(t, v)) for steps, v in unit["cases"]],
                    }
                )
            units.append(entry)

        def term(unit: int, inv: int) -> str:
            return f"{'~' if inv else ''}q[{unit * b + b - 1}:{unit * b}]"

        lanes = []
        for lane in plan["lanes"]:
            p = lane["index"]
            terms = [
                {
                    "hi": ch * b + b - 1,
                    "lo": ch * b,
                    "expr": term(*entry["default"]),
                    "cases": [(_labels(steps), term(*k)) for steps, k in entry["cases"]],
                }
                for ch, entry in enumerate(lane["terms"])
            ]
            lanes.append(
                {
                    "index": p,
                    "terms": terms,
                    "s_hi": (p + 1) * sched.sum_bits - 1,
                    "s_lo": p * sched.sum_bits,
                }
            )
        params = self.params()
        c = {k: params[k] for k in self.rtl_control_params}
        return {
            "module": self.rtl_module,
            "layer": layer.name,
            "kh": layer.kernel[0],
            "kw": layer.kernel[1],
            "nf": nf,
            "nfw": max(1, (nf - 1).bit_length()),
            "distinct": int(layer.share_filters.shape[0]),
            "b": b,
            "c": c,
            "ctrl_params": list(c.items()),
            "units": units,
            "varying_units": varying,
            "lanes": lanes,
        }


def _hex(bits: int, value: int) -> str:
    """A SystemVerilog literal."""
    return f"{bits}'h{value:x}"


def _labels(steps: list[int]) -> str:
    return ", ".join(map(str, steps))


def _case_groups(keys: list[int]) -> tuple[int, list[tuple[list[int], int]]]:
    """(the most common key: the default, [(steps, key)] for the others), keys by step."""
    steps: dict[int, list[int]] = {}
    for n, k in enumerate(keys):
        steps.setdefault(k, []).append(n)
    default = max(steps, key=lambda k: len(steps[k]))
    cases = [(ns, k) for k, ns in steps.items() if k != default]
    return default, cases
