"""Piecewise-approximation activations in plain ONNX (docs/pa.md): find the subgraphs that
compute offset + sum_n beta_n * s_n(x) of one tensor x and replace each by one private node,
so that the importer's walk (one chain of nodes) sees a single activation.

A term is one of
  Mul(Sign(Sub(x, v)), beta)   (or Add(x, -v); Mul optional: beta = 1; either operand order)
  Where(Greater(x, v), a, b)   (or GreaterOrEqual): beta = (a - b) / 2, offset (a + b) / 2
with scalar constants, beta > 0; the terms are summed by binary Add or Sum nodes into one
tensor. A single term is left alone (it is a binary activation the walk already reads). The
rewrite works on a copy; the model the user gave is never changed."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import onnx

from .attrs import graph_constants
from .refuse import refuse

DOMAIN = "bnn_hls.pa"
OP = "Staircase"
# a staircase of more terms is not an activation anyone trains (codes grow with N)
MAX_TERMS = 16


@dataclass(frozen=True)
class Term:
    threshold: float
    coeff: float
    offset: float
    tie: str  # "sign" | "gt" | "ge"
    nodes: tuple[onnx.NodeProto, ...]
    output: str
    sign_input: str = ""  # a Sign term's input (its 0 is a tie of the source)


class _Graph:
    def __init__(self, model: onnx.ModelProto) -> None:
        self.consts = graph_constants(model)
        self.users: dict[str, list[onnx.NodeProto]] = defaultdict(list)
        for node in model.graph.node:
            for name in node.input:
                if name:
                    self.users[name].append(node)
        self.outputs = {o.name for o in model.graph.output}

    def scalar(self, name: str) -> float | None:
        c = self.consts.get(name)
        if c is None or np.asarray(c).size != 1:
            return None
        value = float(np.asarray(c, np.float64).reshape(-1)[0])
        return value if np.isfinite(value) else None

    def only_user(self, name: str) -> onnx.NodeProto | None:
        users = self.users.get(name, [])
        if len(users) != 1 or name in self.outputs:
            return None
        return users[0]

    def other_operand(self, node: onnx.NodeProto, name: str) -> float | None:
        """The scalar constant a binary node combines with tensor `name`."""
        if len(node.input) != 2 or list(node.input).count(name) != 1:
            return None
        other = node.input[1] if node.input[0] == name else node.input[0]
        return self.scalar(other)


def _plain(node: onnx.NodeProto, *ops: str) -> bool:
    return node.domain in ("", "ai.onnx") and node.op_type in ops


def _term(g: _Graph, x: str, first: onnx.NodeProto) -> Term | None:
    """The term starting at `first`, a user of x; None when it is not one."""
    if _plain(first, "Greater", "GreaterOrEqual"):
        if len(first.input) != 2 or first.input[0] != x:
            return None
        v = g.scalar(first.input[1])
        where = g.only_user(first.output[0])
        if v is None or where is None or not _plain(where, "Where"):
            return None
        if where.input[0] != first.output[0]:
            return None
        a, b = g.scalar(where.input[1]), g.scalar(where.input[2])
        if a is None or b is None or not a > b:
            return None
        tie = "gt" if first.op_type == "Greater" else "ge"
        return Term(v, (a - b) / 2, (a + b) / 2, tie, (first, where), where.output[0])
    nodes: list[onnx.NodeProto] = []
    v = 0.0
    node = first
    if _plain(node, "Sub", "Add"):
        c = g.other_operand(node, x)
        if c is None or (node.op_type == "Sub" and node.input[0] != x):
            return None
        v = c if node.op_type == "Sub" else -c
        nodes.append(node)
        nxt = g.only_user(node.output[0])
        if nxt is None:
            return None
        node = nxt
    if not _plain(node, "Sign"):
        return None
    nodes.append(node)
    out = node.output[0]
    coeff = 1.0
    mul = g.only_user(out)
    if mul is not None and _plain(mul, "Mul"):
        c = g.other_operand(mul, out)
        if c is not None:
            coeff, out = c, mul.output[0]
            nodes.append(mul)
    if not coeff > 0:
        return None
    return Term(v, coeff, 0.0, "sign", tuple(nodes), out, node.input[0])


def _sum(g: _Graph, outputs: list[str]) -> tuple[str, list[onnx.NodeProto]] | None:
    """The tensor that Add/Sum nodes make of exactly these term outputs, and those nodes."""
    pending = set(outputs)
    used: list[onnx.NodeProto] = []
    while len(pending) > 1:
        progress = False
        for name in sorted(pending):
            node = g.only_user(name)
            if node is None or not _plain(node, "Add", "Sum"):
                return None
            if all(i in pending for i in node.input) and len(node.input) >= 2:
                pending -= set(node.input)
                pending.add(node.output[0])
                used.append(node)
                progress = True
                break
        if not progress:
            return None
    return next(iter(pending)), used


def rewrite_staircases(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of the model with every staircase activation as one node (the model itself if
    there is none)."""
    g = _Graph(model)
    found: list[tuple[str, str, list[Term], list[onnx.NodeProto]]] = []
    for x, users in g.users.items():
        if len(users) < 2 or x in g.consts:
            continue
        maybe = [_term(g, x, u) for u in users]
        terms = [t for t in maybe if t is not None]
        if len(terms) != len(maybe):
            continue
        summed = _sum(g, [t.output for t in terms])
        if summed is None:
            continue
        y, adds = summed
        if len(terms) > MAX_TERMS:
            refuse(
                users[0],
                f"a piecewise-approximation activation of {len(terms)} terms; at most "
                f"{MAX_TERMS} are supported (codes of at most 5 bits)",
                f"approximate with at most {MAX_TERMS} terms",
            )
        found.append((x, y, terms, adds))
    if not found:
        return model
    out = onnx.ModelProto()
    out.CopyFrom(model)
    drop: set[int] = set()
    by_output = {id(n): i for i, n in enumerate(model.graph.node)}
    new_nodes: dict[int, onnx.NodeProto] = {}
    for k, (x, y, group, adds) in enumerate(found):
        ts = sorted(group, key=lambda t: t.threshold)
        node = onnx.helper.make_node(
            OP,
            [x],
            [y],
            name=f"staircase_{k}",
            domain=DOMAIN,
            thresholds=[t.threshold for t in ts],
            coeffs=[t.coeff for t in ts],
            ties=[t.tie for t in ts],
            offset=float(sum(t.offset for t in ts)),
        )
        # the Sign terms' inputs: where the source decides between two values (verify)
        signs = [t.sign_input for t in ts if t.sign_input]
        if signs:
            node.attribute.append(onnx.helper.make_attribute("sign_inputs", signs))
        members = [n for t in ts for n in t.nodes] + adds
        idx = [by_output[id(n)] for n in members]
        drop.update(idx)
        new_nodes[max(idx)] = node  # where the sum was: after everything x needs
    del out.graph.node[:]
    for i, n in enumerate(model.graph.node):
        if i in new_nodes:
            out.graph.node.append(new_nodes[i])
        elif i not in drop:
            out.graph.node.append(n)
    if not any(o.domain == DOMAIN for o in out.opset_import):
        out.opset_import.append(onnx.helper.make_opsetid(DOMAIN, 1))
    return out
