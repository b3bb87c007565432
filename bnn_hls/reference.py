"""Run the original ONNX file with onnxruntime (QONNX ops rewritten into standard ONNX ops),
with the pre-activation tensors exposed so ties can be counted."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper

from .errors import ModelError
from .frontend.importer import SourceInfo
from .frontend.qonnx_ops import to_standard_onnx

log = logging.getLogger(__name__)


@dataclass
class SourceRun:
    outputs: np.ndarray  # (N, classes) float32
    min_abs_pre_activation: np.ndarray  # (N,) smallest |x| over all pre-activation tensors


class SourceModel:
    """The source model as onnxruntime executes it (graph optimisations off, so nothing is fused
    or re-ordered and exact ties stay ties)."""

    def __init__(self, model: onnx.ModelProto, info: SourceInfo) -> None:
        import onnxruntime as ort

        std = to_standard_onnx(model, info.tensor_ranks)
        existing = {o.name for o in std.graph.output}
        self.pre_names = []
        self.pre_kinds = []
        for name, how, params in info.pre_activations:
            self.pre_kinds.append((how, params))
            if name not in existing:
                std.graph.output.append(
                    helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None)
                )
                existing.add(name)
            self.pre_names.append(name)
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(
                std.SerializeToString(), opts, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise ModelError(f"onnxruntime cannot load the model: {str(exc)[:300]}") from None
        self.input_name = info.input_name
        self.output_name = info.output_name
        self.input_type = self.session.get_inputs()[0].type
        self.batched = not info.input_batch_fixed

    def _run(self, x: np.ndarray) -> list[np.ndarray]:
        return self.session.run([self.output_name, *self.pre_names], {self.input_name: x})

    def run(self, x: np.ndarray, chunk: int = 128) -> SourceRun:
        if "float" in self.input_type and x.dtype != np.float32:
            x = x.astype(np.float32)
        outs, mins = [], []
        i = 0
        while i < len(x):
            n = chunk if self.batched else 1
            part = x[i : i + n]
            try:
                res = self._run(part)
            except Exception:
                if not self.batched or n == 1:
                    raise
                log.debug("the model does not take batches; running one image at a time")
                self.batched = False
                continue
            outs.append(np.asarray(res[0]).reshape(len(part), -1))
            m = np.full(len(part), np.inf)
            for (how, params), pre in zip(self.pre_kinds, res[1:]):
                dist = decision_distance(np.asarray(pre, np.float64), how, params)
                m = np.minimum(m, dist.reshape(len(part), -1).min(axis=1))
            mins.append(m)
            i += len(part)
        return SourceRun(np.concatenate(outs).astype(np.float32), np.concatenate(mins))


def decision_distance(
    x: np.ndarray, how: str, params: tuple[float, float, str] | None
) -> np.ndarray:
    """How far each pre-activation is from where the source model's output changes: |x| for a
    sign or x >= 0; for a rounding quantiser the distance (in x's units) to the nearest
    rounding boundary (halves for ROUND, integers for FLOOR/CEIL/ROUND_TO_ZERO); for "at" (a
    comparison x > v or x >= v) |x - v|."""
    if how == "at" and params is not None:
        return np.abs(x - params[0])
    if how != "round" or params is None:
        return np.abs(x)
    scale, zero, mode = params
    u = x / scale + zero
    if mode == "ROUND":
        return np.abs(np.abs(u - np.floor(u)) - 0.5) * scale
    return np.abs(u - np.round(u)) * scale
