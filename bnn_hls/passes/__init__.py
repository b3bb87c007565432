"""IR-to-IR passes, each a Pass (base.py): run(model, options) -> PassResult with a new model.
The compile flow runs them in the order of compiler.PASSES."""

from __future__ import annotations

from .base import Pass, PassOptions, PassResult, SharingMode, parse_sharing
from .batchshift import BatchShift
from .sharing import ResultSharing

__all__ = [
    "BatchShift",
    "Pass",
    "PassOptions",
    "PassResult",
    "ResultSharing",
    "SharingMode",
    "parse_sharing",
]
