"""The threshold load stream: which tables of a pipeline the host rewrites at run time, in
which order, and the values of a compiled model in that order (docs/thresholds.md).

Every stage whose threshold memory is writable (Fold.thresholds == "writable") owns one table
of `depth` words of `lanes` lanes (its Memory "thresholds": word d, lane l). The load stream
is the tables in pipeline order, each word by word and lane by lane within a word; the RTL
top gives table i the values [offset, offset + depth * lanes) and the HLS input stage sends
them to its stage in the same order. packing.pack_load_values turns the values into input
words."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import ir
from ..errors import quote_name
from .plan import Plan
from .stage import Stage


@dataclass(frozen=True)
class LoadTable:
    stage: str  # the stage's generated name
    layer: str  # the IR layer it computes
    depth: int  # words (output folds)
    lanes: int  # values per word
    bits: int  # two's-complement width the hardware keeps of each value
    offset: int  # index of its first value in the load stream

    @property
    def values(self) -> int:
        return self.depth * self.lanes

    def value_range(self) -> tuple[int, int]:
        return -(1 << (self.bits - 1)), (1 << (self.bits - 1)) - 1


def load_tables(plan: Plan) -> list[LoadTable]:
    tables: list[LoadTable] = []
    offset = 0
    for st in plan.stages:
        mem = st.writable_table()
        if mem is None:
            continue
        tables.append(
            LoadTable(st.name, st.layer_name, mem.depth, mem.lanes, mem.lane_bits, offset)
        )
        offset += mem.depth * mem.lanes
    return tables


def load_values(plan: Plan) -> np.ndarray:
    """The compiled model's thresholds in load-stream order, int64."""
    parts = []
    for st in plan.stages:
        mem = st.writable_table()
        if mem is not None:
            parts.append(np.asarray(mem.values, np.int64).reshape(-1))
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def describe(plan: Plan) -> dict[str, Any]:
    """The load stream's layout for design.json / model.json."""
    tables = load_tables(plan)
    return {
        "values": sum(t.values for t in tables),
        "tables": [
            {
                "stage": t.stage,
                "layer": t.layer,
                "depth": t.depth,
                "lanes": t.lanes,
                "bits": t.bits,
                "offset": t.offset,
            }
            for t in tables
        ],
    }


def fixed_digest(st: Stage) -> str:
    """A hash of everything of a stage that a threshold load cannot change: its weights (the
    signs), and every memory that is not its writable table (weights as laid out, border
    corrections, constant thresholds, pooling masks)."""
    h = hashlib.sha256()
    layer = st.layer
    if isinstance(layer, ir.Linear):
        for arr in (layer.weights, layer.weight_levels):
            if arr is not None:
                data = np.ascontiguousarray(np.asarray(arr, np.int64))
                h.update(str(data.shape).encode() + data.tobytes())
    for mem in st.memories():
        if not mem.writable:
            h.update(mem.key.encode() + b"\0" + ",".join(map(str, mem.words())).encode() + b"\0")
    return h.hexdigest()[:32]


def hardware_fingerprint(plan: Plan) -> list[dict[str, Any]]:
    """Per stage, in order: its name, layer, kernel parameters and fixed_digest. Two models
    whose fingerprints at one folding are equal run on the same accelerator; only their load
    streams (and host-side float ops) differ."""
    return [
        {
            "stage": st.name,
            "layer": st.layer_name,
            "kind": st.kind,
            "params": st.params(),
            "fixed": fixed_digest(st),
        }
        for st in plan.stages
    ]


def first_difference(deployed: list[dict[str, Any]], new: list[dict[str, Any]]) -> str | None:
    """What first differs between a deployed design's fingerprint (read from its model.json,
    so quoted when printed) and a new one (None: the same accelerator)."""
    for old, cur in zip(deployed, new):
        old = old if isinstance(old, dict) else {}
        if (old.get("stage"), old.get("kind")) != (cur["stage"], cur["kind"]):
            return (
                f"stage {cur['stage']} ({cur['kind']}) stands where the deployed design has "
                f"{quote_name(str(old.get('stage')), 40)}"
            )
        raw = old.get("params")
        before: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if before != cur["params"]:
            keys = [k for k in cur["params"] if before.get(k) != cur["params"][k]]
            detail = ", ".join(
                f"{k} {quote_name(str(before.get(k)), 12)} -> {cur['params'][k]}" for k in keys[:4]
            )
            return f"layer {cur['layer']}: its {cur['kind']} stage differs ({detail})"
        if old.get("fixed") != cur["fixed"]:
            return (
                f"layer {cur['layer']}: its weights (signs) or constant tables differ from the "
                "deployed model's"
            )
    if len(deployed) != len(new):
        return f"the deployed design has {len(deployed)} stages, the new model {len(new)}"
    return None
