"""The contract every IR-to-IR pass keeps: `run(model, options) -> PassResult`. A pass never
changes its input model; it returns a new one and, optionally, a report (JSON-able) that the
compile flow keeps under the pass's name. compiler.PASSES runs them in order."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .. import ir
from ..errors import ModelError
from ..frontend.fixedpoint import DEFAULT_COEFF_BITS

SHARING_HELP = "exact | similar:D (D = 1, 2, ...) | off | auto"


@dataclass(frozen=True)
class SharingMode:
    kind: str  # "off", "exact", "similar", "auto"
    distance: int = 0

    def __str__(self) -> str:
        return f"similar:{self.distance}" if self.kind == "similar" else self.kind


def parse_sharing(text: str) -> SharingMode:
    t = text.strip().lower()
    if t in ("off", "exact", "auto"):
        return SharingMode(t)
    if t.startswith("similar:"):
        try:
            d = int(t.split(":", 1)[1])
        except ValueError:
            d = -1
        if d >= 1:
            return SharingMode("similar", d)
    raise ModelError(f"unknown --sharing value {text!r}", hint=f"use {SHARING_HELP}")


@dataclass(frozen=True)
class PassOptions:
    """What the user asked of the passes."""

    sharing: SharingMode = field(default_factory=lambda: SharingMode("off"))
    # fixed-point bits of a piecewise approximation's real values (frontend/fixedpoint.py);
    # read by the frontend, which runs before the passes
    coeff_bits: int = DEFAULT_COEFF_BITS


@dataclass
class PassResult:
    model: ir.Model
    report: dict[str, Any] | None = None


class Pass(ABC):
    name: ClassVar[str]

    @abstractmethod
    def run(self, model: ir.Model, options: PassOptions) -> PassResult:
        """The transformed model (a new object) and the pass's report."""
