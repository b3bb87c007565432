// Matrix-vector-threshold unit: XNOR-popcount (binary inputs) or add/subtract (integer inputs)
// of SIMD inputs x PE outputs per cycle, folded over a K x O weight matrix (NF = O / PE output
// folds, SF = K / SIMD input folds), weights in on-chip ROM: binary (W_BITS = 1) or signed
// W_BITS-bit integers (multi-bit weights: a small product per input).
//
// Per input vector (a dense layer's input, or one conv window from the sliding-window
// generator) it emits NF words; word nf holds output channels nf * PE + p at element p.
// The accumulator is the exact dot product: 2 * popcount(xnor) - K (binary x binary),
// sum(w ? x : -x) (integer inputs, binary weights), sum(w * x) (multi-bit weights, x = +-1 for
// bits). A zero-padded conv with binary inputs adds the border correction of the output
// pixel's class. Outputs: per channel the code OUT_LO + #{l : acc >= T[l]} over its LEVELS
// thresholds in OUT_BITS bits (one threshold, OUT_LO = 0: the bit acc >= T;
// mvtu_threshold), or PE packed signed scores (mvtu_scores, last layer).
//
// II = 1 by construction: each PE reads one word of its own bank of weights and corrections per
// iteration, and each of its LEVELS thresholds from its own bank (the tables are partitioned:
// one read per bank); the input
// vector buffer takes one write (the first output fold) and one read (the others) per
// iteration and is never read-modified-written; the accumulators are registers; every index
// comes from a counter (no division of the loop index). The input elements xs / neg_xs (and,
// over bases, the base vectors xb / wb) are computed fresh each iteration from x (no
// loop-carried dependence) into completely partitioned arrays (registers, any number of
// reads); the weights' sign bits (WSIGN) and the decoded trits (WPACK: comparisons on each
// 5-bit code of the word just read, no table) are logic on that word, in registers; the
// XNOR-popcount (xnor_popcount, bnn_common.h: popcount<N>(~(a ^ b)) in synthesis) is inlined
// logic on those registers and reads no array. hls_check checks the tables passed in;
// these local arrays are not among them: their complete partition pragmas are what makes them
// registers.
//
// BASES = 1: the MVTU over binary bases (docs/pa.md, dataflow/bases.py): a weight element is
// WB base bits (W_BITS = WB), an input element gives XB base bits (its bits, XFORM = 0, or
// the steps code >= XLO + n for n = 1..XB, XFORM = 1); per PE the sum over base pairs
// (m, n), base 0 the constant 1, of coeffs[m][n] * popcount(w_m & x_n). The input bases are
// computed once for all PEs; coeffs are constants read at unrolled indices (no table port).
// WSIGN = 1 (sign-magnitude weights): the element's bit WB is its sign, its WB bases are of
// the magnitude, and the pair's bits are w_m & (x_n ^ sign): the sum is the dot product less
// a per-channel constant, which the stage has taken off the thresholds (bases.py).
// Sums wrap in ACC_BITS + 2 bits like every accumulator here; the exact result fits, so the
// wrapped sum is exact.
//
// WGEN = 1: the weights come from the fixed-sign generator (docs/fsb.md) instead of a ROM:
// lane p keeps the LFSR state of its current output channel, starts it from seeds[p][nf] at
// the first input fold and steps it SIMD times per iteration (an XOR network; the state is a
// register updated once per iteration, a recurrence of distance 1 that keeps II = 1), and
// inverts the bits where invert[p][nf] (a channel BatchShift negated). seeds and invert are
// banked per lane like the thresholds: one read each per bank per iteration.
#ifndef BNN_MVTU_H
#define BNN_MVTU_H

#include "bnn_common.h"

namespace bnn {

// bits of one PE's weight word: SIMD elements of W_BITS bits, or (WPACK) a 5-bit code per
// three ternary weights
constexpr int mvtu_weight_word(int simd, int w_bits, int wpack) {
  return wpack ? 5 * ((simd + 2) / 3) : simd * w_bits;
}

// K         fan-in (inputs summed per output; taps x channels for a conv)
// O         outputs (a multiple of PE)
// SIMD      inputs per cycle (divides K)
// PE        outputs per cycle (divides O)
// INT_IN    integer inputs (add/subtract) instead of bits (XNOR-popcount)
// IN_BITS   bits per input element (1 for bits)
// W_BITS    bits per weight: 1 (binary, bit 1 = +1) or a signed integer's width
// ACC_BITS  signed bits of the exact accumulator (thresholds and corrections have 2 more)
// SCORES    output PE signed scores instead of PE threshold codes
// LEVELS    thresholds per output channel (1: a bit; more: a multi-level code)
// OUT_BITS  bits per output code (two's complement)
// OUT_LO    the lowest output code
// OUT_W     bits of an output word (PE x OUT_BITS or PE x score bits)
// OH, OW    output pixels per image (1 x 1 for a dense layer)
// WGEN      weights from the fixed-sign generator (seeds, invert) instead of `weights`
// BASES     the MVTU over binary bases (coeffs): WB weight bases, XB input bases
// WB        weight bases per element (W_BITS = WB + WSIGN over bases; 1 otherwise, unused)
// WSIGN     over bases: the element's top bit is its sign (sign-magnitude weights)
// WPACK     over bases: ternary weights (WB = 1, WSIGN = 1) stored three per 5-bit code
//           t0 + 3 t1 + 9 t2, t = w + 1 (packing.pack_trits): (SIMD + 2) / 3 codes per word
// XB        input bases per element (at most IN_BITS as bit-planes; 1 otherwise, unused)
// XFORM     input bases: 0 the element's bits, 1 its steps code >= XLO + n (n = 1..XB)
// XLO       the steps' lowest code (XFORM 1)
// SCORE_BITS  (mvtu_scores) bits of an output score lane (OUT_W = PE x SCORE_BITS)
// BORDER    add the zero-padding correction of the pixel's row and column class
// RC, CC    row and column classes of that correction
template <int K, int O, int SIMD, int PE, bool INT_IN, int IN_BITS, int W_BITS, int ACC_BITS,
          bool SCORES, int LEVELS, int OUT_BITS, int OUT_LO, int OUT_W, int OH, int OW,
          bool BORDER, int RC, int CC, bool WGEN, bool BASES, int WB, int WSIGN, int WPACK, int XB, int XFORM, int XLO>
void mvtu_core(hls::stream<ap_uint<SIMD * IN_BITS> >& in, hls::stream<ap_uint<OUT_W> >& out,
               const typename rom_u<mvtu_weight_word(SIMD, W_BITS, WPACK)>::type weights[PE][WGEN ? 1 : (O / PE) * (K / SIMD)],
               const typename rom_u<32>::type seeds[PE][WGEN ? O / PE : 1],
               const typename rom_u<1>::type invert[PE][WGEN ? O / PE : 1],
               const typename rom_s<ACC_BITS + 2>::type thresholds[PE * LEVELS][O / PE],
               const typename rom_u<8>::type row_class[OH], const typename rom_u<8>::type col_class[OW],
               const typename rom_s<ACC_BITS + 2>::type correction[PE][RC * CC * (O / PE)],
               const long long coeffs[WB + 1][XB + 1], ap_uint<SIMD * IN_BITS> vec[K / SIMD],
               unsigned reps) {
#pragma HLS INLINE
  static_assert(K % SIMD == 0, "SIMD must divide the fan-in");
  static_assert(!BASES || W_BITS == WB + WSIGN, "a weight element holds its WB base bits and sign");
  static_assert(WSIGN == 0 || WSIGN == 1, "WSIGN: 0 or 1");
  static_assert(!WPACK || (BASES && WB == 1 && WSIGN == 1), "WPACK: ternary weights over bases");
  static_assert(XFORM == 0 || XFORM == 1, "XFORM: 0 bit-planes, 1 steps");
  static_assert(XB >= 1 && WB >= 1, "at least one weight and one input base");
  static_assert(!BASES || XFORM == 1 || XB <= IN_BITS, "bit-plane bases: at most IN_BITS");
  static_assert(O % PE == 0, "PE must divide the output channels");
  constexpr int NF = O / PE;
  constexpr int SF = K / SIMD;
  constexpr int SCORE_BITS = SCORES ? OUT_W / PE : 1;
  typedef typename acc_int<ACC_BITS + 2>::type acc_t;  // ap_int in synthesis (bnn_common.h)
  acc_t acc[PE];
#pragma HLS ARRAY_PARTITION variable = acc complete
  for (int p = 0; p < PE; p++) acc[p] = 0;
  ap_uint<32> lfsr[PE];  // WGEN: each lane's generator state
#pragma HLS ARRAY_PARTITION variable = lfsr complete
  // counters: input fold, output fold, weight address, output pixel
  int sf = 0, nf = 0, waddr = 0, ox = 0, oy = 0;
  const unsigned total = reps * OH * OW * NF * SF;
  for (unsigned i = 0; i < total; i++) {
#pragma HLS PIPELINE II = 1
    ap_uint<SIMD * IN_BITS> x;
    if (nf == 0) {
      x = in.read();
      if (NF > 1) vec[sf] = x;  // kept for the other output folds
    } else {
      x = vec[sf];
    }
    const int cls = BORDER ? int(row_class[oy]) * CC + int(col_class[ox]) : 0;
    // the input elements as signed values (+-1 for bits), taken apart once for all PEs: the
    // same wiring in hardware, and C simulation does not redo it PE times
    acc_t xs[SIMD], neg_xs[SIMD];
#pragma HLS ARRAY_PARTITION variable = xs complete
#pragma HLS ARRAY_PARTITION variable = neg_xs complete
    if (INT_IN || W_BITS > 1) {
      for (int s = 0; s < SIMD; s++) {
#pragma HLS UNROLL
        xs[s] = INT_IN ? acc_t(ap_int<IN_BITS>(x.range(s * IN_BITS + IN_BITS - 1, s * IN_BITS)))
                       : acc_t(x[s] ? 1 : -1);
        neg_xs[s] = -xs[s];
      }
    }
    const ap_uint<SIMD> x_bits = x;  // binary inputs
    // BASES: the input bases, base 0 the constant 1 (wiring and comparators, once for all PEs)
    ap_uint<SIMD> xb[XB + 1];
#pragma HLS ARRAY_PARTITION variable = xb complete
    if (BASES) {
      xb[0] = ~ap_uint<SIMD>(0);
      for (int n = 0; n < XB; n++) {
#pragma HLS UNROLL
        for (int s = 0; s < SIMD; s++) {
#pragma HLS UNROLL
          const ap_int<IN_BITS> e = ap_int<IN_BITS>(x.range(s * IN_BITS + IN_BITS - 1, s * IN_BITS));
          xb[n + 1][s] = XFORM == 1 ? (e >= XLO + n + 1) : bool(x[s * IN_BITS + n]);
        }
      }
    }
    ap_uint<OUT_W> word = 0;
    for (int p = 0; p < PE; p++) {
#pragma HLS UNROLL
      ap_uint<mvtu_weight_word(SIMD, W_BITS, WPACK)> w;
      if (WGEN) {
        ap_uint<32> st = sf == 0 ? ap_uint<32>(seeds[p][nf]) : lfsr[p];
        for (int s = 0; s < SIMD; s++) {
#pragma HLS UNROLL
          w[s] = st[0];
          st = (st >> 1) ^ (st[0] ? ap_uint<32>(FSB_LFSR_MASK) : ap_uint<32>(0));
        }
        lfsr[p] = st;
        if (invert[p][nf]) w = ~w;
      } else {
        w = weights[p][waddr];
      }
      acc_t partial = 0;
      if (BASES) {  // a popcount per base pair, times its constant coefficient
        ap_uint<SIMD> wb[WB + 1];
#pragma HLS ARRAY_PARTITION variable = wb complete
        wb[0] = ~ap_uint<SIMD>(0);
        ap_uint<SIMD> sign = 0;  // WSIGN: the weights' sign bits, which flip the input bases
        if (WPACK) {  // each 5-bit code is three trits t = w + 1 (logic on 5 bits, no table)
          for (int g = 0; g < (SIMD + 2) / 3; g++) {
#pragma HLS UNROLL
            const int code = int(w.range(g * 5 + 4, g * 5));
            const int t2 = code >= 18 ? 2 : code >= 9 ? 1 : 0;
            const int rest = code - 9 * t2;
            const int t1 = rest >= 6 ? 2 : rest >= 3 ? 1 : 0;
            const int t0 = rest - 3 * t1;
            for (int j = 0; j < 3; j++) {
#pragma HLS UNROLL
              const int t = j == 0 ? t0 : j == 1 ? t1 : t2;
              if (g * 3 + j < SIMD) {
                wb[1][g * 3 + j] = t != 1;
                sign[g * 3 + j] = t == 0;
              }
            }
          }
        } else {
          for (int m = 0; m < WB; m++) {
#pragma HLS UNROLL
            for (int s = 0; s < SIMD; s++) {
#pragma HLS UNROLL
              wb[m + 1][s] = w[s * W_BITS + m];
            }
          }
          for (int s = 0; s < SIMD; s++) {
#pragma HLS UNROLL
            if (WSIGN) sign[s] = w[s * W_BITS + WB];
          }
        }
        for (int m = 0; m <= WB; m++) {
#pragma HLS UNROLL
          for (int n = 0; n <= XB; n++) {
#pragma HLS UNROLL
            if (coeffs[m][n] != 0)
              partial += acc_t(coeffs[m][n]) * acc_t(popcount<SIMD>(wb[m] & (xb[n] ^ sign)));
          }
        }
      } else if (W_BITS > 1) {  // multi-bit weights: one small product per input
        for (int s = 0; s < SIMD; s++) {
#pragma HLS UNROLL
          const ap_int<W_BITS> ws = ap_int<W_BITS>(w.range(s * W_BITS + W_BITS - 1, s * W_BITS));
          partial += acc_t(ws) * xs[s];
        }
      } else if (INT_IN) {
        for (int s = 0; s < SIMD; s++) {
#pragma HLS UNROLL
          partial += w[s] ? xs[s] : neg_xs[s];
        }
      } else {
        partial = xnor_popcount<SIMD>(x_bits, w);
      }
      const acc_t sum = (sf == 0 ? acc_t(0) : acc[p]) + partial;
      acc[p] = sum;
      // 2 * popcount - K for bits, written as an addition (no multiplier, and none in C-sim)
      acc_t value = (BASES || INT_IN || W_BITS > 1) ? sum : acc_t(sum + sum - K);
      if (BORDER) value += correction[p][cls * NF + nf];
      if (SCORES) {  // shift lanes in from the top: lane p ends at bits [p * SB, (p + 1) * SB)
        word = (word >> SCORE_BITS) |
               (ap_uint<OUT_W>(ap_uint<SCORE_BITS>(ap_int<SCORE_BITS>(value)))
                << (OUT_W - SCORE_BITS));
      } else if (LEVELS == 1 && OUT_BITS == 1 && OUT_LO == 0) {  // a bit: one comparator
        word[p] = value >= thresholds[p][nf];  // (the general form below, without the adder)
      } else {  // the code: how many of the channel's thresholds the accumulator reaches
        ap_int<OUT_BITS + 1> count = 0;
        for (int l = 0; l < LEVELS; l++) {
#pragma HLS UNROLL
          count += value >= thresholds[p * LEVELS + l][nf] ? 1 : 0;
        }
        word.range(p * OUT_BITS + OUT_BITS - 1, p * OUT_BITS) = ap_uint<OUT_BITS>(count + OUT_LO);
      }
    }
    if (sf == SF - 1) out.write(word);
    // advance the counters
    waddr = (sf == SF - 1 && nf == NF - 1) ? 0 : waddr + 1;
    if (sf < SF - 1) {
      sf++;
    } else {
      sf = 0;
      if (nf < NF - 1) {
        nf++;
      } else {
        nf = 0;
        if (ox < OW - 1) {
          ox++;
        } else {
          ox = 0;
          oy = (oy < OH - 1) ? oy + 1 : 0;
        }
      }
    }
  }
}

// Threshold outputs: element p of word nf = the code of acc(nf * PE + p) (a bit acc >= T
// with one threshold).
template <int K, int O, int SIMD, int PE, bool INT_IN, int IN_BITS, int W_BITS, int ACC_BITS,
          int LEVELS, int OUT_BITS, int OUT_LO, int OH, int OW, bool BORDER, int RC, int CC,
          bool WGEN, bool BASES, int WB, int WSIGN, int WPACK, int XB, int XFORM, int XLO>
void mvtu_threshold(hls::stream<ap_uint<SIMD * IN_BITS> >& in,
                    hls::stream<ap_uint<PE * OUT_BITS> >& out,
                    const typename rom_u<mvtu_weight_word(SIMD, W_BITS, WPACK)>::type weights[PE][WGEN ? 1 : (O / PE) * (K / SIMD)],
                    const typename rom_u<32>::type seeds[PE][WGEN ? O / PE : 1],
                    const typename rom_u<1>::type invert[PE][WGEN ? O / PE : 1],
                    const typename rom_s<ACC_BITS + 2>::type thresholds[PE * LEVELS][O / PE],
                    const typename rom_u<8>::type row_class[OH], const typename rom_u<8>::type col_class[OW],
                    const typename rom_s<ACC_BITS + 2>::type correction[PE][RC * CC * (O / PE)],
                    const long long coeffs[WB + 1][XB + 1], ap_uint<SIMD * IN_BITS> vec[K / SIMD],
                    unsigned reps) {
#pragma HLS INLINE
  mvtu_core<K, O, SIMD, PE, INT_IN, IN_BITS, W_BITS, ACC_BITS, false, LEVELS, OUT_BITS, OUT_LO,
            PE * OUT_BITS, OH, OW, BORDER, RC, CC, WGEN, BASES, WB, WSIGN, WPACK, XB, XFORM, XLO>(
      in, out, weights, seeds, invert, thresholds, row_class, col_class, correction, coeffs, vec,
      reps);
}

// Integer outputs (the last layer): PE signed SCORE_BITS-bit scores per word.
template <int K, int O, int SIMD, int PE, bool INT_IN, int IN_BITS, int W_BITS, int ACC_BITS,
          int SCORE_BITS, int OH, int OW, bool BORDER, int RC, int CC, bool WGEN, bool BASES,
          int WB, int WSIGN, int WPACK, int XB, int XFORM, int XLO>
void mvtu_scores(hls::stream<ap_uint<SIMD * IN_BITS> >& in,
                 hls::stream<ap_uint<PE * SCORE_BITS> >& out,
                 const typename rom_u<mvtu_weight_word(SIMD, W_BITS, WPACK)>::type weights[PE][WGEN ? 1 : (O / PE) * (K / SIMD)],
                 const typename rom_u<32>::type seeds[PE][WGEN ? O / PE : 1],
                 const typename rom_u<1>::type invert[PE][WGEN ? O / PE : 1],
                 const typename rom_s<ACC_BITS + 2>::type thresholds[PE][O / PE],
                 const typename rom_u<8>::type row_class[OH], const typename rom_u<8>::type col_class[OW],
                 const typename rom_s<ACC_BITS + 2>::type correction[PE][RC * CC * (O / PE)],
                 const long long coeffs[WB + 1][XB + 1], ap_uint<SIMD * IN_BITS> vec[K / SIMD],
                 unsigned reps) {
#pragma HLS INLINE
  mvtu_core<K, O, SIMD, PE, INT_IN, IN_BITS, W_BITS, ACC_BITS, true, 1, 1, 0, PE * SCORE_BITS, OH,
            OW, BORDER, RC, CC, WGEN, BASES, WB, WSIGN, WPACK, XB, XFORM, XLO>(
      in, out, weights, seeds, invert, thresholds, row_class, col_class, correction, coeffs, vec,
      reps);
}

}  // namespace bnn

#endif
