"""Stream packing shared by the golden-model checks, the C-sim and RTL-sim harnesses and the
board driver. numpy only (1.x and 2.x); the deployment folder carries this same file.

Input words: an image's elements in stream order (NHWC, channel fastest), `elems_per_word`
per word, element j of a word at bits [j * bits, (j + 1) * bits) in two's complement (binary
inputs: 1 bit, 1 = +1). Each word is `word_bytes` little-endian bytes.
Output words: one 32-bit little-endian signed score per class.
"""

from __future__ import annotations

import numpy as np


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


def unpack_scores(raw: bytes | np.ndarray, images: int, classes: int) -> np.ndarray:
    """32-bit little-endian scores -> (images, classes) int64."""
    data = np.frombuffer(
        bytes(raw) if not isinstance(raw, np.ndarray) else raw.tobytes(), dtype="<i4"
    )
    if data.size != images * classes:
        raise ValueError(f"expected {images * classes} scores, got {data.size}")
    return data.reshape(images, classes).astype(np.int64)
