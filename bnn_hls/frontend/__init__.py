"""Frontend: read ONNX/QONNX files into the IR."""

from __future__ import annotations

from .importer import SourceInfo, import_model
from .loader import load_onnx

__all__ = ["SourceInfo", "import_model", "load_onnx"]
