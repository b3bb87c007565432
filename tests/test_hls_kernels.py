"""Each HLS kernel alone against a numpy model, across folding factors (1 to full), odd sizes,
padding and stride: compiled with g++ and run."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from bnn_hls.backends.hls import rom_type, word_literal
from bnn_hls.csim import CXXFLAGS, ap_types_dir, compiler
from bnn_hls.package_data import resource_dir

from .kernel_harness import Case, run_cases
from .kernel_models import (
    POOL_CONFIGS,
    WINDOW_CONFIGS,
    mvtu_data,
    pack_elems,
    pool_words,
    window_words,
)


def c_array(values: np.ndarray, fmt: str = "{}") -> str:
    if values.ndim == 1:
        return "{" + ", ".join(fmt.format(int(v)) for v in values) + "}"
    return "{" + ", ".join(c_array(v, fmt) for v in values) + "}"


def rom_word(width: int, value: int) -> str:
    """A constant table word as the generated code writes it."""
    return word_literal(width, value)


def test_sliding_window(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    cases, built = [], []
    for cfg in WINDOW_CONFIGS:
        words = window_words(cfg, rng)
        t, left, b, r = cfg.pads
        pad_word = f"ap_uint<{words.in_width}>(-1)" if cfg.pad_ones and cfg.elem == 1 else "0"
        ring = (cfg.kh + cfg.sh) * cfg.iw * (cfg.c // cfg.simd)
        call = (
            f"ap_uint<{words.in_width}> line[{ring}];\n"
            f"bnn::sliding_window<{cfg.ih}, {cfg.iw}, {cfg.c}, {cfg.simd}, {cfg.elem}, "
            f"{cfg.kh}, {cfg.kw}, {cfg.sh}, {cfg.sw}, {t}, {left}, {b}, {r}>(in, out, "
            f"{pad_word}, line, reps);"
        )
        cases.append(Case("", call, words.in_width, words.out_width))
        built.append(words)
    outputs = run_cases(cases, [w.inputs for w in built], [2] * len(cases), tmp_path)
    for cfg, got, words in zip(WINDOW_CONFIGS, outputs, built):
        assert got == words.expected, f"config {cfg}"


def mvtu_case(
    rng: np.random.Generator, k: int, o: int, simd: int, pe: int, int_in: bool, scores: bool, n: int
) -> tuple[Case, list[int], list[int]]:
    d = mvtu_data(k, o, simd, pe, int_in, scores, rng, n)
    nf, sf = o // pe, k // simd
    # per PE: word nf * SF + sf holds inputs sf * SIMD .. of output nf * PE + p (bit s: input
    # sf * SIMD + s), written as a hex string so that any SIMD fits
    tiles = d.layer.weights.reshape(nf, pe, sf, simd).transpose(1, 0, 2, 3)
    rows = tiles.reshape(pe, nf * sf, simd)
    words = [[rom_word(simd, pack_elems(w, 1)) for w in bank] for bank in rows]
    t_table = d.thresholds.reshape(o // pe, pe).T
    t_w = d.acc_bits + 2
    decls = (
        f"static const {rom_type(simd, False)} W[{pe}][{nf * sf}] = "
        "{" + ", ".join("{" + ", ".join(bank) + "}" for bank in words) + "};\n"
        f"static const {rom_type(t_w, True)} T[{pe}][{nf}] = {c_array(t_table)};\n"
        f"static const {rom_type(8, False)} RCLS[1] = {{0}};\n"
        f"static const {rom_type(8, False)} CCLS[1] = {{0}};\n"
        f"static const {rom_type(t_w, True)} CORR[{pe}][{nf}] = {{}};\n"
        f"static const {rom_type(32, False)} SEEDS[{pe}][1] = {{}};\n"  # (weights from W)
        f"static const {rom_type(1, False)} INV[{pe}][1] = {{}};\n"
        "static const long long COEFFS[2][2] = {};\n"  # (no binary bases)
    )
    fn = "mvtu_scores" if scores else "mvtu_threshold"
    # scores: SCORE_BITS; thresholds: one level, a bit per output (LEVELS, OUT_BITS, OUT_LO)
    tail = "32, " if scores else "1, 1, 0, "
    call = (
        f"ap_uint<{d.words.in_width}> vec[{sf}];\n"
        f"bnn::{fn}<{k}, {o}, {simd}, {pe}, {'true' if int_in else 'false'}, {d.in_bits}, 1, "
        f"{d.acc_bits}, {tail}1, 1, false, 1, 1, false, false, 1, 0, 0, 1, 0, 0>"
        "(in, out, W, SEEDS, INV, T, RCLS, CCLS, CORR, COEFFS, vec, reps);"
    )
    return (
        Case(decls, call, d.words.in_width, d.words.out_width),
        d.words.inputs,
        d.words.expected,
    )


def test_mvtu_foldings(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    configs = [  # (K, O, SIMD, PE, int_in, scores)
        (12, 6, 1, 1, False, False),
        (12, 6, 12, 6, False, False),
        (12, 6, 4, 3, False, True),
        (70, 5, 7, 5, False, False),
        (70, 5, 70, 1, False, True),
        (27, 8, 3, 2, True, False),
        (9, 4, 9, 4, True, True),
        (130, 3, 65, 3, False, False),
        (16, 10, 2, 5, True, True),
    ]
    built = [mvtu_case(rng, *cfg, n=3) for cfg in configs]
    outputs = run_cases([b[0] for b in built], [b[1] for b in built], [3] * len(built), tmp_path)
    for cfg, got, (_, _, want) in zip(configs, outputs, built):
        assert got == want, f"config {cfg}"


def test_maxpool_bits(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    cases, built = [], []
    for cfg in POOL_CONFIGS:
        ih, iw, c, pe, k = cfg
        words, and_ch = pool_words(cfg, rng)
        # bank p, word cw: the AND bit of channel cw * PE + p
        banks = and_ch.astype(int).reshape(-1, pe).T
        decls = f"static const {rom_type(1, False)} MASK[{pe}][{c // pe}] = {c_array(banks)};"
        call = f"bnn::maxpool_bits<{ih}, {iw}, {c}, {pe}, {k}, 1>(in, out, MASK, reps);"
        cases.append(Case(decls, call, pe, pe))
        built.append(words)
    outputs = run_cases(cases, [w.inputs for w in built], [2] * len(cases), tmp_path)
    for cfg, got, words in zip(POOL_CONFIGS, outputs, built):
        assert got == words.expected, f"config {cfg}"


def test_width_converters_and_label(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    bits = rng.integers(0, 2, 2 * 48)
    cases = [
        Case("", "bnn::gather_words<4, 12, 12>(in, out, reps);", 4, 12),
        Case("", "bnn::split_words<12, 4, 4>(in, out, reps);", 12, 4),
        Case("", "bnn::gather_words<16, 160, 10>(in, out, reps);", 16, 160),
        Case("", "bnn::split_words<96, 32, 2>(in, out, reps);", 96, 32),
        Case("", "bnn::label_select<10, 5, 32>(in, out, reps);", 160, 32),
    ]
    scores = rng.integers(-50, 50, (4, 10))
    scores[1, 3] = scores[1, 7] = 99  # a tie: the lower index wins
    inputs = [
        [pack_elems(g, 1) for g in bits.reshape(-1, 4)],
        [pack_elems(g, 1) for g in bits.reshape(-1, 12)],
        [pack_elems(g, 1) for g in rng.integers(0, 2, (2 * 10, 16))],
        [pack_elems(g, 32) for g in rng.integers(-9, 9, (2 * 2, 3))],
        [pack_elems(g, 32) for g in scores.reshape(-1, 5)],
    ]
    expected = [
        [pack_elems(g, 1) for g in bits.reshape(-1, 12)],
        [pack_elems(g, 1) for g in bits.reshape(-1, 4)],
        [pack_elems(g, 16) for g in np.array([inputs[2]]).reshape(-1, 10)],
        [
            w & 0xFFFFFFFF
            for w in [
                pack_elems(g, 32)
                for g in np.array(
                    [[(v >> (32 * j)) & 0xFFFFFFFF for j in range(3)] for v in inputs[3]],
                    dtype=object,
                ).reshape(-1, 1)
            ]
        ],
        [int(v) for v in np.argmax(scores, axis=1)],
    ]
    outputs = run_cases(cases, inputs, [2, 2, 2, 2, 4], tmp_path)
    for i, (got, want) in enumerate(zip(outputs, expected)):
        assert got == want, f"case {i}"


def test_strict_stream_names_misuse(tmp_path: Path) -> None:
    """The C-sim stream stops an empty read and reports leftovers, naming the stream."""
    src = tmp_path / "misuse.cpp"
    src.write_text(
        '#include <ap_int.h>\n#include "hls_stream.h"\n#include <cstring>\n'
        "int main(int, char** argv) {\n"
        '  if (std::strcmp(argv[1], "empty") == 0) {\n'
        '    hls::stream<ap_uint<8> > s("l3_conv_window_out");\n'
        "    s.read();\n  }\n"
        '  { hls::stream<ap_uint<8> > t("s7"); t.write(1); t.write(2); }\n'
        "  return bnn_csim::leftovers();\n}\n"
    )
    exe = tmp_path / "misuse"
    build = subprocess.run(
        [
            compiler(),
            *CXXFLAGS,
            "-I",
            str(resource_dir("sim") / "include"),
            "-isystem",
            str(ap_types_dir()),
            str(src),
            "-o",
            str(exe),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stderr
    empty = subprocess.run([str(exe), "empty"], capture_output=True, text=True, check=False)
    assert empty.returncode == 3
    assert "read from empty stream 'l3_conv_window_out'" in empty.stderr
    left = subprocess.run([str(exe), "leftover"], capture_output=True, text=True, check=False)
    assert left.returncode == 1
    assert "stream 's7' still holds 2 words" in left.stderr


ACC_PROGRAM = r"""
#include <cstdio>
#include <cstdlib>
#include "bnn_common.h"
int main(int, char** argv) {
  typedef bnn::acc_int<6>::type acc_t;  // what the MVTU declares: -32 .. 31
  acc_t acc = 0;
  const int steps = std::atoi(argv[1]);
  for (int i = 0; i < steps; i++) acc += argv[2][0] == '+' ? 1 : -1;
  acc_t value = acc + acc - 1;  // the binary MVTU's 2 * popcount - K, stored again
  std::printf("%lld %lld\n", (long long)acc, (long long)value);
  return 0;
}
"""


def test_csim_accumulator_stops_where_ap_int_would_wrap(tmp_path: Path) -> None:
    """C-sim's native accumulator holds exactly the values ap_int<N> holds and stops the run,
    naming the value, where ap_int would wrap (bnn_common.h, acc_int)."""
    src, exe = tmp_path / "acc.cpp", tmp_path / "acc"
    src.write_text(ACC_PROGRAM)
    includes = ["-I", str(resource_dir("sim") / "include"), "-isystem", str(ap_types_dir())]
    includes += ["-I", str(resource_dir("hw") / "hls")]
    build = subprocess.run(
        [compiler(), *CXXFLAGS, *includes, str(src), "-o", str(exe)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stderr

    def run(steps: int, sign: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(exe), str(steps), sign], capture_output=True, text=True)

    assert run(16, "+").stdout.split() == ["16", "31"]  # 31: the largest 6-bit value
    assert run(15, "-").stdout.split() == ["-15", "-31"]
    for steps, sign, value in ((32, "+", 32), (33, "-", -33), (17, "+", 33), (16, "-", -33)):
        r = run(steps, sign)
        assert r.returncode != 0
        assert f"accumulator value {value} does not fit 6 bits" in r.stderr


CHUNK_PROGRAM = r"""
#include <cstdio>
#include <stdint.h>
#include "bnn_common.h"
static uint64_t state = 1;
static uint64_t next() {  // splitmix64
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
template <int N>
int check() {  // the chunk paths against bit-by-bit loops; returns the number of mismatches
  int bad = 0;
  for (int trial = 0; trial < 200; trial++) {
    uint64_t ca[bnn::chunks64(N)], cb[bnn::chunks64(N + 3)];
    for (int c = 0; c < bnn::chunks64(N); c++) ca[c] = trial % 7 == 0 ? ~0ULL : next();
    for (int c = 0; c < bnn::chunks64(N + 3); c++) cb[c] = trial % 5 == 0 ? 0 : next();
    const ap_uint<N> a = bnn::from_chunks<N>(ca);
    const ap_uint<N + 3> b = bnn::from_chunks<N + 3>(cb);
    unsigned ones = 0, agree = 0;
    for (int i = 0; i < N; i++) {
      const bool ai = (ca[i / 64] >> (i % 64)) & 1, bi = (cb[i / 64] >> (i % 64)) & 1;
      if (bool(a[i]) != ai) bad++;
      ones += ai;
      agree += ai == bi;
    }
    for (int i = N; i < N + 3; i++) bad += bool(b[i]) != bool((cb[i / 64] >> (i % 64)) & 1);
    if (bnn::popcount<N>(a) != ones) bad++;
    if (bnn::xnor_popcount<N>(a, b) != agree) bad++;
    if (a != ~~a) bad++;  // no bit beyond N set by from_chunks
  }
  std::printf("%d %d\n", N, bad);
  return bad;
}
int main() {
  return check<1>() + check<7>() + check<63>() + check<64>() + check<65>() + check<100>() +
         check<128>() + check<129>() + check<200>() + check<256>() != 0;
}
"""


@pytest.mark.parametrize("by_shift", [False, True], ids=["in-place", "by-shift"])
def test_csim_chunk_access_equals_bit_loops(tmp_path: Path, by_shift: bool) -> None:
    """C-sim's 64-bit-chunk reads and writes of wide words (from_chunks, popcount,
    xnor_popcount; bnn_common.h chunk_io) give the bits a bit-by-bit loop gives, for widths
    around the 64-bit boundaries, in place (ap_private's chunks) and by shifts (other models)."""
    src, exe = tmp_path / "chunks.cpp", tmp_path / "chunks"
    src.write_text(CHUNK_PROGRAM)
    includes = ["-I", str(resource_dir("sim") / "include"), "-isystem", str(ap_types_dir())]
    includes += ["-I", str(resource_dir("hw") / "hls")]
    defines = ["-DBNN_CSIM_CHUNKS_BY_SHIFT"] if by_shift else []
    build = subprocess.run(
        [compiler(), *CXXFLAGS, *defines, *includes, str(src), "-o", str(exe)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True, check=False)
    lines = [line.split() for line in run.stdout.splitlines()]
    assert [int(n) for n, _ in lines] == [1, 7, 63, 64, 65, 100, 128, 129, 200, 256]
    assert all(bad == "0" for _, bad in lines), run.stdout
    assert run.returncode == 0
