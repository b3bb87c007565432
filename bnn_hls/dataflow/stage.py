"""The pipeline stage: one kernel instance of the streaming accelerator.

A stage kind (sliding window, MVTU, result-sharing unit, max-pool, width converters, I/O) is
one subclass of Stage, and that class is the only place that describes the kind: its cycles
per image, its parameters (one set of names: each backend renders the ones its kernel takes),
its parameter memories, its resource-model features, the FIFO room it needs and its legality
rules. The backends, the cycle model, the resource model, the folding optimiser and the Yosys
estimates ask the stage; none of them looks at its kind. docs/adding-a-layer-kind.md walks
through adding one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from .. import ir
from . import resource_model as rm
from .hls_rules import LOAD_TABLE, KernelRule
from .memory import Buffer, Memory
from .streams import Stream

if TYPE_CHECKING:
    from .folding import Fold


class Stage(ABC):
    # what the stage is called in reports, logs and JSON (never used to choose behaviour)
    kind: ClassVar[str]
    # templates/hls/stages/<hls_template>: a macro `call(st)` (the line in the dataflow top)
    # and, for stages with their own parameters, `definition(st)` (their params_<layer>.h part)
    hls_template: ClassVar[str]
    # the constants config.h declares for the HLS kernel, in order (names from params())
    hls_params: ClassVar[tuple[str, ...]] = ()
    # the RTL module's parameters, in order (names from params()); the memory files follow
    rtl_params: ClassVar[tuple[str, ...]] = ()
    # hw/rtl files the stage's module needs besides its own (for Yosys)
    rtl_library: ClassVar[tuple[str, ...]] = ()
    # the RTL top wires this stage's output to the AXI-Stream output port
    drives_axis_out: ClassVar[bool] = False
    # its RTL module has a threshold load port (wired to the loader, writable or not)
    has_load_port: ClassVar[bool] = False
    # `bnn-hls estimate` synthesises this stage with Yosys on its own
    synthesised: ClassVar[bool] = True
    # the resource model's coefficient set (resource_model.json)
    cost_kind: ClassVar[str] = "small"
    # the HLS library kernels the stage calls, by name, and how each one's pipelined loop
    # touches its arrays (backends/hls_check.py checks them against the pragmas)
    hls_kernels: ClassVar[dict[str, KernelRule]] = {}

    src: Stream
    dst: Stream
    layer: ir.Layer | None

    @property
    @abstractmethod
    def name(self) -> str:
        """The stage's identifier in generated code (made by the compiler)."""

    @abstractmethod
    def cycles(self) -> int:
        """Clock cycles per image when neither starved nor blocked (the RTL kernels reach
        exactly this; docs/rtl.md)."""

    @property
    def hls_prefix(self) -> str:
        """The prefix of the stage's constants and tables in the HLS project."""
        return self.layer_name.upper()

    @property
    def layer_name(self) -> str:
        """The IR layer the stage computes, or its own name."""
        return self.layer.name if self.layer is not None else self.name

    def params(self) -> dict[str, int]:
        """Every kernel parameter, under the one name both backends use."""
        return {}

    def hls_constants(self) -> dict[str, int]:
        p = self.params()
        return {k: p[k] for k in self.hls_params}

    def rtl_parameters(self) -> list[tuple[str, int | str]]:
        p = self.params()
        return [(k, p[k]) for k in self.rtl_params]

    def memories(self) -> list[Memory]:
        """Parameter memories (contents computed on first use)."""
        return []

    def writable_table(self) -> Memory | None:
        """The memory the host rewrites at run time (a layer's thresholds, through the load
        stream: dataflow/tables.py), or None."""
        return next((m for m in self.memories() if m.writable), None)

    def widest_word(self) -> int:
        """The widest word the stage's kernels handle (streams, memory words, registers)."""
        return max([self.src.width, self.dst.width] + [m.lane_bits for m in self.memories()])

    def buffers(self) -> list[Buffer]:
        """Working buffers the HLS kernel takes from the stage function (its storage is the
        backend's choice, by size)."""
        return []

    @property
    def rtl_module(self) -> str | None:
        """The RTL module instantiated for this stage; None: plain wiring in the top."""
        return None

    @property
    def rtl_template(self) -> str | None:
        """A template in templates/rtl/ that generates this stage's module, if it has one."""
        return None

    def rtl_template_context(self) -> dict[str, Any]:
        raise NotImplementedError(f"{self.kind} stages have no generated RTL module")

    def resource_features(self) -> dict[str, float]:
        """The resource model's features (the order is the order of summation)."""
        return rm.small_features(max(self.src.width, self.dst.width))

    def block_ram(self) -> float:
        """RAMB36 of the stage's memories."""
        return 0.0

    def resource_estimate(self) -> rm.Estimate:
        return rm.apply(self.cost_kind, self.resource_features(), self.block_ram())

    def fifo_depths(self) -> dict[str, int]:
        """Stream name -> the RTL FIFO depth this stage needs on it (at most MAX_FIFO_DEPTH)
        to keep its own rate; every stream gets at least FIFO_DEPTH."""
        return {}

    def label(self) -> str:
        """A short description (a comment in the RTL top)."""
        return self.name

    def description(self) -> str:
        """A longer description (comments in the HLS project)."""
        return self.label()


class LinearStage(Stage):
    """A stage that computes a linear layer (an MVTU or a result-sharing unit): a kernel a
    folding can name (kernels.KERNELS)."""

    layer: ir.Linear
    pe: int
    simd: int
    writable: bool  # its thresholds are loaded at run time (Fold.thresholds)
    has_load_port: ClassVar[bool] = True
    # every kernel of a linear stage is fed by the threshold loader's kernel
    hls_kernels: ClassVar[dict[str, KernelRule]] = {"load_table": LOAD_TABLE}
    # the kernel's name in messages
    title: ClassVar[str]
    # the folding's ROM style (weights in LUTs or block RAM) applies to this kernel
    uses_rom: ClassVar[bool] = False
    # it can take binary weights from the fixed-sign generator instead (rom "gen", docs/fsb.md)
    generates_weights: ClassVar[bool] = False
    # the default folding takes, per layer, the lowest-ranked kernel that can compute it
    default_rank: ClassVar[int]
    # where it can compute a layer it is the only kernel the optimiser considers, unless told to
    # choose by cost (the result-sharing unit under `--sharing exact`; `auto` lets it choose)
    claims_layer: ClassVar[bool] = False

    @classmethod
    @abstractmethod
    def build(
        cls,
        layer: ir.Linear,
        threshold: ir.ThresholdLayer | None,
        fold: Fold,
        src: Stream,
        dst: Stream,
    ) -> LinearStage:
        """The stage computing `layer` (and the threshold after it, if any) at a folding."""

    @classmethod
    def refusal(cls, layer: ir.Linear, threshold: ir.ThresholdLayer | None) -> str | None:
        """Why this kernel cannot compute `layer` followed by `threshold`, or None."""
        return None

    @abstractmethod
    def macs_per_cycle(self) -> int:
        """Multiply-accumulates per cycle when busy."""
