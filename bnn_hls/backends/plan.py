"""The streaming pipeline, described once for every backend: stages (sliding window, MVTU,
max-pool, width converters, I/O) connected by streams with known word formats, and the
parameters each stage needs, already laid out the way the kernels read them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import golden, ir
from ..folding import Folding
from .share_schedule import cached_schedule, share_tables

SCORE_BITS = 32


@dataclass
class Stream:
    name: str
    elems: int  # elements per word
    bits: int  # bits per element
    words_per_image: int

    @property
    def width(self) -> int:
        return self.elems * self.bits


@dataclass
class Stage:
    kind: str  # "input", "window", "mvtu", "shared", "pool", "gather", "split", "output"
    name: str
    src: Stream
    dst: Stream
    layer: ir.Layer | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class BorderTables:
    """Zero-padding correction of a binary conv, compressed into row and column classes."""

    row_class: np.ndarray  # (OH,) uint8
    col_class: np.ndarray  # (OW,) uint8
    correction: np.ndarray  # (row classes, col classes, O) int32


@dataclass
class Plan:
    stages: list[Stage]
    streams: list[Stream]
    input_stream: Stream
    classes: int
    in_axi_bits: int

    def mvtus(self) -> list[Stage]:
        return [s for s in self.stages if s.kind == "mvtu"]

    def linear_stages(self) -> list[Stage]:
        """The stages that compute linear layers: MVTUs and result-sharing units."""
        return [s for s in self.stages if s.kind in ("mvtu", "shared")]


def axi_width(bits: int) -> int:
    """AXI-Stream width for `bits` of data: a power of two from 8 up, as the AXI DMA takes."""
    width = 8
    while width < bits:
        width *= 2
    return width


def border_tables(layer: ir.Conv) -> BorderTables | None:
    """None when no correction is needed (no zero padding, or integer inputs)."""
    if layer.input_kind != "bit" or layer.pad_value != 0 or not any(layer.pads):
        return None
    full = golden.border_correction(layer)  # (OH, OW, O)
    oh, ow, _ = layer.out_shape
    h, w, _ = layer.in_shape
    kh, kw = layer.kernel
    t, left, _, _ = layer.pads

    def classes(n_out: int, stride: int, pad: int, k: int, size: int) -> np.ndarray:
        keys = [tuple(0 <= o * stride - pad + i < size for i in range(k)) for o in range(n_out)]
        unique = {key: idx for idx, key in enumerate(dict.fromkeys(keys))}
        return np.array([unique[key] for key in keys], np.uint8)

    rows = classes(oh, layer.stride[0], t, kh, h)
    cols = classes(ow, layer.stride[1], left, kw, w)
    table = np.zeros((rows.max() + 1, cols.max() + 1, layer.out_channels), np.int32)
    for oy in range(oh):
        for ox in range(ow):
            table[rows[oy], cols[ox]] = full[oy, ox]
    # the table must reproduce the full correction exactly
    assert np.array_equal(table[rows][:, cols], full)
    return BorderTables(rows, cols, table)


def weight_words(layer: ir.Linear, pe: int, simd: int) -> np.ndarray:
    """(PE, NF * SF, chunks) uint64: row o = nf * PE + p, columns [sf * SIMD, (sf + 1) * SIMD)."""
    o, k = layer.out_channels, layer.fan_in
    nf, sf = o // pe, k // simd
    chunks = -(-simd // 64)
    bits = layer.weights.reshape(o, k).astype(np.uint8)
    tiles = bits.reshape(nf, pe, sf, simd).transpose(1, 0, 2, 3).reshape(pe, nf * sf, simd)
    padded = np.zeros((pe, nf * sf, chunks * 64), np.uint8)
    padded[..., :simd] = tiles
    packed = np.packbits(padded, axis=-1, bitorder="little")
    return np.ascontiguousarray(packed).view("<u8").reshape(pe, nf * sf, chunks)


def threshold_table(thresholds: np.ndarray | None, o: int, pe: int) -> np.ndarray:
    """(PE, NF) int32: T[p][nf] = thresholds[nf * PE + p]."""
    if thresholds is None:
        return np.zeros((pe, o // pe), np.int32)
    return thresholds.astype(np.int32).reshape(o // pe, pe).T.copy()


def build_plan(model: ir.Model, folding: Folding) -> Plan:
    layers = model.layers
    first = model.linear_layers()[0]
    inq = model.input
    in_bits = inq.out_bits()
    simd0 = folding[first.name].simd
    elements = int(np.prod(inq.out_shape))
    cur = Stream("s_in", simd0, in_bits, elements // simd0)
    streams = [cur]
    stages: list[Stage] = []
    in_axi_bits = axi_width(cur.width)
    stages.append(
        Stage(
            "input",
            "input",
            Stream("axis_in", simd0, in_bits, cur.words_per_image),
            cur,
            params={"axi_bits": in_axi_bits},
        )
    )
    counter = [0]

    def new_stream(elems: int, bits: int, per_image_elems: int) -> Stream:
        counter[0] += 1
        s = Stream(f"s{counter[0]}", elems, bits, per_image_elems // elems)
        streams.append(s)
        return s

    def convert_to(src: Stream, elems: int) -> Stream:
        if src.elems == elems:
            return src
        per_image = src.elems * src.words_per_image
        dst = new_stream(elems, src.bits, per_image)
        kind = "gather" if elems > src.elems else "split"
        stages.append(Stage(kind, f"convert_{dst.name}", src, dst))
        return dst

    i = 1
    while i < len(layers):
        layer = layers[i]
        nxt = layers[i + 1] if i + 1 < len(layers) else None
        if isinstance(layer, ir.Linear):
            fold = folding[layer.name]
            elem_bits = 1 if layer.input_kind == "bit" else cur.bits
            cur = convert_to(cur, fold.simd)
            if isinstance(layer, ir.Conv):
                oh, ow, _ = layer.out_shape
                window = new_stream(fold.simd, elem_bits, layer.fan_in * oh * ow)
                pad_word = (1 << window.width) - 1 if layer.pad_value == 1 else 0
                stages.append(
                    Stage(
                        "window", f"{layer.name}_window", cur, window, layer, {"pad_word": pad_word}
                    )
                )
                cur = window
                pixels = oh * ow
            else:
                pixels = 1
            scores = not isinstance(nxt, ir.Threshold)
            out_bits = SCORE_BITS if scores else 1
            dst = new_stream(fold.pe, out_bits, layer.out_channels * pixels)
            border = border_tables(layer) if isinstance(layer, ir.Conv) else None
            thresholds = nxt.thresholds if isinstance(nxt, ir.Threshold) else None
            lo, hi = layer.out_range()
            if fold.kernel == "shared":
                assert isinstance(layer, ir.Conv) and thresholds is not None
                sched = cached_schedule(layer, fold.pe)
                tables = share_tables(
                    sched, thresholds, None if border is None else border.correction
                )
                stages.append(
                    Stage(
                        "shared",
                        f"{layer.name}_shared",
                        cur,
                        dst,
                        layer,
                        {
                            "pe": fold.pe,
                            "simd": fold.simd,
                            "schedule": sched,
                            "tables": tables,
                            "border": border,
                            "pixels": pixels,
                            "scores": False,
                            "in_bits": 1,
                            "acc_bits": ir.signed_bits(lo, hi),
                        },
                    )
                )
                cur = dst
                i += 2
                continue
            stages.append(
                Stage(
                    "mvtu",
                    f"{layer.name}_mvtu",
                    cur,
                    dst,
                    layer,
                    {
                        "pe": fold.pe,
                        "simd": fold.simd,
                        "rom": fold.rom,
                        "scores": scores,
                        "border": border,
                        "weights": weight_words(layer, fold.pe, fold.simd),
                        "thresholds": threshold_table(thresholds, layer.out_channels, fold.pe),
                        "acc_bits": ir.signed_bits(lo, hi),
                        "in_bits": elem_bits,
                        "pixels": pixels,
                    },
                )
            )
            cur = dst
            i += 2 if thresholds is not None else 1
            continue
        if isinstance(layer, ir.MaxPool):
            if layer.kernel != layer.stride or layer.kernel[0] != layer.kernel[1]:
                from ..errors import ModelError

                raise ModelError(
                    f"layer {layer.name}: the hardware max-pool needs a square "
                    "window with stride equal to its size"
                )
            c = layer.in_shape[-1]
            dst = new_stream(cur.elems, 1, int(np.prod(layer.out_shape)))
            mask = layer.and_channels.astype(np.uint8).reshape(c // cur.elems, cur.elems)
            stages.append(Stage("pool", f"{layer.name}", cur, dst, layer, {"and_mask": mask}))
            cur = dst
        elif isinstance(layer, ir.Scores):
            stages.append(
                Stage(
                    "output", "output", cur, Stream("axis_out", 1, 32, layer.out_shape[-1]), layer
                )
            )
        i += 1
    return Plan(stages, streams, streams[0], model.scores.out_shape[-1], in_axi_bits)
