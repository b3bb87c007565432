// Max-pool, K x K windows with stride K (ONNX floor mode: leftover rows/columns are read and
// dropped), on bits or on EB-bit signed codes (multi-level activations). The max of bipolar
// values is an OR of their bits, of codes their signed max; channels in AND_MASK take the min
// instead (an AND of bits: a max taken before a decreasing threshold, see the BatchShift docs).
// Input/output: pixels row-major, C / PE words of PE channel elements per pixel.
//
// II = 1 by construction: the running OR and AND (max and min of codes) of a window live in
// registers, never in a memory that is read, modified and written back: a shift register of CW words carries a
// window row's run over its K pixels, and a delay line of OW x CW words carries the window's
// run over its K rows (shifted once per completed window row); the mask is one read per
// iteration of each of its PE banks; every index comes from counters (no division).
#ifndef BNN_POOL_H
#define BNN_POOL_H

#include "bnn_common.h"

namespace bnn {

// Element-wise max and min of PE elements of EB bits: OR and AND for bits, signed for codes.
template <int PE, int EB>
ap_uint<PE * EB> elem_max(ap_uint<PE * EB> a, ap_uint<PE * EB> b) {
#pragma HLS INLINE
  if (EB == 1) return a | b;
  ap_uint<PE * EB> r = 0;
  for (int p = 0; p < PE; p++) {
#pragma HLS UNROLL
    const ap_int<EB> x = ap_int<EB>(a.range(p * EB + EB - 1, p * EB));
    const ap_int<EB> y = ap_int<EB>(b.range(p * EB + EB - 1, p * EB));
    r.range(p * EB + EB - 1, p * EB) = ap_uint<EB>(x > y ? x : y);
  }
  return r;
}

template <int PE, int EB>
ap_uint<PE * EB> elem_min(ap_uint<PE * EB> a, ap_uint<PE * EB> b) {
#pragma HLS INLINE
  if (EB == 1) return a & b;
  ap_uint<PE * EB> r = 0;
  for (int p = 0; p < PE; p++) {
#pragma HLS UNROLL
    const ap_int<EB> x = ap_int<EB>(a.range(p * EB + EB - 1, p * EB));
    const ap_int<EB> y = ap_int<EB>(b.range(p * EB + EB - 1, p * EB));
    r.range(p * EB + EB - 1, p * EB) = ap_uint<EB>(x < y ? x : y);
  }
  return r;
}

// The mask bit of each element of channel word cw, spread over the element's EB bits.
template <int PE, int EB, int CW>
ap_uint<PE * EB> elem_mask(const typename rom_u<1>::type and_mask[PE][CW], int cw) {
#pragma HLS INLINE
  ap_uint<PE * EB> mask = 0;
  for (int p = 0; p < PE; p++) {
#pragma HLS UNROLL
    mask.range(p * EB + EB - 1, p * EB) = and_mask[p][cw] ? ~ap_uint<EB>(0) : ap_uint<EB>(0);
  }
  return mask;
}

// IH, IW  input rows and columns
// C       channels (a multiple of PE)
// PE      channels per stream word (the producer's PE)
// K       window size and stride
// EB      bits per element: 1 (bits) or a code's width
template <int IH, int IW, int C, int PE, int K, int EB>
void maxpool_bits(hls::stream<ap_uint<PE * EB> >& in, hls::stream<ap_uint<PE * EB> >& out,
                  const typename rom_u<1>::type and_mask[PE][C / PE], unsigned reps) {
#pragma HLS INLINE
  static_assert(C % PE == 0, "the word width must divide the channels");
  constexpr int CW = C / PE;
  constexpr int OH = IH / K;
  constexpr int OW = IW / K;
  static_assert(OH >= 1 && OW >= 1, "the window must fit the input");
  typedef ap_uint<PE * EB> word_t;
  word_t row_any[CW], row_all[CW];        // a window row's run (max, min), per channel word
  word_t col_any[OW * CW], col_all[OW * CW];  // the window's run over its rows
#pragma HLS ARRAY_PARTITION variable = row_any complete
#pragma HLS ARRAY_PARTITION variable = row_all complete
#pragma HLS ARRAY_PARTITION variable = col_any complete
#pragma HLS ARRAY_PARTITION variable = col_all complete
  int cw = 0, x = 0, y = 0, kx = 0, ky = 0;
  const unsigned total = reps * IH * IW * CW;
  for (unsigned i = 0; i < total; i++) {
#pragma HLS PIPELINE II = 1
    const word_t word = in.read();
    const bool used = y < OH * K && x < OW * K;
    // the run of this window row for channel word cw, over kx + 1 pixels
    const word_t a = (kx == 0) ? word : elem_max<PE, EB>(row_any[0], word);
    const word_t b = (kx == 0) ? word : elem_min<PE, EB>(row_all[0], word);
    for (int j = 0; j + 1 < CW; j++) {
#pragma HLS UNROLL
      row_any[j] = row_any[j + 1];
      row_all[j] = row_all[j + 1];
    }
    row_any[CW - 1] = a;
    row_all[CW - 1] = b;
    if (used && kx == K - 1) {  // a window row is complete: combine with the rows above
      const word_t va = (ky == 0) ? a : elem_max<PE, EB>(col_any[0], a);
      const word_t vb = (ky == 0) ? b : elem_min<PE, EB>(col_all[0], b);
      for (int j = 0; j + 1 < OW * CW; j++) {
#pragma HLS UNROLL
        col_any[j] = col_any[j + 1];
        col_all[j] = col_all[j + 1];
      }
      col_any[OW * CW - 1] = va;
      col_all[OW * CW - 1] = vb;
      const word_t mask = elem_mask<PE, EB, CW>(and_mask, cw);
      if (ky == K - 1) out.write((va & ~mask) | (vb & mask));
    }
    // next channel word, pixel, row
    if (cw < CW - 1) {
      cw++;
    } else {
      cw = 0;
      kx = (kx == K - 1) ? 0 : kx + 1;
      if (x < IW - 1) {
        x++;
      } else {
        x = 0;
        kx = 0;
        ky = (ky == K - 1) ? 0 : ky + 1;
        if (y < IH - 1) {
          y++;
        } else {
          y = 0;
          ky = 0;
        }
      }
    }
  }
}

// The max over each window's taps, behind sliding_window: a max-pool whose windows overlap or
// are not square. Per output pixel TAPS x CW words in (tap-major, channel word fastest), CW
// words out: the max over the taps (OR of bits), the min (AND) for the channels in the mask.
//
// II = 1 by construction: the running OR and AND (max and min) per channel word are a shift
// register of CW words (registers), the mask one read per bank per iteration, indices from counters.
//
// PE      channels per word
// CW      words per pixel (channels / PE)
// TAPS    taps per window (KH x KW)
// PIXELS  output pixels per image
// EB      bits per element: 1 (bits) or a code's width
template <int PE, int CW, int TAPS, int PIXELS, int EB>
void window_max_bits(hls::stream<ap_uint<PE * EB> >& in, hls::stream<ap_uint<PE * EB> >& out,
                     const typename rom_u<1>::type and_mask[PE][CW], unsigned reps) {
#pragma HLS INLINE
  typedef ap_uint<PE * EB> word_t;
  word_t run_any[CW], run_all[CW];
#pragma HLS ARRAY_PARTITION variable = run_any complete
#pragma HLS ARRAY_PARTITION variable = run_all complete
  int cw = 0, tap = 0;
  const unsigned total = reps * PIXELS * TAPS * CW;
  for (unsigned i = 0; i < total; i++) {
#pragma HLS PIPELINE II = 1
    const word_t word = in.read();
    const word_t a = (tap == 0) ? word : elem_max<PE, EB>(run_any[0], word);
    const word_t b = (tap == 0) ? word : elem_min<PE, EB>(run_all[0], word);
    for (int j = 0; j + 1 < CW; j++) {
#pragma HLS UNROLL
      run_any[j] = run_any[j + 1];
      run_all[j] = run_all[j + 1];
    }
    run_any[CW - 1] = a;
    run_all[CW - 1] = b;
    if (tap == TAPS - 1) {
      const word_t mask = elem_mask<PE, EB, CW>(and_mask, cw);
      out.write((a & ~mask) | (b & mask));
    }
    if (cw < CW - 1) {
      cw++;
    } else {
      cw = 0;
      tap = (tap == TAPS - 1) ? 0 : tap + 1;
    }
  }
}

}  // namespace bnn

#endif
