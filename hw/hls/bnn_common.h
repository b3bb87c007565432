// bnn-hls kernel library: shared types and helpers.
// Header-only; every kernel takes hls::stream<ap_uint<N>>& in/out and a repetition count.
#ifndef BNN_COMMON_H
#define BNN_COMMON_H

#include <ap_int.h>
#include <hls_stream.h>
#include <stdint.h>

namespace bnn {

constexpr int cmin(int a, int b) { return a < b ? a : b; }
constexpr int cdiv(int a, int b) { return (a + b - 1) / b; }

// Number of 64-bit chunks that hold N bits (how parameter arrays store wide words).
constexpr int chunks64(int n) { return cdiv(n, 64); }

// Assemble an N-bit word from little-endian 64-bit chunks (bit k in chunk k / 64, bit k % 64).
template <int N>
ap_uint<N> from_chunks(const uint64_t* chunks) {
#pragma HLS INLINE
  ap_uint<N> word = 0;
  for (int c = 0; c < chunks64(N); c++) {
#pragma HLS UNROLL
    word |= ap_uint<N>(chunks[c]) << (c * 64);  // bits beyond N fall off
  }
  return word;
}

// Population count of an N-bit word.
template <int N>
ap_uint<16> popcount(const ap_uint<N>& x) {
#pragma HLS INLINE
#ifndef __SYNTHESIS__
  // C simulation: count 64 bits at a time
  unsigned total = 0;
  for (int lo = 0; lo < N; lo += 64) {
    total += __builtin_popcountll(static_cast<unsigned long long>((x >> lo).to_uint64()));
  }
  return total;
#else
  ap_uint<16> total = 0;
  for (int i = 0; i < N; i++) {
#pragma HLS UNROLL
    total += x[i];
  }
  return total;
#endif
}

}  // namespace bnn

#endif
