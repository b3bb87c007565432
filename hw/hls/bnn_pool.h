// Binary max-pool, K x K windows with stride K (ONNX floor mode: leftover rows/columns are read
// and dropped). The max of bipolar values is an OR of their bits; channels in AND_MASK take the
// AND instead (a max taken before a decreasing threshold, see the BatchShift docs).
// Input/output: pixels row-major, C / PE words of PE channel bits per pixel.
#ifndef BNN_POOL_H
#define BNN_POOL_H

#include "bnn_common.h"

namespace bnn {

// IH, IW  input rows and columns
// C       channels (a multiple of PE)
// PE      channels per stream word (the producer's PE)
// K       window size and stride
template <int IH, int IW, int C, int PE, int K>
void maxpool_bits(hls::stream<ap_uint<PE> >& in, hls::stream<ap_uint<PE> >& out,
                  const ap_uint<PE> and_mask[C / PE], unsigned reps) {
  static_assert(C % PE == 0, "the word width must divide the channels");
  constexpr int CW = C / PE;
  constexpr int OH = IH / K;
  constexpr int OW = IW / K;
  ap_uint<PE> any[OW * CW];
  ap_uint<PE> all[OW * CW];
  const unsigned total = reps * IH * IW * CW;
  for (unsigned i = 0; i < total; i++) {
#pragma HLS PIPELINE II = 1
    const int cw = i % CW;
    const int x = (i / CW) % IW;
    const int y = (i / (CW * IW)) % IH;
    const ap_uint<PE> word = in.read();
    if (y < OH * K && x < OW * K) {
      const int slot = (x / K) * CW + cw;
      const bool first = (y % K == 0) && (x % K == 0);
      const ap_uint<PE> a = first ? word : ap_uint<PE>(any[slot] | word);
      const ap_uint<PE> b = first ? word : ap_uint<PE>(all[slot] & word);
      any[slot] = a;
      all[slot] = b;
      if (y % K == K - 1 && x % K == K - 1) out.write((a & ~and_mask[cw]) | (b & and_mask[cw]));
    }
  }
}

}  // namespace bnn

#endif
