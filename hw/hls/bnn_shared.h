// Result-sharing conv unit (passes/sharing.py): a binary conv whose 2-D filters are grouped,
// per input channel, into distinct filters up to inversion. Per output pixel it reads the
// window (T taps x CW words of SIMD channels, the sliding window's order), computes every
// distinct 2-D filter's +-1 result on its channel once, and builds output o as the sum over
// the channels c of +-result[index[o][c]] (negated where o's filter is the inverse). The sum
// equals the unshared accumulator bit for bit (padded taps count as -1 here too, then the
// border correction of the pixel's class is added). Outputs: NF words of PE bits acc >= T.
#ifndef BNN_SHARED_H
#define BNN_SHARED_H

#include "bnn_common.h"

namespace bnn {

template <int C, int T, int SIMD, int O, int PE, int D, int ACC_BITS, int OH, int OW,
          bool BORDER, int RC, int CC>
void shared_conv_threshold(hls::stream<ap_uint<SIMD> >& in, hls::stream<ap_uint<PE> >& out,
                           const uint64_t filters[D], const uint16_t filter_channel[D],
                           const uint32_t gather_index[O][C], const uint8_t gather_invert[O][C],
                           const int32_t thresholds[PE][O / PE], const uint8_t row_class[OH],
                           const uint8_t col_class[OW], const int32_t correction[RC][CC][O],
                           unsigned reps) {
  static_assert(C % SIMD == 0, "SIMD must divide the input channels");
  static_assert(O % PE == 0, "PE must divide the output channels");
  static_assert(T <= 64, "a 2-D filter is at most 64 taps");
  constexpr int CW = C / SIMD;
  constexpr int NF = O / PE;
  typedef ap_int<ACC_BITS + 2> acc_t;
  ap_uint<SIMD> window[T][CW];
  ap_int<8> shared[D];  // a 2-D result is within [-T, T]
  for (unsigned pix = 0; pix < reps * OH * OW; pix++) {
    const int ox = pix % OW;
    const int oy = (pix / OW) % OH;
    for (int t = 0; t < T; t++) {
      for (int cw = 0; cw < CW; cw++) {
#pragma HLS PIPELINE II = 1
        window[t][cw] = in.read();
      }
    }
    // every distinct 2-D filter once: 2 * popcount(xnor over its taps) - T
    for (int d = 0; d < D; d++) {
#pragma HLS PIPELINE II = 1
      const int c = filter_channel[d];
      ap_uint<T> taps = 0;
      for (int t = 0; t < T; t++) {
#pragma HLS UNROLL
        taps[t] = window[t][c / SIMD][c % SIMD];
      }
      const ap_uint<T> w = ap_uint<T>(filters[d]);
      shared[d] = ap_int<8>(2 * int(popcount<T>(~(taps ^ w))) - T);
    }
    // each output: the signed sum of its channels' shared results
    for (int nf = 0; nf < NF; nf++) {
#pragma HLS PIPELINE II = 1
      ap_uint<PE> word = 0;
      for (int p = 0; p < PE; p++) {
#pragma HLS UNROLL
        const int o = nf * PE + p;
        acc_t acc = 0;
        for (int c = 0; c < C; c++) {
#pragma HLS UNROLL
          const acc_t r = acc_t(shared[gather_index[o][c]]);
          acc += gather_invert[o][c] ? acc_t(-r) : r;
        }
        if (BORDER) acc += correction[row_class[oy]][col_class[ox]][o];
        word[p] = acc >= thresholds[p][nf];
      }
      out.write(word);
    }
  }
}

}  // namespace bnn

#endif
