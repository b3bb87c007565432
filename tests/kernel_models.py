"""Numpy models of single kernels as stream words, shared by the HLS (g++) and RTL (Verilator)
kernel tests: each returns the input words, the expected output words and the widths."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bnn_hls import golden, ir
from bnn_hls.packing import lanes_to_words


def pack_elems(values: np.ndarray, bits: int) -> int:
    """Elements (LSB first) into one integer word, two's complement fields."""
    return lanes_to_words(np.asarray(values).reshape(1, -1), bits)[0]


@dataclass
class Words:
    inputs: list[int]
    expected: list[int]
    in_width: int
    out_width: int


@dataclass
class WindowCfg:
    ih: int
    iw: int
    c: int
    simd: int
    elem: int
    kh: int
    kw: int
    sh: int
    sw: int
    pads: tuple[int, int, int, int]
    pad_ones: int


WINDOW_CONFIGS = [
    WindowCfg(5, 5, 4, 2, 1, 3, 3, 1, 1, (1, 1, 1, 1), 0),
    WindowCfg(6, 7, 3, 3, 8, 3, 2, 2, 1, (0, 1, 1, 0), 0),
    WindowCfg(4, 4, 6, 1, 1, 2, 2, 2, 2, (0, 0, 0, 0), 1),
    WindowCfg(7, 5, 2, 2, 1, 3, 3, 2, 2, (1, 1, 1, 1), 1),
    WindowCfg(3, 3, 5, 5, 1, 3, 3, 1, 1, (2, 2, 2, 2), 0),
    WindowCfg(5, 6, 8, 4, 8, 1, 1, 2, 3, (0, 0, 0, 0), 0),
]


def window_words(cfg: WindowCfg, rng: np.random.Generator, images: int = 2) -> Words:
    shape = (images, cfg.ih, cfg.iw, cfg.c)
    x = rng.integers(0, 2, shape) if cfg.elem == 1 else rng.integers(-128, 128, shape)
    pad_elem = (1 if cfg.pad_ones else 0) if cfg.elem == 1 else 0
    t, left, b, r = cfg.pads
    xp = np.pad(x, ((0, 0), (t, b), (left, r), (0, 0)), constant_values=pad_elem)
    cols = golden.im2col(xp, (cfg.kh, cfg.kw), (cfg.sh, cfg.sw))
    width = cfg.simd * cfg.elem
    return Words(
        [pack_elems(g, cfg.elem) for g in x.reshape(-1, cfg.simd)],
        [pack_elems(g, cfg.elem) for g in cols.reshape(-1, cfg.simd)],
        width,
        width,
    )


POOL_CONFIGS = [(4, 4, 8, 4, 2), (5, 7, 6, 3, 2), (6, 6, 4, 4, 3), (4, 4, 2, 1, 2)]


def pool_words(
    cfg: tuple[int, int, int, int, int], rng: np.random.Generator, images: int = 2
) -> tuple[Words, np.ndarray]:
    """Words and the AND mask (bool per channel)."""
    ih, iw, c, pe, k = cfg
    x = rng.integers(0, 2, (images, ih, iw, c))
    and_ch = rng.integers(0, 2, c).astype(bool)
    layer = ir.MaxPool(
        "p", (ih, iw, c), (ih // k, iw // k, c), kernel=(k, k), stride=(k, k), and_channels=and_ch
    )
    want = golden.maxpool(layer, x)
    return Words(
        [pack_elems(g, 1) for g in x.reshape(-1, pe)],
        [pack_elems(g, 1) for g in want.reshape(-1, pe)],
        pe,
        pe,
    ), and_ch


def convert_words(in_w: int, out_w: int, words: int, rng: np.random.Generator) -> Words:
    """Gather (out_w = k * in_w) or split (in_w = k * out_w) of a random bit stream."""
    total_bits = in_w * words
    bits = rng.integers(0, 2, total_bits)
    return Words(
        [pack_elems(g, 1) for g in bits.reshape(-1, in_w)],
        [pack_elems(g, 1) for g in bits.reshape(-1, out_w)],
        in_w,
        out_w,
    )


@dataclass
class MvtuData:
    layer: ir.Dense
    thresholds: np.ndarray  # per output channel, on the +-1 accumulator
    acc_bits: int
    in_bits: int
    words: Words


def mvtu_data(
    k: int,
    o: int,
    simd: int,
    pe: int,
    int_in: bool,
    scores: bool,
    rng: np.random.Generator,
    images: int = 3,
) -> MvtuData:
    """A random K x O binary layer, inputs, thresholds, and the expected output words."""
    w_bits = rng.integers(0, 2, (o, k)).astype(np.uint8)
    layer = ir.Dense(
        "d",
        (k,),
        (o,),
        weights=w_bits,
        input_kind="int" if int_in else "bit",
        input_range=(-128, 127),
    )
    in_bits = 8 if int_in else 1
    x = rng.integers(-128, 128, (images, k)) if int_in else rng.integers(0, 2, (images, k))
    acc = golden.dense(layer, x)
    lo, hi = layer.out_range()
    thresholds = rng.integers(lo, hi + 2, o)
    inputs = [pack_elems(g, in_bits) for g in x.reshape(-1, simd)]
    if scores:
        expected = [pack_elems(g, 32) for g in acc.reshape(-1, pe)]
    else:
        expected = [pack_elems(g, 1) for g in (acc >= thresholds).astype(int).reshape(-1, pe)]
    out_w = pe * 32 if scores else pe
    return MvtuData(
        layer,
        thresholds,
        ir.signed_bits(lo, hi),
        in_bits,
        Words(inputs, expected, simd * in_bits, out_w),
    )


def bases_identity(layer: ir.Linear, in_bits: int, rng: np.random.Generator, n: int = 8) -> None:
    """The MVTU over bases, modelled pair by pair as the kernels compute it (popcounts of
    w_m & (x_n ^ sign)), plus the channel offsets, equals the layer's integer dot product on
    random input codes, in both the plain and the sign-magnitude decomposition."""
    from bnn_hls.dataflow.bases import X_STEPS, decompose

    w = layer.int_weights().reshape(layer.out_channels, -1)
    k = w.shape[1]
    if layer.input_kind == "bit":
        codes = rng.integers(0, 2, (n, k))
        values = codes * 2 - 1
    else:
        if layer.mapped_input:
            lo, hi = layer.input_code_lo, layer.input_code_lo + layer.input_levels.size - 1
        else:
            lo, hi = layer.input_range
        codes = rng.integers(lo, hi + 1, (n, k))
        values = layer.input_values(codes)
    want = values.astype(np.int64) @ w.T
    for offsets in (False, True):
        bases = decompose(layer, in_bits, offsets=offsets)
        wbits = bases.weight_bits(w).astype(np.int64)  # (O, K, stored)
        m_count = bases.weight_bases
        sign = wbits[..., m_count] if bases.weight_sign else np.zeros_like(w)
        w_bases = [np.ones_like(w)] + [wbits[..., m] for m in range(m_count)]
        x_bases = [np.ones_like(codes)]
        for b in range(bases.input_bases):
            if bases.input_form == X_STEPS:
                x_bases.append((codes >= bases.input_lo + b + 1).astype(np.int64))
            else:
                x_bases.append((codes >> b) & 1)
        coeffs = bases.pair_coeffs()
        got = np.zeros_like(want)
        for m, wb in enumerate(w_bases):
            for j, xb in enumerate(x_bases):
                if coeffs[m, j]:
                    bits = wb[None, :, :] & (xb[:, None, :] ^ sign[None, :, :])
                    got += coeffs[m, j] * bits.sum(-1)
        offs = bases.channel_offsets(layer)
        assert np.array_equal(got + offs[None, :], want), (offsets, bases)
