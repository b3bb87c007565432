"""Typed access to ONNX node attributes (and a Constant node's value)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..errors import ModelError
from .refuse import refuse


def _get(node: onnx.NodeProto, name: str) -> object | None:
    for a in node.attribute:
        if a.name == name:
            value = helper.get_attribute_value(a)
            return value.decode() if isinstance(value, bytes) else value
    return None


def attr_int(node: onnx.NodeProto, name: str, default: int) -> int:
    value = _get(node, name)
    return default if value is None else int(value)  # type: ignore[call-overload]


def attr_float(node: onnx.NodeProto, name: str, default: float) -> float:
    value = _get(node, name)
    return default if value is None else float(value)  # type: ignore[arg-type]


def attr_str(node: onnx.NodeProto, name: str, default: str) -> str:
    value = _get(node, name)
    return default if value is None else str(value)


def attr_ints(node: onnx.NodeProto, name: str, default: Sequence[int]) -> list[int]:
    value = _get(node, name)
    if value is None:
        return list(default)
    return [int(v) for v in value]  # type: ignore[attr-defined]


def attr_floats(node: onnx.NodeProto, name: str) -> list[float]:
    value = _get(node, name)
    return [] if value is None else [float(v) for v in value]  # type: ignore[attr-defined]


def attr_strs(node: onnx.NodeProto, name: str) -> list[str]:
    value = _get(node, name)
    if value is None:
        return []
    return [v.decode() if isinstance(v, bytes) else str(v) for v in value]  # type: ignore[attr-defined]


def has_attr(node: onnx.NodeProto, name: str) -> bool:
    return any(a.name == name for a in node.attribute)


def constant_of(node: onnx.NodeProto) -> np.ndarray:
    """The value of a Constant node."""
    for a in node.attribute:
        if a.name == "value":
            return numpy_helper.to_array(a.t)
        if a.name in ("value_float", "value_int"):
            return np.asarray(helper.get_attribute_value(a))
        if a.name in ("value_floats", "value_ints"):
            return np.asarray(list(helper.get_attribute_value(a)))
    refuse(node, "Constant node without a supported value attribute")


def graph_constants(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """Every constant tensor of the graph by name: initializers and Constant nodes. An
    unreadable Constant is left out here; the importer's walk refuses it, naming the node."""
    consts = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and node.output:
            try:
                consts[node.output[0]] = constant_of(node)
            except (ModelError, ValueError, TypeError):
                continue
    return consts
