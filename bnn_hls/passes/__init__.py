"""IR-to-IR passes. Each takes a Model and returns a new Model (the input is not changed)."""

from __future__ import annotations

from .batchshift import batchshift

__all__ = ["batchshift"]
