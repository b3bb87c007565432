"""QONNX custom ops (BipolarQuant, Quant): numpy reference implementations and a rewrite into
standard ONNX ops, so onnxruntime can execute a QONNX file for verification.

Semantics (QONNX): BipolarQuant(x, scale) = where(x >= 0, +1, -1) * scale.
Quant(x, scale, zeropt, bitwidth) = (clip(round(x / scale + zeropt), qmin, qmax) - zeropt) * scale
with qmin/qmax from signed/narrow/bitwidth and round per rounding_mode.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..ir import quant_range
from ..packing import ROUNDING_MODES, round_mode
from .attrs import attr_float, attr_int, attr_str, constant_of
from .refuse import SUPPORTED_QONNX, refuse

QONNX_DOMAINS = ("qonnx.custom_op.general", "finn.custom_op.general", "onnx.brevitas")


def bipolar_quant(x: np.ndarray, scale: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return (np.where(x >= 0, np.float32(1), np.float32(-1)) * np.asarray(scale, np.float32)).astype(
        np.float32
    )


def quant(
    x: np.ndarray,
    scale: np.ndarray,
    zeropt: np.ndarray,
    bits: int,
    signed: bool,
    narrow: bool,
    mode: str,
) -> np.ndarray:
    x = np.asarray(x, np.float32)
    scale = np.asarray(scale, np.float32)
    zeropt = np.asarray(zeropt, np.float32)
    lo, hi = quant_range(bits, signed, narrow)
    q = round_mode((x / scale + zeropt).astype(np.float32), mode)
    q = np.clip(q, np.float32(lo), np.float32(hi))
    return ((q - zeropt) * scale).astype(np.float32)


def _tensor_ranks(
    model: onnx.ModelProto, nodes: list[onnx.NodeProto], inits: list[onnx.TensorProto]
) -> dict[str, int]:
    """The rank of every tensor ONNX shape inference can tell in `model`'s graph with `nodes`
    (the standard ops that replace the QONNX nodes so far, and what came before them)."""
    graph = helper.make_graph(
        nodes,
        "ranks",
        list(model.graph.input),
        list(model.graph.output),
        [*model.graph.initializer, *inits],
    )
    probe = helper.make_model(graph, opset_imports=list(model.opset_import))
    probe.ir_version = model.ir_version
    try:
        inferred = onnx.shape_inference.infer_shapes(probe, data_prop=True)
    except Exception:  # a graph the inference rejects: ranks from what the file declares
        inferred = probe
    g = inferred.graph
    return {
        vi.name: len(vi.type.tensor_type.shape.dim)
        for vi in [*g.input, *g.value_info, *g.output]
        if vi.type.tensor_type.HasField("shape")
    }


def tie_distance_tensor(node: onnx.NodeProto) -> str:
    """The tensor the rewrite adds for a MultiThreshold: each element's distance to the
    nearest of its channel's thresholds (where the source's output changes; verify counts
    the inputs that put an element on a threshold as ties)."""
    return f"{node.output[0]}__bnnhls_tie_distance"


def _round_half_even_nodes(
    x: str, out: str, const: Callable[[np.ndarray], str], tmp: Callable[[], str]
) -> list[onnx.NodeProto]:
    """Round half to even from ops older than opset 11's Round: r = floor(x + 1/2), less 1
    where x + 1/2 is a whole number and r is odd."""
    half, r, frac, up, whole, r2, fl2, twice, odd, fix = (tmp() for _ in range(10))
    return [
        helper.make_node("Add", [x, const(np.float32(0.5))], [half]),
        helper.make_node("Floor", [half], [r]),
        helper.make_node("Sub", [half, r], [frac]),
        helper.make_node("Ceil", [frac], [up]),  # 0 where x + 1/2 is whole, else 1
        helper.make_node("Sub", [const(np.float32(1)), up], [whole]),
        helper.make_node("Div", [r, const(np.float32(2))], [r2]),
        helper.make_node("Floor", [r2], [fl2]),
        helper.make_node("Mul", [fl2, const(np.float32(2))], [twice]),
        helper.make_node("Sub", [r, twice], [odd]),  # 1 where r is odd
        helper.make_node("Mul", [odd, whole], [fix]),
        helper.make_node("Sub", [r, fix], [out]),
    ]


def _at_least(x: str, t: str, tmp: Callable[[], str]) -> tuple[list[onnx.NodeProto], str]:
    """x >= t as Not(Less(x, t)): the same for every float, NaN aside, and in every opset
    from 9 (GreaterOrEqual needs 12)."""
    less, ge = tmp(), tmp()
    return [
        helper.make_node("Less", [x, t], [less]),
        helper.make_node("Not", [less], [ge]),
    ], ge


def _multithreshold_nodes(
    node: onnx.NodeProto,
    consts: dict[str, np.ndarray],
    ranks: dict[str, int],
    const: Callable[[np.ndarray], str],
    tmp: Callable[[], str],
) -> list[onnx.NodeProto]:
    """MultiThreshold as out_scale * sum_n float(x >= T[:, n]) + out_bias, T's column n shaped
    to broadcast along the op's channel axis (1 of a 2-D or NCHW tensor, 3 of NHWC, the last
    otherwise), and the tie-distance tensor min_n |x - T[:, n]|."""
    x, out = node.input[0], node.output[0]
    if node.input[1] not in consts:
        refuse(node, "the thresholds must be a constant (an initializer)")
    if x not in ranks:
        refuse(node, "the rank of its input is unknown (ONNX shape inference could not tell)")
    t = np.asarray(consts[node.input[1]], np.float32)
    rank = ranks[x]
    axis = (3 if attr_str(node, "data_layout", "NCHW") == "NHWC" else 1) if rank == 4 else 1
    if rank not in (2, 4):
        axis = rank - 1
    nodes: list[onnx.NodeProto] = []
    counts, distances = [], []
    for n in range(t.shape[1]):
        column = const(t[:, n].reshape((t.shape[0],) + (1,) * (rank - 1 - axis)))
        ge_nodes, ge = _at_least(x, column, tmp)
        count, diff, dist = tmp(), tmp(), tmp()
        counts.append(count)
        distances.append(dist)
        nodes += [
            *ge_nodes,
            helper.make_node("Cast", [ge], [count], to=onnx.TensorProto.FLOAT),
            helper.make_node("Sub", [x, column], [diff]),
            helper.make_node("Abs", [diff], [dist]),
        ]
    nodes.append(helper.make_node("Min", distances, [tie_distance_tensor(node)]))
    total, scaled = tmp(), tmp()
    scale = np.float32(attr_float(node, "out_scale", 1.0))
    bias = np.float32(attr_float(node, "out_bias", 0.0))
    nodes += [
        helper.make_node("Sum", counts, [total]),
        helper.make_node("Mul", [total, const(scale)], [scaled]),
        helper.make_node("Add", [scaled, const(bias)], [out]),
    ]
    return nodes


def to_standard_onnx(
    model: onnx.ModelProto, known_ranks: dict[str, int] | None = None
) -> onnx.ModelProto:
    """Replace BipolarQuant, Quant and MultiThreshold nodes by standard ONNX ops (same
    float32 results). known_ranks: the ranks of MultiThreshold inputs where the caller knows
    them (the importer does: SourceInfo.tensor_ranks); others come from shape inference."""
    from ..errors import ModelError

    model = onnx.ModelProto.FromString(model.SerializeToString())
    inits = {t.name: t for t in model.graph.initializer}
    consts: dict[str, np.ndarray] = {k: numpy_helper.to_array(v) for k, v in inits.items()}
    for node in model.graph.node:
        if node.op_type == "Constant":
            try:
                consts[node.output[0]] = constant_of(node)
            except ModelError:
                continue  # a string or sparse constant: no Quant reads it
    new_nodes: list[onnx.NodeProto] = []
    extra_inits: list[onnx.TensorProto] = []
    counter = [0]

    def const(value: np.ndarray) -> str:
        counter[0] += 1
        name = f"bnnhls_const_{counter[0]}"
        extra_inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def tmp() -> str:
        counter[0] += 1
        return f"bnnhls_tmp_{counter[0]}"

    onnx_opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
    for node in model.graph.node:
        if node.domain not in QONNX_DOMAINS:
            new_nodes.append(node)
            continue
        x, out = node.input[0], node.output[0]
        if node.op_type == "BipolarQuant":
            ge_nodes, ge = _at_least(x, const(np.float32(0)), tmp)
            sign = tmp()
            new_nodes += [
                *ge_nodes,
                helper.make_node(
                    "Where", [ge, const(np.float32(1)), const(np.float32(-1))], [sign]
                ),
                helper.make_node("Mul", [sign, node.input[1]], [out]),
            ]
        elif node.op_type == "MultiThreshold":
            ranks = dict(known_ranks or {})
            if x not in ranks:
                ranks = _tensor_ranks(model, new_nodes, extra_inits)
            new_nodes += _multithreshold_nodes(node, consts, ranks, const, tmp)
        elif node.op_type == "Quant":
            if node.input[3] not in consts:
                refuse(node, "the bit width must be a constant")
            bits = int(np.asarray(consts[node.input[3]]).reshape(-1)[0])
            signed, narrow = bool(attr_int(node, "signed", 1)), bool(attr_int(node, "narrow", 0))
            mode = attr_str(node, "rounding_mode", "ROUND")
            lo, hi = quant_range(bits, signed, narrow)
            rop = {"ROUND": "Round", "FLOOR": "Floor", "CEIL": "Ceil"}.get(mode)
            div, add, rnd, clip, sub = tmp(), tmp(), tmp(), tmp(), tmp()
            new_nodes += [
                helper.make_node("Div", [x, node.input[1]], [div]),
                helper.make_node("Add", [div, node.input[2]], [add]),
            ]
            if rop == "Round" and onnx_opset < 11:
                new_nodes += _round_half_even_nodes(add, rnd, const, tmp)
            elif rop is not None:
                new_nodes.append(helper.make_node(rop, [add], [rnd]))
            elif mode == "ROUND_TO_ZERO":
                s_, a_, f_ = tmp(), tmp(), tmp()
                new_nodes += [
                    helper.make_node("Sign", [add], [s_]),
                    helper.make_node("Abs", [add], [a_]),
                    helper.make_node("Floor", [a_], [f_]),
                    helper.make_node("Mul", [s_, f_], [rnd]),
                ]
            else:
                refuse(
                    node,
                    f"rounding mode {mode!r} is not supported",
                    f"use one of {', '.join(ROUNDING_MODES)}",
                )
            if onnx_opset >= 11:
                clip_nodes = [
                    helper.make_node(
                        "Clip", [rnd, const(np.float32(lo)), const(np.float32(hi))], [clip]
                    )
                ]
            else:  # Clip took its bounds as attributes before opset 11
                low = tmp()
                clip_nodes = [
                    helper.make_node("Max", [rnd, const(np.float32(lo))], [low]),
                    helper.make_node("Min", [low, const(np.float32(hi))], [clip]),
                ]
            new_nodes += [
                *clip_nodes,
                helper.make_node("Sub", [clip, node.input[2]], [sub]),
                helper.make_node("Mul", [sub, node.input[1]], [out]),
            ]
        else:
            refuse(node, "this QONNX op is not supported", SUPPORTED_QONNX)
    del model.graph.node[:]
    model.graph.node.extend(new_nodes)
    model.graph.initializer.extend(extra_inits)
    keep = [o for o in model.opset_import if o.domain not in QONNX_DOMAINS]
    del model.opset_import[:]
    model.opset_import.extend(keep)
    if not any(o.domain in ("", "ai.onnx") for o in keep):
        model.opset_import.append(helper.make_opsetid("", 13))
    return model
