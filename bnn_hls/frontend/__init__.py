"""Frontend: read ONNX/QONNX files into the IR."""

from __future__ import annotations

from pathlib import Path

from .. import ir
from .importer import SourceInfo, import_model
from .loader import load_onnx


def read_model(path: str | Path) -> tuple[ir.Model, SourceInfo]:
    """Load, check and import an ONNX file into the un-fused IR."""
    model = load_onnx(path)
    return import_model(model, source_file=ir.sanitize(Path(path).name, 80))


__all__ = ["SourceInfo", "import_model", "load_onnx", "read_model"]
