"""Compile and run single HLS kernels with g++: each test case is one template instantiation
in a generated C++ program that streams words from a file through the kernel into a file."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bnn_hls.csim import CXXFLAGS, ap_types_dir, compiler
from bnn_hls.package_data import resource_dir
from bnn_hls.packing import lanes_to_words, u64_chunks

PRELUDE = r"""
#include <cstdio>
#include <cstdlib>
#include <vector>
#include "bnn_kernels.h"

static std::vector<uint64_t> read_all(const char* path) {
  std::vector<uint64_t> v;
  std::FILE* f = std::fopen(path, "rb");
  uint64_t x;
  while (std::fread(&x, 8, 1, f) == 1) v.push_back(x);
  std::fclose(f);
  return v;
}
static void write_all(const char* path, const std::vector<uint64_t>& v) {
  std::FILE* f = std::fopen(path, "wb");
  std::fwrite(v.data(), 8, v.size(), f);
  std::fclose(f);
}
template <int W>
static void to_stream(const std::vector<uint64_t>& v, hls::stream<ap_uint<W> >& s) {
  constexpr int C = (W + 63) / 64;
  for (size_t i = 0; i + C <= v.size(); i += C) {
    ap_uint<W> w = 0;
    for (int c = 0; c < C; c++) w |= ap_uint<W>(v[i + c]) << (64 * c);
    s.write(w);
  }
}
template <int W>
static std::vector<uint64_t> from_stream(hls::stream<ap_uint<W> >& s) {
  std::vector<uint64_t> v;
  while (!s.empty()) {
    ap_uint<W> w = s.read();
    for (int c = 0; c < (W + 63) / 64; c++) v.push_back((w >> (64 * c)).to_uint64());
  }
  return v;
}
"""


@dataclass
class Case:
    """One kernel instantiation: C++ declarations, the call, stream widths."""

    decls: str  # parameter arrays etc.
    call: str  # uses `in`, `out`, `reps`
    in_width: int
    out_width: int


def words_to_chunks(words: list[int], width: int) -> np.ndarray:
    """The harness's input file: each word as its little-endian 64-bit chunks."""
    return np.array([c for w in words for c in u64_chunks(w, width)], dtype=np.uint64)


def chunks_to_words(data: np.ndarray, width: int) -> list[int]:
    """The harness's output file back to words (lanes of 64 bits: packing's lane order)."""
    return lanes_to_words(data.astype(object).reshape(-1, -(-width // 64)), 64)


def run_cases(
    cases: list[Case], inputs: list[list[int]], reps: list[int], folder: Path
) -> list[list[int]]:
    """Build one program holding every case, run each on its input words, return outputs."""
    hw = resource_dir("hw") / "hls"
    body = [PRELUDE]
    for i, case in enumerate(cases):
        body.append(
            f"namespace case{i} {{\n{case.decls}\n"
            f"void run(const char* fin, const char* fout, unsigned reps) {{\n"
            f'  hls::stream<ap_uint<{case.in_width}> > in("in");\n'
            f'  hls::stream<ap_uint<{case.out_width}> > out("out");\n'
            f"  to_stream<{case.in_width}>(read_all(fin), in);\n"
            f"  {case.call}\n"
            f'  if (!in.empty()) {{ std::fprintf(stderr, "input left over\\n"); std::exit(5); }}\n'
            f"  write_all(fout, from_stream<{case.out_width}>(out));\n}}\n}}\n"
        )
    body.append(
        "int main(int, char** argv) {\n  int which = std::atoi(argv[1]);\n"
        "  unsigned reps = std::atoi(argv[4]);\n"
    )
    for i in range(len(cases)):
        body.append(f"  if (which == {i}) case{i}::run(argv[2], argv[3], reps);\n")
    body.append("  return 0;\n}\n")
    src = folder / "kernels.cpp"
    src.write_text("".join(body))
    exe = folder / "kernels"
    res = subprocess.run(
        [
            compiler(),
            *CXXFLAGS,
            "-I",
            str(resource_dir("sim") / "include"),
            "-isystem",
            str(ap_types_dir()),
            "-I",
            str(hw),
            str(src),
            "-o",
            str(exe),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-4000:]
    assert "warning:" not in res.stderr, res.stderr[-4000:]
    outputs = []
    for i, (case, words) in enumerate(zip(cases, inputs)):
        fin, fout = folder / f"in{i}.bin", folder / f"out{i}.bin"
        fin.write_bytes(words_to_chunks(words, case.in_width).tobytes())
        r = subprocess.run(
            [str(exe), str(i), str(fin), str(fout), str(reps[i])],
            capture_output=True,
            text=True,
            check=False,
        )
        assert r.returncode == 0, f"case {i}: {r.stderr}"
        outputs.append(chunks_to_words(np.frombuffer(fout.read_bytes(), np.uint64), case.out_width))
    return outputs
