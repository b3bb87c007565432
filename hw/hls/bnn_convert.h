// Stream width converters between layers whose word sizes differ (a producer's PE and the
// consumer's SIMD): gather K narrow words into one (OUT_W = K * IN_W) or split one wide word
// into K (IN_W = K * OUT_W). Element order is kept: the first word holds the low bits.
#ifndef BNN_CONVERT_H
#define BNN_CONVERT_H

#include "bnn_common.h"

namespace bnn {

// IN_W      bits of an input word
// OUT_W     bits of an output word (a multiple of IN_W)
// IN_WORDS  input words per image (a multiple of OUT_W / IN_W)
template <int IN_W, int OUT_W, int IN_WORDS>
void gather_words(hls::stream<ap_uint<IN_W> >& in, hls::stream<ap_uint<OUT_W> >& out,
                  unsigned reps) {
  static_assert(OUT_W % IN_W == 0, "gather needs OUT_W = k * IN_W");
  constexpr int RATIO = OUT_W / IN_W;
  static_assert(IN_WORDS % RATIO == 0, "an image must fill whole output words");
  ap_uint<OUT_W> word = 0;
  for (unsigned i = 0; i < reps * IN_WORDS; i++) {
#pragma HLS PIPELINE II = 1
    // shift in from the top: after RATIO words the first one sits in the low bits
    word = (word >> IN_W) | (ap_uint<OUT_W>(in.read()) << (OUT_W - IN_W));
    if (i % RATIO == RATIO - 1) out.write(word);
  }
}

// IN_W      bits of an input word (a multiple of OUT_W)
// OUT_W     bits of an output word
// IN_WORDS  input words per image
template <int IN_W, int OUT_W, int IN_WORDS>
void split_words(hls::stream<ap_uint<IN_W> >& in, hls::stream<ap_uint<OUT_W> >& out,
                 unsigned reps) {
  static_assert(IN_W % OUT_W == 0, "split needs IN_W = k * OUT_W");
  constexpr int RATIO = IN_W / OUT_W;
  ap_uint<IN_W> word = 0;
  for (unsigned i = 0; i < reps * IN_WORDS * RATIO; i++) {
#pragma HLS PIPELINE II = 1
    if (i % RATIO == 0) word = in.read();
    out.write(ap_uint<OUT_W>(word));  // the low bits first
    word >>= OUT_W;
  }
}

}  // namespace bnn

#endif
