"""Evaluate nodes whose inputs are all constants (weight quantisers, weight transposes, the
Shape/Gather/Unsqueeze/Concat chain before a Reshape, TensorNorm's sqrt(var + eps), ...).

Common ops have numpy implementations here; any other standard ONNX op falls back to
onnx.reference.ReferenceEvaluator on a one-node model.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
from onnx import helper

from .attrs import attr_int, attr_ints, attr_str, has_attr
from .qonnx_ops import QONNX_DOMAINS, bipolar_quant, quant
from .refuse import SUPPORTED_QONNX, refuse

Fold = Callable[[onnx.NodeProto, list[np.ndarray | None]], list[np.ndarray]]


def _arg(x: list[np.ndarray | None], i: int) -> np.ndarray:
    value = x[i]
    if value is None:
        raise ValueError(f"input {i} is missing")
    return value


def _reshape(node: onnx.NodeProto, x: list[np.ndarray | None]) -> list[np.ndarray]:
    data, shape = x[0], x[1]
    assert data is not None and shape is not None
    target = [int(s) for s in shape]
    if not attr_int(node, "allowzero", 0):
        target = [data.shape[i] if s == 0 else s for i, s in enumerate(target)]
    return [data.reshape(target)]


def _transpose(node: onnx.NodeProto, x: list[np.ndarray | None]) -> list[np.ndarray]:
    assert x[0] is not None
    perm = attr_ints(node, "perm", []) if has_attr(node, "perm") else None
    return [np.transpose(x[0], perm)]


def _binary(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Fold:
    def run(node: onnx.NodeProto, x: list[np.ndarray | None]) -> list[np.ndarray]:
        a, b = x[0], x[1]
        assert a is not None and b is not None
        out = fn(a, b)
        return [np.asarray(out).astype(np.result_type(a, b), copy=False)]

    return run


def _bipolar(node: onnx.NodeProto, x: list[np.ndarray | None]) -> list[np.ndarray]:
    assert x[0] is not None and x[1] is not None
    return [bipolar_quant(x[0], x[1])]


def _quant(node: onnx.NodeProto, x: list[np.ndarray | None]) -> list[np.ndarray]:
    assert all(v is not None for v in x[:4])
    bits = int(np.asarray(x[3]).reshape(-1)[0])
    return [
        quant(
            _arg(x, 0),
            _arg(x, 1),
            _arg(x, 2),
            bits,
            bool(attr_int(node, "signed", 1)),
            bool(attr_int(node, "narrow", 0)),
            attr_str(node, "rounding_mode", "ROUND"),
        )
    ]


NUMPY_FOLDS: dict[str, Fold] = {
    "Identity": lambda n, x: [_arg(x, 0)],
    "Reshape": _reshape,
    "Transpose": _transpose,
    "Add": _binary(np.add),
    "Sub": _binary(np.subtract),
    "Mul": _binary(np.multiply),
    "Div": _binary(lambda a, b: a / b if a.dtype.kind == "f" else a // b),
    "Pow": _binary(np.power),
    "Sqrt": lambda n, x: [np.sqrt(_arg(x, 0))],
    "Neg": lambda n, x: [np.negative(_arg(x, 0))],
    "BipolarQuant": _bipolar,
    "Quant": _quant,
}


def fold_node(
    node: onnx.NodeProto, inputs: list[np.ndarray | None], opset: int
) -> list[np.ndarray]:
    """Outputs of a node whose inputs are all known."""
    if node.domain in QONNX_DOMAINS:
        fn = NUMPY_FOLDS.get(node.op_type)
        if fn is None:
            refuse(node, "this QONNX op is not supported", SUPPORTED_QONNX)
        return fn(node, inputs)
    if node.op_type in NUMPY_FOLDS:
        try:
            return NUMPY_FOLDS[node.op_type](node, inputs)
        except (ValueError, TypeError) as exc:
            refuse(node, f"cannot evaluate constant op: {exc}")
    return _fold_with_reference(node, inputs, opset)


def _fold_with_reference(
    node: onnx.NodeProto, inputs: list[np.ndarray | None], opset: int
) -> list[np.ndarray]:
    from onnx.reference import ReferenceEvaluator

    names = [f"in{i}" if v is not None else "" for i, v in enumerate(inputs)]
    outs = [f"out{i}" for i in range(len(node.output))]
    new = helper.make_node(node.op_type, names, outs, domain=node.domain)
    new.attribute.extend(node.attribute)
    graph = helper.make_graph(
        [new],
        "fold",
        [
            helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
            for n, v in zip(names, inputs)
            if v is not None and n
        ],
        [helper.make_tensor_value_info(o, onnx.TensorProto.UNDEFINED, None) for o in outs],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    try:
        feeds = {n: v for n, v in zip(names, inputs) if v is not None and n}
        results = ReferenceEvaluator(model).run(None, feeds)
    except Exception as exc:
        refuse(node, f"cannot evaluate this constant op ({str(exc)[:200]})")
    return [np.asarray(r) for r in results]
