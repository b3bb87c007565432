"""The compile flow shared by every command: read, import, run the passes."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx

from . import ir
from .frontend import SourceInfo, import_model, load_onnx
from .passes import batchshift

log = logging.getLogger(__name__)


@dataclass
class Compiled:
    onnx_model: onnx.ModelProto
    info: SourceInfo
    unfused: ir.Model  # as imported: float BatchNorm/scale ops and signs
    model: ir.Model  # after BatchShift: integer-only between input quantiser and scores
    seconds: float
    sharing: dict[str, Any] = field(default_factory=dict)  # the --sharing report


def compile_file(path: str | Path) -> Compiled:
    t0 = time.perf_counter()
    onnx_model = load_onnx(path)
    unfused, info = import_model(onnx_model, source_file=ir.sanitize(Path(path).name, 80))
    log.info("imported %d layers from %s", len(unfused.layers), Path(path).name)
    model = batchshift(unfused)
    if not model.is_integer_only():
        raise AssertionError("float ops left between the input quantiser and the scores")
    return Compiled(onnx_model, info, unfused, model, time.perf_counter() - t0)
