// Writable thresholds: the load stream (docs/thresholds.md) from the AXI-Stream input into
// the tables of the stages that compare with thresholds.
#ifndef BNN_LOAD_H
#define BNN_LOAD_H

#include "bnn_axis.h"
#include "bnn_common.h"

namespace bnn {

// N 32-bit values from the AXI-Stream input (packing.pack_load_values): a word of 32 bits or
// more carries one value in its low bits; narrower words carry a value in 32 / AXI_W words,
// lowest bits first.
// II = 1: one input read and at most one output write per iteration; `value` is a shift
// register updated in one cycle.
// AXI_W  bits of the AXI-Stream word (a power of two from 8)
// N      32-bit values of a complete load
template <int AXI_W, int N>
void axis_to_values(hls::stream<axis_word<AXI_W> >& in, hls::stream<ap_uint<32> >& out) {
  static_assert(AXI_W >= 8 && (AXI_W & (AXI_W - 1)) == 0, "AXI_W: a power of two from 8");
  static_assert(N >= 1, "a load has at least one value");
  constexpr int CHUNKS = AXI_W >= 32 ? 1 : 32 / AXI_W;  // AXI_W is a power of two
  ap_uint<32> value = 0;
  unsigned chunk = 0;
  for (unsigned i = 0; i < unsigned(N) * CHUNKS; i++) {
#pragma HLS PIPELINE II = 1
    const ap_uint<AXI_W> data = in.read().data;
    if (CHUNKS == 1) {
      out.write(ap_uint<32>(data));  // the low 32 bits
    } else {
      value = (value >> (32 / CHUNKS)) | (ap_uint<32>(data) << (32 - 32 / CHUNKS));
      if (chunk == CHUNKS - 1) {
        out.write(value);
        chunk = 0;
      } else {
        chunk++;
      }
    }
  }
}

// A stage's threshold table [LANES][DEPTH] from its load stream: word by word, lane by lane.
// II = 1: each iteration writes one element of one bank (the table is partitioned on
// dimension 1, a 1-port RAM per bank); the kernel reads it only outside this loop.
// LANES  banks of the table (the stage's parallel readers: PE, or PE x LEVELS)
// DEPTH  words per bank
// T      element type (a signed integer wide enough for the stage's thresholds)
template <int LANES, int DEPTH, typename T>
void load_table(hls::stream<ap_uint<32> >& in, T table[LANES][DEPTH]) {
  static_assert(LANES >= 1 && DEPTH >= 1, "a table has at least one element");
  unsigned lane = 0, word = 0;
  for (unsigned i = 0; i < unsigned(LANES) * DEPTH; i++) {
#pragma HLS PIPELINE II = 1
    const ap_int<32> value = ap_int<32>(in.read());
    table[lane][word] = T(value.to_int());
    if (lane == LANES - 1) {
      lane = 0;
      word++;
    } else {
      lane++;
    }
  }
}

}  // namespace bnn

#endif
