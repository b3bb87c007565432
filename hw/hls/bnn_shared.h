// Result-sharing conv unit (passes/sharing.py; the schedule of backends/share_schedule.py, the
// same one the generated RTL unit is built from). Per output pixel it holds the window (T taps
// x C channels, read as SF = T * C / SIMD words in the sliding window's order) and takes
// NF = O / PE steps; the next window is read meanwhile, so a pixel takes max(SF, NF)
// iterations of one pipelined loop. At step nf, each of the U units counts the matches of its
// input channel's T window bits with its filter of that step (0..T); lane p (output
// nf * PE + p) adds, over the channels, the B-bit result of unit lane_unit[nf][p][c], bitwise
// inverted where its filter is the inverse, and outputs 2 * S + corr >= thresholds[p][nf]
// (thresholds in this lane-sum domain, border correction of the pixel's class as the MVTU's).
#ifndef BNN_SHARED_H
#define BNN_SHARED_H

#include "bnn_common.h"

namespace bnn {

constexpr int bit_width(int v) { return v == 0 ? 0 : 1 + bit_width(v >> 1); }

// C       input channels (a multiple of SIMD)
// T       taps of a 2-D filter (kernel rows x columns, at most 64)
// SIMD    channels per window word
// O       outputs (a multiple of PE)
// PE      outputs per step
// U       units (distinct 2-D filter results computed per step)
// OH, OW  output pixels per image
// BORDER  add the zero-padding correction of the pixel's row and column class
// RC, CC  row and column classes of that correction
template <int C, int T, int SIMD, int O, int PE, int U, int OH, int OW, bool BORDER, int RC,
          int CC>
void shared_conv_threshold(hls::stream<ap_uint<SIMD> >& in, hls::stream<ap_uint<PE> >& out,
                           const uint16_t unit_channel[U], const uint64_t unit_pattern[O / PE][U],
                           const uint32_t lane_unit[O / PE][PE][C],
                           const uint8_t lane_invert[O / PE][PE][C],
                           const int32_t thresholds[PE][O / PE], const uint8_t row_class[OH],
                           const uint8_t col_class[OW], const int32_t correction[RC][CC][O],
                           unsigned reps) {
  static_assert(C % SIMD == 0, "SIMD must divide the input channels");
  static_assert(O % PE == 0, "PE must divide the output channels");
  static_assert(T <= 64, "a 2-D filter is at most 64 taps");
  constexpr int NF = O / PE;
  constexpr int SF = T * C / SIMD;
  constexpr int STEPS = NF > SF ? NF : SF;
  constexpr int B = bit_width(T);
  const ap_uint<B> all_ones = ~ap_uint<B>(0);
  ap_uint<SIMD> next[SF];  // the window being read
  ap_uint<SIMD> cur[SF];   // the window whose steps are issued
#pragma HLS ARRAY_PARTITION variable = next complete
#pragma HLS ARRAY_PARTITION variable = cur complete
  const unsigned pixels = reps * OH * OW;
  // one extra pixel slot at the end issues the last window's steps
  for (unsigned it = 0; it < (pixels + 1) * STEPS; it++) {
#pragma HLS PIPELINE II = 1
    const unsigned pix = it / STEPS;
    const int step = it % STEPS;
    if (pix < pixels && step < SF) next[step] = in.read();
    if (pix > 0 && step < NF) {
      const unsigned done = pix - 1;
      const int ox = done % OW;
      const int oy = (done / OW) % OH;
      ap_uint<B> q[U];
#pragma HLS ARRAY_PARTITION variable = q complete
      for (int u = 0; u < U; u++) {
#pragma HLS UNROLL
        const int c = unit_channel[u];
        ap_uint<T> taps = 0;
        for (int t = 0; t < T; t++) {
#pragma HLS UNROLL
          const int bit = t * C + c;  // bit index in the window: word bit / SIMD
          taps[t] = cur[bit / SIMD][bit % SIMD];
        }
        const ap_uint<T> w = ap_uint<T>(unit_pattern[step][u]);
        q[u] = ap_uint<B>(popcount<T>(~(taps ^ w)));
      }
      ap_uint<PE> word = 0;
      for (int p = 0; p < PE; p++) {
#pragma HLS UNROLL
        int sum = 0;
        for (int c = 0; c < C; c++) {
#pragma HLS UNROLL
          const ap_uint<B> r = q[lane_unit[step][p][c]];
          sum += int(lane_invert[step][p][c] ? ap_uint<B>(r ^ all_ones) : r);
        }
        int v = 2 * sum;
        if (BORDER) v += correction[row_class[oy]][col_class[ox]][step * PE + p];
        word[p] = v >= thresholds[p][step];
      }
      out.write(word);
    }
    if (step == STEPS - 1) {
      for (int w = 0; w < SF; w++) {
#pragma HLS UNROLL
        cur[w] = next[w];
      }
    }
  }
}

}  // namespace bnn

#endif
