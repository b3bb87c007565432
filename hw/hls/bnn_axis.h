// AXI-Stream words at the accelerator's boundary and the adapters to internal streams.
#ifndef BNN_AXIS_H
#define BNN_AXIS_H

#include "bnn_common.h"

#if defined(__has_include)
#if __has_include(<ap_axi_sdata.h>)
#define BNN_HAVE_AP_AXI_SDATA 1
#endif
#endif

// Side channels (TUSER, TID, TDEST): none for Vitis HLS (ap_axiu<W, 0, 0, 0>); one bit each for
// Vivado HLS, whose ap_axiu has no zero-width form (config.h sets BNN_AXIS_SIDE_BITS).
#ifndef BNN_AXIS_SIDE_BITS
#define BNN_AXIS_SIDE_BITS 0
#endif

#ifdef BNN_HAVE_AP_AXI_SDATA
#include <ap_axi_sdata.h>
namespace bnn {
template <int W>
using axis_word = ap_axiu<W, BNN_AXIS_SIDE_BITS, BNN_AXIS_SIDE_BITS, BNN_AXIS_SIDE_BITS>;
}
#else
namespace bnn {
// Same fields as Xilinx's ap_axiu, for C simulation without the tool.
template <int W>
struct axis_word {
  ap_uint<W> data;
  ap_uint<(W + 7) / 8> keep;
  ap_uint<(W + 7) / 8> strb;
  ap_uint<1> last;
#if BNN_AXIS_SIDE_BITS > 0
  ap_uint<BNN_AXIS_SIDE_BITS> user;
  ap_uint<BNN_AXIS_SIDE_BITS> id;
  ap_uint<BNN_AXIS_SIDE_BITS> dest;
#endif
};
}  // namespace bnn
#endif

namespace bnn {

// AXI-Stream input -> internal stream of W-bit words (W <= AXI_W); WORDS words per image.
// AXI_W  bits of the AXI-Stream word (a power of two from 8)
// W      bits of the internal stream word (the low W bits of each AXI word)
// WORDS  words per image
template <int AXI_W, int W, int WORDS>
void axis_to_stream(hls::stream<axis_word<AXI_W> >& in, hls::stream<ap_uint<W> >& out,
                    unsigned reps) {
  static_assert(AXI_W >= 8 && (AXI_W & (AXI_W - 1)) == 0, "AXI_W: a power of two from 8");
  static_assert(W >= 1 && W <= AXI_W, "the internal word fits the AXI word");
  for (unsigned i = 0; i < reps * WORDS; i++) {
#pragma HLS PIPELINE II = 1
    axis_word<AXI_W> word = in.read();
    out.write(ap_uint<W>(word.data));  // the low W bits
  }
}

// Packed scores (PE signed SCORE_BITS-bit values per word, CLASSES / PE words per image) ->
// one 32-bit AXI-Stream word per class, TLAST on the batch's last word.
// PE          scores per input word
// SCORE_BITS  bits of a score lane (sign-extended or cut to 32)
// CLASSES     scores per image (a multiple of PE)
template <int PE, int SCORE_BITS, int CLASSES>
void scores_to_axis(hls::stream<ap_uint<PE * SCORE_BITS> >& in, hls::stream<axis_word<32> >& out,
                    unsigned reps) {
  static_assert(PE >= 1 && CLASSES % PE == 0, "PE must divide the classes");
  ap_uint<PE * SCORE_BITS> word = 0;
  const unsigned total = reps * CLASSES;
  for (unsigned i = 0; i < total; i++) {
#pragma HLS PIPELINE II = 1
    const unsigned lane = i % PE;
    if (lane == 0) word = in.read();
    const ap_int<SCORE_BITS> score = ap_int<SCORE_BITS>(word);  // lane 0 is in the low bits
    word >>= SCORE_BITS;
    axis_word<32> o;
    o.data = ap_int<32>(score);
    o.keep = -1;
    o.strb = -1;
    o.last = (i == total - 1);
#if BNN_AXIS_SIDE_BITS > 0
    o.user = 0;
    o.id = 0;
    o.dest = 0;
#endif
    out.write(o);
  }
}

}  // namespace bnn

#endif
