// bnn-hls kernel library: shared types and helpers.
// Header-only; every kernel takes hls::stream<ap_uint<N>>& in/out and a repetition count.
#ifndef BNN_COMMON_H
#define BNN_COMMON_H

#include <ap_int.h>
#include <hls_stream.h>
#include <stdint.h>

// g++ (C simulation) compiles each generated stage as a function of its own: inlined into
// bnn_top, the result-sharing units of a large network make one function too big for the
// compiler's optimiser. HLS decides inlining itself (the stages are dataflow processes).
#ifdef __SYNTHESIS__
#define BNN_CSIM_NOINLINE
#else
#define BNN_CSIM_NOINLINE __attribute__((noinline))
#endif

#ifndef __SYNTHESIS__
#include <cstdio>
#include <cstdlib>
#include <type_traits>
#include <utility>
#endif

namespace bnn {

// the fixed-sign generator's LFSR (docs/fsb.md, packing.LFSR_MASK): Galois form of taps
// 32, 22, 2, 1; a step emits the low bit, shifts right and XORs this mask after a 1
constexpr unsigned FSB_LFSR_MASK = 0x80200003u;

constexpr int cmin(int a, int b) { return a < b ? a : b; }
constexpr int cdiv(int a, int b) { return (a + b - 1) / b; }

// Number of 64-bit chunks that hold N bits (how parameter arrays store wide words).
constexpr int chunks64(int n) { return cdiv(n, 64); }

// C simulation reads and writes words of more than 64 bits a 64-bit chunk at a time. Xilinx's
// ap_types model keeps such a word as little-endian 64-bit chunks (ap_private's pVal, unused top
// bits kept zero): where it does, the chunks are read and written in place; elsewhere (another
// model of ap_uint) with shifts. Shifts of 128-bit words were a quarter of CNV's C-sim time.
#ifndef __SYNTHESIS__
// T  an ap_uint type: does it keep its bits as 64-bit chunks (pVal) that can be written?
template <typename T, typename = void>
struct stores_chunks : std::false_type {};
template <typename T>
struct stores_chunks<T, decltype(void(std::declval<T&>().V.get_pVal(0) = uint64_t(0)))>
    : std::true_type {};

template <int N>
struct chunk_io {
#ifdef BNN_CSIM_CHUNKS_BY_SHIFT  // tests: the path for other ap_uint models
  static const bool in_place = false;
#else
  static const bool in_place = N > 64 && stores_chunks<ap_uint<N> >::value;
#endif
  static uint64_t get(const ap_uint<N>& x, int c) {
    return get(x, c, std::integral_constant<bool, in_place>());
  }
  static void set_all(ap_uint<N>& x, const uint64_t* chunks) {
    set_all(x, chunks, std::integral_constant<bool, in_place>());
  }

 private:
  static uint64_t get(const ap_uint<N>& x, int c, std::true_type) { return x.V.get_pVal(c); }
  static uint64_t get(const ap_uint<N>& x, int c, std::false_type) {
    return N <= 64 ? x.to_uint64() : (x >> (c * 64)).to_uint64();
  }
  static void set_all(ap_uint<N>& x, const uint64_t* chunks, std::true_type) {
    for (int c = 0; c < chunks64(N); c++) x.V.get_pVal(c) = chunks[c];
    if (N % 64) x.V.get_pVal(chunks64(N) - 1) &= (~0ULL >> (64 - N % 64));  // bits beyond N
  }
  static void set_all(ap_uint<N>& x, const uint64_t* chunks, std::false_type) {
    x = 0;
    for (int c = 0; c < chunks64(N); c++) x |= ap_uint<N>(chunks[c]) << (c * 64);
  }
};
#endif

// Assemble an N-bit word from little-endian 64-bit chunks (bit k in chunk k / 64, bit k % 64).
// N  bits of the word
template <int N>
ap_uint<N> from_chunks(const uint64_t* chunks) {
#pragma HLS INLINE
  ap_uint<N> word = 0;
#ifndef __SYNTHESIS__
  chunk_io<N>::set_all(word, chunks);
#else
  for (int c = 0; c < chunks64(N); c++) {
#pragma HLS UNROLL
    word |= ap_uint<N>(chunks[c]) << (c * 64);  // bits beyond N fall off
  }
#endif
  return word;
}

// The element types of the constant tables (weights, thresholds, border corrections, masks,
// the sharing unit's step tables): rom_u<N>::type, rom_s<N>::type. In synthesis they are
// ap_uint<N> / ap_int<N>, a memory N bits wide. In C simulation they are native integers (up
// to 64 bits) or wide_rom_word<N> (64-bit chunks): g++ fills such a table when it compiles;
// ap_(u)int elements would each be constructed at start-up, by an initialiser function that
// takes g++ 12 minutes to compile for a CNV and then crashes it.
// A wide literal is written BNN_WIDE(N, "hex digits", chunk0, chunk1, ...): the string for the
// HLS tool, the little-endian 64-bit chunks for C simulation.
#ifdef __SYNTHESIS__
template <int N>
struct rom_u {
  typedef ap_uint<N> type;
};
template <int N>
struct rom_s {
  typedef ap_int<N> type;
};
#define BNN_WIDE(N, HEX, ...) ap_uint<N>(HEX, 16)
#else
template <int N>
struct wide_rom_word {
  uint64_t chunk[chunks64(N)];
  operator ap_uint<N>() const { return from_chunks<N>(chunk); }
};
// The smallest of four native types that holds N bits.
// N              bits to hold
// T8, T16, T32, T64  the candidate types, for up to 8, 16, 32 and 64 bits
template <int N, typename T8, typename T16, typename T32, typename T64>
struct native_int {
  typedef typename std::conditional<
      (N <= 8), T8,
      typename std::conditional<(N <= 16), T16,
                                typename std::conditional<(N <= 32), T32, T64>::type>::type>::type
      type;
};
template <int N>
struct rom_u {
  typedef typename std::conditional<(N <= 64),
                                    typename native_int<N, uint8_t, uint16_t, uint32_t, uint64_t>::type,
                                    wide_rom_word<N> >::type type;
};
template <int N>
struct rom_s {
  static_assert(N <= 64, "signed tables hold at most 64 bits");
  typedef typename native_int<N, int8_t, int16_t, int32_t, int64_t>::type type;
};
#define BNN_WIDE(N, HEX, ...) \
  { { __VA_ARGS__ } }
#endif

// The MVTU's accumulator type: acc_int<N>::type, N-bit signed. The tool gets ap_int<N>. C
// simulation gets checked_int<N>, a native 64-bit integer that stops the run, naming the value,
// when a value stored in it does not fit N bits: where ap_int would wrap silently, C-sim stops;
// on every run that completes both hold the same values. Why: ap_int arithmetic was most of
// C-sim's time (every operation stores and reloads through volatile in the ap_types headers);
// this one type made CNV's C-sim about 2x faster. Products the kernels form (levels x inputs,
// coefficients x popcounts) are of small factors, far from 64 bits.
#ifdef __SYNTHESIS__
template <int N>
struct acc_int {
  typedef ap_int<N> type;
};
#else
template <int N>
struct checked_int {
  static_assert(N >= 2 && N <= 64, "an accumulator has 2 to 64 bits");
  long long v;
  static long long fit(long long x) {
    if (N < 64 && (x < -(1LL << (N < 64 ? N - 1 : 0)) || x >= (1LL << (N < 64 ? N - 1 : 0)))) {
      std::fprintf(stderr, "bnn-hls C-sim: accumulator value %lld does not fit %d bits\n", x, N);
      std::abort();
    }
    return x;
  }
  checked_int() : v(0) {}
  template <typename T>
  checked_int(const T& x) : v(fit(static_cast<long long>(x))) {}
  operator long long() const { return v; }
  checked_int& operator+=(long long x) {
    v = fit(v + x);
    return *this;
  }
};
template <int N>
struct acc_int {
  typedef checked_int<N> type;
};
#endif

// Population count of an N-bit word (popcount_t: ap_uint<16> in synthesis, a native unsigned in
// C simulation; the same value).
#ifdef __SYNTHESIS__
typedef ap_uint<16> popcount_t;
#else
typedef unsigned popcount_t;
#endif
template <int N>
popcount_t popcount(const ap_uint<N>& x) {
#pragma HLS INLINE
#ifndef __SYNTHESIS__
  unsigned total = 0;  // C simulation: 64 bits at a time
  for (int c = 0; c < chunks64(N); c++) total += __builtin_popcountll(chunk_io<N>::get(x, c));
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

// popcount(~(a ^ b)) over the N bits of a and the low N bits of b: how many positions agree
// (the binary dot product's count).
// N  bits compared
// M  bits of b (at least N)
template <int N, int M>
popcount_t xnor_popcount(const ap_uint<N>& a, const ap_uint<M>& b) {
#pragma HLS INLINE
  static_assert(M >= N, "b holds at least the N bits compared");
#ifndef __SYNTHESIS__
  unsigned total = 0;  // C simulation: 64 bits at a time, without N-bit temporaries
  for (int c = 0; c < chunks64(N); c++) {
    const int bits = cmin(64, N - 64 * c);
    const uint64_t mask = bits == 64 ? ~0ULL : (~0ULL >> (64 - bits));
    total += __builtin_popcountll(~(chunk_io<N>::get(a, c) ^ chunk_io<M>::get(b, c)) & mask);
  }
  return total;
#else
  return popcount<N>(~(a ^ ap_uint<N>(b)));
#endif
}

}  // namespace bnn

#endif
