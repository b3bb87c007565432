"""The golden model's two arithmetic paths (bit-packed XNOR-popcount with border correction,
and exact +-1 float products) against each other and against a naive loop."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bnn_hls import golden, ir


def naive_conv(
    x_pm1: np.ndarray,
    w_pm1: np.ndarray,
    stride: tuple[int, int],
    pads: tuple[int, int, int, int],
    pad_value: float,
) -> np.ndarray:
    n, h, w, c = x_pm1.shape
    o, kh, kw, _ = w_pm1.shape
    t, left, b, r = pads
    xp = np.full((n, h + t + b, w + left + r, c), pad_value, np.int64)
    xp[:, t : t + h, left : left + w] = x_pm1
    oh = (h + t + b - kh) // stride[0] + 1
    ow = (w + left + r - kw) // stride[1] + 1
    out = np.zeros((n, oh, ow, o), np.int64)
    for y in range(oh):
        for x in range(ow):
            patch = xp[:, y * stride[0] : y * stride[0] + kh, x * stride[1] : x * stride[1] + kw]
            out[:, y, x] = np.einsum("nhwc,ohwc->no", patch, w_pm1)
    return out


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    h=st.integers(1, 7),
    w=st.integers(1, 7),
    c=st.integers(1, 70),
    o=st.integers(1, 9),
    k=st.integers(1, 3),
    stride=st.integers(1, 2),
    pad=st.integers(0, 2),
    pad_value=st.sampled_from([0, 1, -1]),
    seed=st.integers(0, 2**16),
)
def test_conv_paths_agree_with_naive_loop(
    h: int, w: int, c: int, o: int, k: int, stride: int, pad: int, pad_value: int, seed: int
) -> None:
    pad = min(pad, k - 1)
    if h + 2 * pad < k or w + 2 * pad < k:
        return
    g = np.random.default_rng(seed)
    bits = g.integers(0, 2, (3, h, w, c)).astype(np.uint8)
    wbits = g.integers(0, 2, (o, k, k, c)).astype(np.uint8)
    oh, ow = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    layer = ir.Conv(
        "c",
        (h, w, c),
        (oh, ow, o),
        weights=wbits,
        kernel=(k, k),
        stride=(stride, stride),
        pads=(pad,) * 4,
        pad_value=pad_value,
    )
    want = naive_conv(
        bits.astype(np.int64) * 2 - 1,
        wbits.astype(np.int64) * 2 - 1,
        (stride, stride),
        (pad,) * 4,
        pad_value,
    )
    assert np.array_equal(golden.conv(layer, bits, "blas"), want)
    assert np.array_equal(golden.conv(layer, bits, "xnor"), want)
    # fused with a threshold: ties (values the accumulator takes), constant channels far out
    thresholds = g.choice(want.ravel(), o) + g.integers(-1, 2, o)
    thresholds[g.random(o) < 0.2] = g.choice([-(2**40), 2**40, -k * k * c - 1, k * k * c + 1])
    for method in ("blas", "xnor"):
        bits_out = golden.conv(layer, bits, method, thresholds)
        assert np.array_equal(bits_out, (want >= thresholds).astype(np.uint8))


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    h=st.integers(2, 9),
    w=st.integers(2, 9),
    k=st.integers(2, 3),
    stride=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_maxpool_equals_naive_loop(h: int, w: int, k: int, stride: int, seed: int) -> None:
    if h < k or w < k:
        return
    g = np.random.default_rng(seed)
    v = g.integers(0, 2, (2, h, w, 5)).astype(np.uint8)
    and_channels = g.random(5) < 0.5
    layer = ir.MaxPool(
        "p",
        (h, w, 5),
        ((h - k) // stride + 1, (w - k) // stride + 1, 5),
        kernel=(k, k),
        stride=(stride, stride),
        and_channels=and_channels,
    )
    oh, ow, _ = layer.out_shape
    want = np.empty((2, oh, ow, 5), np.uint8)
    for y in range(oh):
        for x in range(ow):
            win = v[:, y * stride : y * stride + k, x * stride : x * stride + k]
            want[:, y, x] = np.where(and_channels, win.min((1, 2)), win.max((1, 2)))
    assert np.array_equal(golden.maxpool(layer, v), want)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(k=st.integers(1, 300), o=st.integers(1, 20), seed=st.integers(0, 2**16))
def test_dense_xnor_equals_blas(k: int, o: int, seed: int) -> None:
    g = np.random.default_rng(seed)
    bits = g.integers(0, 2, (5, k)).astype(np.uint8)
    layer = ir.Dense("d", (k,), (o,), weights=g.integers(0, 2, (o, k)).astype(np.uint8))
    want = (bits.astype(np.int64) * 2 - 1) @ (layer.weights.astype(np.int64) * 2 - 1).T
    assert np.array_equal(golden.dense(layer, bits, "blas"), want)
    assert np.array_equal(golden.dense(layer, bits, "xnor"), want)
    thresholds = g.choice(want.ravel(), o) + g.integers(-1, 2, o)
    thresholds[g.random(o) < 0.2] = g.choice([-(2**40), 2**40, -k - 1, k + 1])
    for method in ("blas", "xnor"):
        bits_out = golden.dense(layer, bits, method, thresholds)
        assert np.array_equal(bits_out, (want >= thresholds).astype(np.uint8))


def test_integer_input_dense_is_exact_at_extremes() -> None:
    k = 784
    layer = ir.Dense(
        "d",
        (k,),
        (2,),
        weights=np.stack([np.ones(k), np.zeros(k)]).astype(np.uint8),
        input_kind="int",
        input_range=(-128, 127),
    )
    x = np.full((1, k), -128, np.int64)
    acc = golden.dense(layer, x)
    assert acc.tolist() == [[-128 * k, 128 * k]]
    lo, hi = layer.out_range()
    assert lo <= -128 * k and hi >= 128 * k
    assert ir.signed_bits(lo, hi) >= 18  # 100,352 needs 18 bits signed


def test_bits_to_u64_bit_order() -> None:
    from bnn_hls.packing import bits_to_u64

    bits = np.zeros((1, 70), np.uint8)
    bits[0, [0, 5, 64, 69]] = 1
    words = bits_to_u64(bits)
    assert words.shape == (1, 2)
    assert int(words[0, 0]) == (1 << 0) | (1 << 5)
    assert int(words[0, 1]) == (1 << 0) | (1 << 5)


def test_signed_bits() -> None:
    assert ir.signed_bits(-1, 0) == 1
    assert ir.signed_bits(-128, 127) == 8
    assert ir.signed_bits(-129, 127) == 9
    assert ir.signed_bits(0, 128) == 9
