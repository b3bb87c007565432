"""Bit packing and host-side data handling, written once for the compiler (golden model,
dataflow memories, backends), the C-sim and RTL-sim harnesses, the tests and the board driver:
lanes and words (parameter memories), stream packing of images, score unpacking, the input
quantiser and the float ops applied to scores. numpy only (1.x and 2.x); the deployment folder
carries this same file to the board.

Lanes: a word of L lanes of B bits holds lane l at bits [l * B, (l + 1) * B), two's complement.

Input words: an image's elements in stream order (NHWC, channel fastest), `elems_per_word`
per word, element j of a word at bits [j * bits, (j + 1) * bits) in two's complement (binary
inputs: 1 bit, 1 = +1). Each word is `word_bytes` little-endian bytes.
Output words: one 32-bit little-endian signed score per class.
Fixed signs from a seed (docs/fsb.md): the sign generator fsb_signs, bit-exact with the
hardware's (the generator MVTU, HLS and RTL).
Threshold load words (docs/thresholds.md): each value a 32-bit little-endian two's-complement
integer; input words of 4 bytes or more carry one value each in their low 4 bytes, narrower
words carry a value's 4 bytes in consecutive words, lowest byte first.
"""

from __future__ import annotations

from typing import Any

import numpy as np

ROUNDING_MODES = ("ROUND", "FLOOR", "CEIL", "ROUND_TO_ZERO")


def round_mode(x: np.ndarray, mode: str) -> np.ndarray:
    if mode == "ROUND":
        return np.round(x)  # half to even, as ONNX Round and QONNX's ROUND
    if mode == "FLOOR":
        return np.floor(x)
    if mode == "CEIL":
        return np.ceil(x)
    if mode == "ROUND_TO_ZERO":
        return np.trunc(x)
    raise ValueError(f"unknown rounding mode {mode}")


def apply_float_op(kind: str, params: dict[str, Any], eps: float, x: np.ndarray) -> np.ndarray:
    """One elementwise float32 op, in ONNX's order of operations (see floatops.FloatOp)."""
    x = np.asarray(x, dtype=np.float32)
    p = {k: np.asarray(v, dtype=np.float32) for k, v in params.items()}
    if kind == "add":
        return x + p["a"]
    if kind == "sub":
        return x - p["a"]
    if kind == "rsub":
        return p["a"] - x
    if kind == "mul":
        return x * p["a"]
    if kind == "div":
        return x / p["a"]
    if kind == "bn":
        std = np.sqrt(p["var"] + np.float32(eps)).astype(np.float32)
        return ((x - p["mean"]) / std * p["scale"] + p["bias"]).astype(np.float32)
    if kind in ("softmax", "logsoftmax"):  # over the last axis (the classes)
        shifted = x - x.max(axis=-1, keepdims=True)
        total = np.exp(shifted).sum(axis=-1, keepdims=True, dtype=np.float32)
        if kind == "logsoftmax":
            return (shifted - np.log(total)).astype(np.float32)
        return (np.exp(shifted) / total).astype(np.float32)
    raise ValueError(f"unknown float op {kind}")


def apply_float_ops(x: np.ndarray, ops: list[dict[str, Any]]) -> np.ndarray:
    y = np.asarray(x, dtype=np.float32)
    with np.errstate(all="ignore"):
        for op in ops:
            y = apply_float_op(op["kind"], op["params"], float(op.get("eps", 0.0)), y)
    return y


def host_preprocess(x: np.ndarray, spec: dict[str, Any]) -> np.ndarray:
    """The input quantiser's float part: host ops and layout steps in the model's order."""
    n = x.shape[0]
    y = np.asarray(x, dtype=np.float64 if np.asarray(x).dtype == np.float64 else np.float32)
    steps = spec.get("layout_steps", [])

    def steps_at(i: int, y: np.ndarray) -> np.ndarray:
        for index, kind, arg in steps:
            if index == i:
                y = (
                    y.reshape((n, *arg))
                    if kind == "reshape"
                    else y.transpose((0, *(a + 1 for a in arg)))
                )
        return y

    ops = spec.get("host_ops", [])
    with np.errstate(all="ignore"):
        for i, op in enumerate(ops):
            y = apply_float_op(op["kind"], op["params"], float(op.get("eps", 0.0)), steps_at(i, y))
    return steps_at(len(ops), y)


def quantise_input(x: np.ndarray, spec: dict[str, Any]) -> np.ndarray:
    """Model inputs (N, *onnx input shape) -> device values (N, *device shape): integers
    v = clip(round(x / scale + zero_point)) - zero_point, or bits x >= 0."""
    n = x.shape[0]
    y = host_preprocess(x, spec)
    if spec["layout"] == "nchw_to_nhwc":
        y = y.transpose(0, 2, 3, 1)
    y = np.ascontiguousarray(y).reshape((n, *spec["device_shape"]))
    if spec["mode"] == "bipolar":
        return (y >= 0).astype(np.uint8)
    return quantise_codes(y, spec["scale"], spec["zero_point"], spec["qrange"], spec["rounding"])


def quantise_codes(
    y: np.ndarray, scale: float, zero_point: float, qrange: Any, rounding: str
) -> np.ndarray:
    """A uniform quantiser in float32, in QONNX Quant's order of operations: the integers
    clip(round(y / scale + zero_point), qmin, qmax) - zero_point."""
    s, zp = np.float32(scale), np.float32(zero_point)
    q = round_mode((np.asarray(y, np.float32) / s + zp).astype(np.float32), rounding)
    q = np.clip(q, qrange[0], qrange[1])
    return q.astype(np.int64) - round(float(zero_point))


def pack_words(values: np.ndarray, elems_per_word: int, bits: int, word_bytes: int) -> np.ndarray:
    """(N, ...) integers -> (N * words_per_image, word_bytes) uint8."""
    n = values.shape[0]
    flat = np.asarray(values).reshape(n, -1).astype(np.int64)
    per_image = flat.shape[1]
    if per_image % elems_per_word:
        raise ValueError(f"{per_image} elements do not fill words of {elems_per_word}")
    words = flat.reshape(-1, elems_per_word) & ((1 << bits) - 1)  # two's complement field
    # spread every element into its bits, then pack the bit rows into bytes (LSB first)
    bit_index = np.arange(bits, dtype=np.int64)
    bit_rows = ((words[:, :, None] >> bit_index) & 1).astype(np.uint8).reshape(len(words), -1)
    total_bits = word_bytes * 8
    if bit_rows.shape[1] > total_bits:
        raise ValueError(f"{bit_rows.shape[1]} bits do not fit a {word_bytes}-byte word")
    padded = np.zeros((len(words), total_bits), np.uint8)
    padded[:, : bit_rows.shape[1]] = bit_rows
    return np.packbits(padded, axis=1, bitorder="little")


FSB_GENERATOR = "lfsr32"  # the name in a model's metadata (docs/fsb.md)
LFSR_MASK = 0x80200003  # Galois form of taps 32, 22, 2, 1 (a maximal-length 32-bit LFSR)
_M64 = (1 << 64) - 1


def fsb_channel_states(seed: int, channels: int) -> np.ndarray:
    """The generator's starting state of each output channel o: the (o + 1)-th output of
    splitmix64 from `seed`, its low 32 bits, 1 if they are 0. (channels,) uint64."""
    states = np.zeros(channels, np.uint64)
    for o in range(channels):
        z = (seed + (o + 1) * 0x9E3779B97F4A7C15) & _M64
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
        z ^= z >> 31
        states[o] = (z & 0xFFFFFFFF) or 1
    return states


def lfsr_bits(states: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` bits of 32-bit Galois LFSRs from `states`: each step emits the low bit, shifts
    right and, when the bit was 1, XORs LFSR_MASK. ((n, count) uint8 bits, the n states
    after them)."""
    st = np.asarray(states, np.uint64).copy()
    bits = np.zeros((st.size, count), np.uint8)
    mask = np.uint64(LFSR_MASK)
    one = np.uint64(1)
    for k in range(count):
        b = st & one
        bits[:, k] = b
        st = (st >> one) ^ (b * mask)
    return bits, st


def fsb_signs(seed: int, channels: int, fan_in: int) -> np.ndarray:
    """The fixed signs of a layer, (channels, fan_in) bits (1 = +1): weight (o, k) is bit k
    of channel o's LFSR stream, k in the hardware's fan-in order (a conv: k = (kh * KW + kw)
    * C + c, channels fastest; a dense layer: its input in stream order)."""
    bits, _ = lfsr_bits(fsb_channel_states(seed, channels), fan_in)
    return bits


LOAD_VALUE_BYTES = 4


def load_word_count(values: int, word_bytes: int) -> int:
    """Input words that carry `values` threshold values."""
    return values * max(1, LOAD_VALUE_BYTES // word_bytes)


def pack_load_values(values: np.ndarray, word_bytes: int) -> np.ndarray:
    """Threshold values (any integer array, in load order) -> the input words that load them,
    (n words, word_bytes) uint8."""
    flat = np.asarray(values).reshape(-1)
    if flat.size and (flat.min() < -(2**31) or flat.max() >= 2**31):
        raise ValueError("a threshold does not fit 32 bits")
    raw = flat.astype("<i4").view(np.uint8).reshape(-1, LOAD_VALUE_BYTES)
    if word_bytes >= LOAD_VALUE_BYTES:
        words = np.zeros((len(raw), word_bytes), np.uint8)
        words[:, :LOAD_VALUE_BYTES] = raw
        return words
    return raw.reshape(-1, word_bytes).copy()


def lanes_to_words(values: np.ndarray, lane_bits: int) -> list[int]:
    """(depth, lanes) integers -> one integer word per row, lane l at bits
    [l * lane_bits, (l + 1) * lane_bits) in two's complement."""
    mask = (1 << lane_bits) - 1
    words = []
    for row in np.asarray(values).reshape(len(values), -1).tolist():
        word = 0
        for i, v in enumerate(row):
            word |= (int(v) & mask) << (i * lane_bits)
        words.append(word)
    return words


def bit_planes(values: np.ndarray, bits: int) -> np.ndarray:
    """(...) integers -> (..., bits) uint8: two's complement, least significant bit first."""
    return ((np.asarray(values, np.int64)[..., None] >> np.arange(bits)) & 1).astype(np.uint8)


TRITS_PER_CODE, TRIT_CODE_BITS = 3, 5  # 27 of the 32 values of 5 bits: 1.67 bits per trit


def pack_trits(trits: np.ndarray) -> np.ndarray:
    """(..., n) values in {-1, 0, 1} -> (..., 5 * ceil(n / 3)) 0/1 bits: every three values
    (the last group padded with 0) one 5-bit code t0 + 3 t1 + 9 t2, t = value + 1, LSB first
    (the MVTU's WPACK weights; its kernels decode the code back into the three values)."""
    t = np.asarray(trits, np.int64) + 1
    assert t.min(initial=1) >= 0 and t.max(initial=1) <= 2, "trits are -1, 0 or 1"
    n = t.shape[-1]
    groups = -(-n // TRITS_PER_CODE)
    padded = np.ones((*t.shape[:-1], groups * TRITS_PER_CODE), np.int64)
    padded[..., :n] = t
    g = padded.reshape(*t.shape[:-1], groups, TRITS_PER_CODE)
    codes = g[..., 0] + 3 * g[..., 1] + 9 * g[..., 2]
    return bit_planes(codes, TRIT_CODE_BITS).reshape(*t.shape[:-1], groups * TRIT_CODE_BITS)


def unpack_trits(bits: np.ndarray, n: int) -> np.ndarray:
    """The inverse of pack_trits: (..., 5 * groups) bits -> (..., n) values in {-1, 0, 1}."""
    b = np.asarray(bits, np.int64)
    codes = (b.reshape(*b.shape[:-1], -1, TRIT_CODE_BITS) << np.arange(TRIT_CODE_BITS)).sum(-1)
    t = np.stack([codes % 3, codes // 3 % 3, codes // 9], axis=-1)
    return (t.reshape(*b.shape[:-1], -1)[..., :n] - 1).astype(np.int64)


def u64_chunks(value: int, width: int) -> list[int]:
    """A `width`-bit word as little-endian 64-bit chunks (bit k in chunk k // 64)."""
    return [(value >> lo) & ((1 << 64) - 1) for lo in range(0, width, 64)]


def bits_to_words(bits: np.ndarray) -> list[int]:
    """(depth, width) 0/1 -> one integer word per row, bit i of the row at bit i."""
    packed = np.packbits(np.asarray(bits, np.uint8), axis=-1, bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in packed]


def bits_to_u64(bits: np.ndarray) -> np.ndarray:
    """(..., K) 0/1 -> (..., ceil(K / 64)) uint64: bit k at chunk k // 64, bit k % 64."""
    bits = np.asarray(bits, np.uint8)
    k = bits.shape[-1]
    chunks = -(-k // 64)
    padded = np.zeros((*bits.shape[:-1], chunks * 64), np.uint8)
    padded[..., :k] = bits
    packed = np.packbits(padded, axis=-1, bitorder="little")  # byte j holds bits 8j..8j+7
    return np.ascontiguousarray(packed).view("<u8").reshape(*bits.shape[:-1], chunks)


_POP8 = np.array([bin(i).count("1") for i in range(256)], np.uint8)


def popcount64(x: np.ndarray) -> np.ndarray:
    """Set bits of every uint64 element."""
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return np.bitwise_count(x)
    return _POP8[x.view(np.uint8)].reshape(*x.shape, 8).sum(-1)


def scores_to_bytes(scores: np.ndarray) -> bytes:
    """(images, classes) integer scores -> what the accelerator writes: 32-bit little-endian
    words (the inverse of unpack_scores)."""
    return np.asarray(scores).astype("<i4").tobytes()


def unpack_scores(raw: bytes | np.ndarray, images: int, classes: int) -> np.ndarray:
    """32-bit little-endian scores -> (images, classes) int64."""
    data = np.frombuffer(
        bytes(raw) if not isinstance(raw, np.ndarray) else raw.tobytes(), dtype="<i4"
    )
    if data.size != images * classes:
        raise ValueError(f"expected {images * classes} scores, got {data.size}")
    return data.reshape(images, classes).astype(np.int64)
