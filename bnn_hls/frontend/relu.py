"""Brevitas' QuantReLU exports as Relu followed by an unsigned QONNX Quant. With a zero point of
0 that Quant already maps every negative input to code 0 (any rounding of a negative number is
at most 0, and the clip's low end is 0), so the Relu changes no output: it is dropped, on a
copy, before the importer's walk. Any other Relu is left for the walk to refuse."""

from __future__ import annotations

import logging
from collections import defaultdict

import numpy as np
import onnx
from onnx import helper

from .attrs import graph_constants
from .qonnx_ops import QONNX_DOMAINS

log = logging.getLogger(__name__)


def _unsigned_zero_point_quant(node: onnx.NodeProto, consts: dict[str, np.ndarray]) -> bool:
    if node.op_type != "Quant" or node.domain not in QONNX_DOMAINS or len(node.input) < 3:
        return False
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    zero_point = consts.get(node.input[2])
    scale = consts.get(node.input[1])
    return (
        attrs.get("signed", 1) == 0
        and zero_point is not None
        and bool(np.all(np.asarray(zero_point) == 0))
        and scale is not None
        and bool(np.all(np.asarray(scale) > 0))
    )


def drop_relus_before_unsigned_quants(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model without the Relus whose only reader is an unsigned Quant with zero point 0
    (a copy when there is any; the model the user gave is never changed)."""
    readers: dict[str, list[onnx.NodeProto]] = defaultdict(list)
    for node in model.graph.node:
        for name in node.input:
            if name:
                readers[name].append(node)
    outputs = {o.name for o in model.graph.output}
    consts = graph_constants(model)
    redundant = [
        node
        for node in model.graph.node
        if node.op_type == "Relu"
        and node.domain in ("", "ai.onnx")
        and len(node.input) == 1
        and len(node.output) == 1
        and node.output[0] not in outputs
        and len(readers[node.output[0]]) == 1
        and readers[node.output[0]][0].input[0] == node.output[0]
        and _unsigned_zero_point_quant(readers[node.output[0]][0], consts)
    ]
    if not redundant:
        return model
    out = onnx.ModelProto()
    out.CopyFrom(model)
    dropped = {n.output[0]: n.input[0] for n in redundant}
    kept = [n for n in out.graph.node if not (n.op_type == "Relu" and n.output[0] in dropped)]
    for node in kept:
        for i, name in enumerate(node.input):
            if name in dropped:
                node.input[i] = dropped[name]
    del out.graph.node[:]
    out.graph.node.extend(kept)
    log.debug("dropped %d Relu before an unsigned Quant (QuantReLU)", len(redundant))
    return out
