"""Typed access to ONNX node attributes (and a Constant node's value)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..errors import ModelError
from .refuse import refuse

T = TypeVar("T")


def _get(node: onnx.NodeProto, name: str) -> object | None:
    for a in node.attribute:
        if a.name == name:
            value = helper.get_attribute_value(a)
            return value.decode() if isinstance(value, bytes) else value
    return None


def _typed(
    node: onnx.NodeProto, name: str, value: object, kind: str, convert: Callable[[Any], T]
) -> T:
    """`convert(value)`, or the node's refusal when the attribute is not of that kind."""
    try:
        return convert(value)
    except (TypeError, ValueError):
        refuse(
            node,
            f"attribute '{name}' is not {kind}",
            hint="the exporter wrote an attribute of the wrong type; re-export the model",
        )


def attr_int(node: onnx.NodeProto, name: str, default: int) -> int:
    value = _get(node, name)
    return default if value is None else _typed(node, name, value, "an integer", int)


def attr_float(node: onnx.NodeProto, name: str, default: float) -> float:
    value = _get(node, name)
    return default if value is None else _typed(node, name, value, "a number", float)


def attr_str(node: onnx.NodeProto, name: str, default: str) -> str:
    value = _get(node, name)
    if value is None:
        return default
    return _typed(node, name, value, "a string", _string)


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(value)
    return value


def _items(value: Any, convert: Callable[[Any], T]) -> list[T]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(value)
    return [convert(v.decode() if isinstance(v, bytes) else v) for v in value]


def attr_ints(node: onnx.NodeProto, name: str, default: Sequence[int]) -> list[int]:
    value = _get(node, name)
    if value is None:
        return list(default)
    return _typed(node, name, value, "a list of integers", lambda v: _items(v, int))


def attr_floats(node: onnx.NodeProto, name: str) -> list[float]:
    value = _get(node, name)
    if value is None:
        return []
    return _typed(node, name, value, "a list of numbers", lambda v: _items(v, float))


def attr_strs(node: onnx.NodeProto, name: str) -> list[str]:
    value = _get(node, name)
    if value is None:
        return []
    return _typed(node, name, value, "a list of strings", lambda v: _items(v, str))


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
