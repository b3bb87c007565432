// Top-1 label from packed scores (PE signed SCORE_BITS-bit scores per word, CLASSES / PE words
// per image). Ties go to the lowest class index, as numpy's argmax.
#ifndef BNN_LABEL_H
#define BNN_LABEL_H

#include "bnn_common.h"

namespace bnn {

// CLASSES     scores per image (a multiple of PE)
// PE          scores per input word
// SCORE_BITS  bits of a score lane
template <int CLASSES, int PE, int SCORE_BITS>
void label_select(hls::stream<ap_uint<PE * SCORE_BITS> >& in, hls::stream<ap_uint<32> >& out,
                  unsigned reps) {
  static_assert(PE >= 1 && CLASSES % PE == 0, "PE must divide the classes");
  static_assert(SCORE_BITS >= 1 && SCORE_BITS <= 32, "a score lane has 1 to 32 bits");
  constexpr int WORDS = CLASSES / PE;
  ap_int<SCORE_BITS> best = 0;
  ap_uint<32> best_class = 0;
  for (unsigned i = 0; i < reps * WORDS; i++) {
#pragma HLS PIPELINE II = 1
    const int w = i % WORDS;
    ap_uint<PE * SCORE_BITS> word = in.read();
    ap_int<SCORE_BITS> m = best;
    ap_uint<32> mc = best_class;
    for (int p = 0; p < PE; p++) {
#pragma HLS UNROLL
      const ap_int<SCORE_BITS> s = ap_int<SCORE_BITS>(word);
      word >>= SCORE_BITS;
      if ((w == 0 && p == 0) || s > m) {
        m = s;
        mc = w * PE + p;
      }
    }
    best = m;
    best_class = mc;
    if (w == WORDS - 1) out.write(best_class);
  }
}

}  // namespace bnn

#endif
