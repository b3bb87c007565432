// Result-sharing conv unit (passes/sharing.py; the schedule of dataflow/share_schedule.py, the
// same one the generated RTL unit is built from). Per output pixel it holds the window (T taps
// x C channels, read as SF = T * C / SIMD words in the sliding window's order) and takes
// NF = O / PE steps; the next window is read meanwhile, so a pixel takes max(SF, NF)
// iterations of one pipelined loop. At each step the layer's generated UNIT (params_<layer>.h)
// gives the PE lane sums: its units count the matches of one input channel's T window bits with
// a distinct 2-D filter, its lanes add, over the channels, the (possibly inverted) unit
// results; the filters and the lanes' choices are constants of the plan, a switch on the step
// where they change. Output bit p: 2 * S + corr >= thresholds[p][step] (thresholds in this
// lane-sum domain, border correction of the pixel's class as the MVTU's).
//
// II = 1 by construction: the windows are registers (shift registers of SF words, the next one
// filled while the current one is used); the thresholds and corrections are partitioned by PE,
// one read per bank per iteration; the unit logic reads no memory; every index comes from
// counters (no division).
#ifndef BNN_SHARED_H
#define BNN_SHARED_H

#include "bnn_common.h"

namespace bnn {

constexpr int bit_width(int v) { return v == 0 ? 0 : 1 + bit_width(v >> 1); }


// C       input channels (a multiple of SIMD)
// T       taps of a 2-D filter (kernel rows x columns)
// SIMD    channels per window word
// O       outputs (a multiple of PE)
// PE      outputs per step
// OH, OW  output pixels per image
// BORDER  add the zero-padding correction of the pixel's row and column class
// RC, CC  row and column classes of that correction
// SUM_W   bits of a lane sum (unsigned)
// CMP_W   signed bits of thresholds, corrections and 2 * S + corr
// UNIT    the layer's generated unit: static void sums(const ap_uint<T> taps[C], int step,
//         ap_uint<SUM_W> sums[PE]), taps[c] the window bits of channel c (tap t at bit t)
template <int C, int T, int SIMD, int O, int PE, int OH, int OW, bool BORDER, int RC, int CC,
          int SUM_W, int CMP_W, class UNIT>
void shared_conv_threshold(hls::stream<ap_uint<SIMD> >& in, hls::stream<ap_uint<PE> >& out,
                           const typename rom_s<CMP_W>::type thresholds[PE][O / PE],
                           const typename rom_u<8>::type row_class[OH], const typename rom_u<8>::type col_class[OW],
                           const typename rom_s<CMP_W>::type correction[PE][RC * CC * (O / PE)],
                           unsigned reps) {
#pragma HLS INLINE
  static_assert(C % SIMD == 0, "SIMD must divide the input channels");
  static_assert(O % PE == 0, "PE must divide the output channels");
  constexpr int NF = O / PE;
  constexpr int SF = T * C / SIMD;
  constexpr int STEPS = NF > SF ? NF : SF;
  ap_uint<SIMD> next[SF];  // the window being read
  ap_uint<SIMD> cur[SF];   // the window whose steps are issued
#pragma HLS ARRAY_PARTITION variable = next complete
#pragma HLS ARRAY_PARTITION variable = cur complete
  const unsigned pixels = reps * OH * OW;
  unsigned pix = 0;  // pixel being read; its predecessor's steps are issued
  int step = 0, ox = 0, oy = 0;  // the step, and the pixel whose steps are issued
  // one extra pixel slot at the end issues the last window's steps
  for (unsigned it = 0; it < (pixels + 1) * STEPS; it++) {
#pragma HLS PIPELINE II = 1
    if (pix < pixels && step < SF) {
      for (int w = 0; w + 1 < SF; w++) {
#pragma HLS UNROLL
        next[w] = next[w + 1];
      }
      next[SF - 1] = in.read();
    }
    if (pix > 0 && step < NF) {
      // the window by channel: window bit t * C + c (word bit / SIMD) is tap t of channel c
      ap_uint<T> taps[C];
#pragma HLS ARRAY_PARTITION variable = taps complete
      for (int c = 0; c < C; c++) {
#pragma HLS UNROLL
        for (int t = 0; t < T; t++) {
#pragma HLS UNROLL
          taps[c][t] = cur[(t * C + c) / SIMD][(t * C + c) % SIMD];
        }
      }
      ap_uint<SUM_W> sums[PE];
#pragma HLS ARRAY_PARTITION variable = sums complete
      UNIT::sums(taps, step, sums);
      const int cls = BORDER ? int(row_class[oy]) * CC + int(col_class[ox]) : 0;
      ap_uint<PE> word = 0;
      for (int p = 0; p < PE; p++) {
#pragma HLS UNROLL
        ap_int<CMP_W + 1> v = ap_int<CMP_W + 1>(2 * sums[p]);
        if (BORDER) v += correction[p][cls * NF + step];
        word[p] = v >= thresholds[p][step];
      }
      out.write(word);
    }
    if (step == STEPS - 1) {
      for (int w = 0; w < SF; w++) {
#pragma HLS UNROLL
        cur[w] = next[w];
      }
      if (pix > 0) {  // the issued pixel is done
        if (ox < OW - 1) {
          ox++;
        } else {
          ox = 0;
          oy = (oy < OH - 1) ? oy + 1 : 0;
        }
      }
      pix++;
      step = 0;
    } else {
      step++;
    }
  }
}

}  // namespace bnn

#endif
