"""Elementwise float32 operations kept from the source model (BatchNorm, bias, scale, TensorNorm).

They are evaluated in float32, one ONNX operation at a time and in the source's order, so the
pre-BatchShift IR computes what the ONNX reference semantics compute, including rounding. The
BatchShift pass evaluates the same chains on every reachable accumulator value to derive integer
thresholds, which is why the order and precision matter here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .packing import apply_float_op

OP_KINDS = ("add", "sub", "rsub", "mul", "div", "bn", "softmax", "logsoftmax")
# ops over the class axis that keep the order of the scores (only after the last layer)
ORDER_KEEPING = ("softmax", "logsoftmax")
BN_KEYS = ("scale", "bias", "mean", "var")


@dataclass
class FloatOp:
    """One elementwise op. Parameters broadcast against the last (channel) axis, or are scalars.

    kinds: add (x + a), sub (x - a), rsub (a - x), mul (x * a), div (x / a),
    bn (BatchNormalization: (x - mean) / sqrt(var + eps) * scale + bias, ONNX reference order),
    softmax / logsoftmax over the last axis (not elementwise: only as the final score ops).
    """

    kind: str
    params: dict[str, np.ndarray] = field(default_factory=dict)
    eps: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in OP_KINDS:
            raise ValueError(f"unknown float op {self.kind}")
        self.params = {k: np.asarray(v, dtype=np.float32) for k, v in self.params.items()}

    def apply(self, x: np.ndarray) -> np.ndarray:
        return apply_float_op(self.kind, self.params, self.eps, x)

    def affine64(self, channels: int) -> tuple[np.ndarray, np.ndarray]:
        """The op as y = a * x + b per channel, in float64 (for reasoning, never for results)."""

        def vec(v: np.ndarray) -> np.ndarray:
            return np.broadcast_to(np.asarray(v, dtype=np.float64).reshape(-1), (channels,)).copy()

        if self.kind in ORDER_KEEPING:
            raise ValueError(f"{self.kind} is not an elementwise affine op")
        p = self.params
        one, zero = np.ones(channels), np.zeros(channels)
        if self.kind == "add":
            return one, vec(p["a"])
        if self.kind == "sub":
            return one, -vec(p["a"])
        if self.kind == "rsub":
            return -one, vec(p["a"])
        if self.kind == "mul":
            return vec(p["a"]), zero
        if self.kind == "div":
            return 1.0 / vec(p["a"]), zero
        scale = vec(p["scale"]) / np.sqrt(vec(p["var"]) + self.eps)
        return scale, vec(p["bias"]) - vec(p["mean"]) * scale

    def param_count(self) -> int:
        return int(sum(np.asarray(v).size for v in self.params.values()))

    def flops_per_element(self) -> int:
        return 4 if self.kind == "bn" else 1

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "eps": self.eps,
            "params": {k: np.asarray(v).tolist() for k, v in self.params.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FloatOp:
        return cls(
            data["kind"],
            {k: np.asarray(v, np.float32) for k, v in data["params"].items()},
            float(data.get("eps", 0.0)),
        )

    def select_channels(self, index: np.ndarray) -> FloatOp:
        """The same op with per-channel parameters re-indexed (scalars stay as they are)."""
        params = {}
        for k, v in self.params.items():
            v = np.asarray(v).reshape(-1)
            params[k] = v if v.size == 1 else v[index]
        return FloatOp(self.kind, params, self.eps)


def apply_ops(x: np.ndarray, ops: list[FloatOp]) -> np.ndarray:
    y = np.asarray(x, dtype=np.float32)
    with np.errstate(all="ignore"):  # inf/NaN are detected by the callers that care
        for op in ops:
            y = op.apply(y)
    return y


def compose_affine64(ops: list[FloatOp], channels: int) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.ones(channels), np.zeros(channels)
    for op in ops:
        a2, b2 = op.affine64(channels)
        a, b = a2 * a, a2 * b + b2
    return a, b
