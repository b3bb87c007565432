// Sliding-window (im2col) generator for a KH x KW convolution with stride and padding.
//
// Input: IH x IW pixels, each C / SIMD words of SIMD elements (ELEM_BITS bits each), row-major.
// Output: for each output pixel (row-major), the window in (ky, kx, channel word) order:
// KH * KW * C / SIMD words. Taps outside the image are PAD_WORD (all-zero bits = -1 for
// binary zero padding, corrected later by the MVTU's border correction; 0 for integers).
//
// The line buffer is a ring of KH + SH input rows. One loop per image: while it emits the
// windows of output row oy (one word per iteration) it loads the rows output row oy + 1 needs
// (one word per iteration), as the RTL kernel does; rows below the last window are read and
// dropped. An image takes about FILL + sum over the output rows of max(words emitted, words
// loaded) iterations (FILL: the first output row's input rows).
//
// II = 1 by construction: an iteration writes at most one word of the line buffer and reads at
// most one (a simple dual-port RAM: one write port, one read port); the rows being read (the
// current window's) and the row being written (a later one) are different slots of the ring,
// so nothing is read-modified-written; every index comes from counters (no division).
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
                    const ap_uint<SIMD * ELEM_BITS> pad_word,
                    ap_uint<SIMD * ELEM_BITS> line[(KH + SH) * IW * (C / SIMD)], unsigned reps) {
#pragma HLS INLINE
  static_assert(C % SIMD == 0, "SIMD must divide the input channels");
  static_assert(PT < KH && PB < KH && PL < KW && PR < KW, "padding must be below the kernel");
  constexpr int CW = C / SIMD;  // words per pixel
  constexpr int ROW = IW * CW;  // words per input row
  constexpr int R = KH + SH;    // rows in the ring
  constexpr int OH = (IH + PT + PB - KH) / SH + 1;
  constexpr int OW = (IW + PL + PR - KW) / SW + 1;
  for (unsigned rep = 0; rep < reps; rep++) {
    // loading: row ly (rows loaded so far), word lpos of it, at ring slot lslot
    int ly = 0, lpos = 0, lslot = 0;
    // emitting: output row oy, whose window starts at input row y0 (ring slot top); pixel
    // column x0 = ox * SW - PL; tap (ky, kx, cw)
    int oy = 0, y0 = -PT, top = (PT == 0) ? 0 : R - PT, x0 = -PL, ox = 0, ky = 0, kx = 0, cw = 0;
    int need = (KH - PT < IH) ? KH - PT : IH;  // input rows output row oy needs
    bool done = false;
    while (!done) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 1
      const bool emitting = oy < OH;
      const bool can_emit = emitting && ly >= need;
      // load the rows the next output row needs (the ring holds KH + SH), or drain the rest
      const bool can_load = ly < IH && (!emitting || ly < y0 + R);
      if (can_load) {
        line[lslot * ROW + lpos] = in.read();
        if (lpos == ROW - 1) {
          lpos = 0;
          ly++;
          lslot = (lslot == R - 1) ? 0 : lslot + 1;
        } else {
          lpos++;
        }
      }
      if (can_emit) {
        const int y = y0 + ky;
        const int x = x0 + kx;
        const bool inside = y >= 0 && y < IH && x >= 0 && x < IW;
        const int slot = (top + ky >= R) ? top + ky - R : top + ky;
        const ap_uint<SIMD * ELEM_BITS> word = line[slot * ROW + (inside ? x : 0) * CW + cw];
        out.write(inside ? word : pad_word);
        // next tap, pixel, row
        if (cw < CW - 1) {
          cw++;
        } else {
          cw = 0;
          if (kx < KW - 1) {
            kx++;
          } else {
            kx = 0;
            if (ky < KH - 1) {
              ky++;
            } else {
              ky = 0;
              if (ox < OW - 1) {
                ox++;
                x0 += SW;
              } else {
                ox = 0;
                x0 = -PL;
                oy++;
                y0 += SH;
                top = (top + SH >= R) ? top + SH - R : top + SH;
                need = (need + SH < IH) ? need + SH : IH;
              }
            }
          }
        }
      }
      done = !emitting && ly == IH;
    }
  }
}

}  // namespace bnn

#endif
