// Sliding-window (im2col) generator for a KH x KW convolution with stride and padding.
//
// Input: IH x IW pixels, each C / SIMD words of SIMD elements (ELEM_BITS bits each), row-major.
// Output: for each output pixel (row-major), the window in (ky, kx, channel word) order:
// KH * KW * C / SIMD words. Taps outside the image are PAD_WORD (all-zero bits = -1 for
// binary zero padding, corrected later by the MVTU's border correction; 0 for integers).
// The line buffer holds exactly KH input rows.
#ifndef BNN_SWG_H
#define BNN_SWG_H

#include "bnn_common.h"

namespace bnn {

// IH, IW          input rows and columns
// C               input channels (a multiple of SIMD)
// SIMD            channels per stream word
// ELEM_BITS       bits per channel (1: binary; the input quantiser's bits for the first layer)
// KH, KW          kernel rows and columns
// SH, SW          strides
// PT, PL, PB, PR  padding at the top, left, bottom, right (each smaller than the kernel)
template <int IH, int IW, int C, int SIMD, int ELEM_BITS, int KH, int KW, int SH, int SW,
          int PT, int PL, int PB, int PR>
void sliding_window(hls::stream<ap_uint<SIMD * ELEM_BITS> >& in,
                    hls::stream<ap_uint<SIMD * ELEM_BITS> >& out,
                    const ap_uint<SIMD * ELEM_BITS> pad_word, unsigned reps) {
  constexpr int CW = C / SIMD;  // words per pixel
  constexpr int OH = (IH + PT + PB - KH) / SH + 1;
  constexpr int OW = (IW + PL + PR - KW) / SW + 1;
  static_assert(C % SIMD == 0, "SIMD must divide the input channels");
  ap_uint<SIMD * ELEM_BITS> line[KH][IW * CW];
#pragma HLS ARRAY_PARTITION variable = line complete dim = 1
  for (unsigned rep = 0; rep < reps; rep++) {
    int loaded = 0;  // input rows read so far
    for (int oy = 0; oy < OH; oy++) {
      // bring in every row this output row needs (the oldest slot is overwritten)
      int need = oy * SH - PT + KH;
      if (need > IH) need = IH;
      const int load_words = (need > loaded ? need - loaded : 0) * IW * CW;
      for (int i = 0; i < load_words; i++) {
#pragma HLS PIPELINE II = 1
        const int row = loaded + i / (IW * CW);
        line[row % KH][i % (IW * CW)] = in.read();
      }
      if (need > loaded) loaded = need;
      for (int i = 0; i < OW * KH * KW * CW; i++) {
#pragma HLS PIPELINE II = 1
        const int ox = i / (KH * KW * CW);
        const int tap = i % (KH * KW * CW);
        const int ky = tap / (KW * CW);
        const int kx = (tap / CW) % KW;
        const int cw = tap % CW;
        const int y = oy * SH - PT + ky;
        const int x = ox * SW - PL + kx;
        const bool inside = y >= 0 && y < IH && x >= 0 && x < IW;
        out.write(inside ? line[(inside ? y : 0) % KH][(inside ? x : 0) * CW + cw] : pad_word);
      }
    }
    // rows below the last window are never used: drain them
    for (int i = 0; i < (IH - loaded) * IW * CW; i++) {
#pragma HLS PIPELINE II = 1
      in.read();
    }
  }
}

}  // namespace bnn

#endif
