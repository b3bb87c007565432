// Matrix-vector-threshold unit: SIMD inputs x PE outputs per cycle over a K x O weight matrix
// folded NF = O / PE by SF = K / SIMD (same folding and word formats as the HLS kernel); the
// weights are bits (W_BITS = 1) or signed W_BITS-bit integers. Per input vector it reads SF
// words (once, buffered for the other NF - 1 folds) and emits NF words: per output the code
// OUT_LO + #{l : acc >= T[l]} over its LEVELS thresholds in OUT_BITS bits (the bit acc >= T with
// one threshold), or PE packed SCORE_BITS-bit signed scores (SCORES = 1).
// acc = 2 * popcount(xnor) - K (binary inputs) or sum(w ? x : -x) = 2 * sum(w ? x : 0) - sum(x)
// (INT_IN = 1: the masked sums need no negation and sum(x) is shared by all PEs), or sum(w * x)
// (W_BITS > 1; x = +-1 for bits), plus the zero-padding border correction of the output
// pixel's row/column class (BORDER = 1).
// Pipeline: fetch (weights ROM) -> accumulate (threshold ROM) -> output register; a full
// output register that is not taken stalls the whole pipeline. One fold step per cycle.
// ROM_BLOCK = 1 asks synthesis for block RAM for the weights (the compiler decides per layer:
// a wide, shallow ROM in LUTs costs about one LUT per weight bit and fold step).
module bnn_mvtu #(
    parameter int K = 8,
    parameter int O = 4,
    parameter int SIMD = 8,
    parameter int PE = 4,
    parameter int INT_IN = 0,
    parameter int IN_BITS = 1,
    parameter int W_BITS = 1,
    parameter int ACC_BITS = 8,
    parameter int SCORES = 0,
    parameter int SCORE_BITS = 32,
    parameter int LEVELS = 1,
    parameter int OUT_BITS = 1,
    parameter int OUT_LO = 0,
    parameter int T_BITS = ACC_BITS + 2,  // thresholds and corrections are stored at the
    parameter int CORR_BITS = ACC_BITS + 2,  // accumulator's width
    parameter int OH = 1,
    parameter int OW = 1,
    parameter int BORDER = 0,
    parameter int RC = 1,
    parameter int CC = 1,
    parameter int IN_W = SIMD * IN_BITS,
    parameter int OUT_W = PE,
    parameter int ROM_BLOCK = 0,
    parameter int THR_WRITABLE = 0,  // the thresholds take the load port (bnn_thr_table.sv)
    parameter int WGEN = 0,  // weights from the fixed-sign generator (docs/fsb.md), not a ROM
    // the MVTU over binary bases (docs/pa.md): WB weight bases per element (W_BITS = WB +
    // WSIGN), XB input bases (XFORM 0: the element's bits; 1: its steps code >= XLO + n,
    // n = 1..XB), COEFFS: (WB + 1) x (XB + 1) signed 64-bit lanes, lane m * (XB + 1) + n the
    // coefficient of base pair (m, n), base 0 the constant 1; WSIGN 1: sign-magnitude weights,
    // bit WB of an element its sign, which flips the input bases it meets (the sum is the dot
    // product less a per-channel constant, taken off the thresholds: bases.py)
    parameter int BASES = 0,
    parameter int WB = 1,
    parameter int WSIGN = 0,
    // WPACK 1: ternary weights (one magnitude base and the sign) stored three to 5 bits, code
    // t0 + 3 t1 + 9 t2 with t = w + 1 (packing.pack_trits): (SIMD + 2) / 3 codes per PE word
    parameter int WPACK = 0,
    parameter int XB = 1,
    parameter int XFORM = 0,
    parameter int XLO = 0,
    parameter logic [(WB+1)*(XB+1)*64-1:0] COEFFS = '0,
    parameter WEIGHTS_FILE = "",
    parameter SEEDS_FILE = "",
    parameter INVERT_FILE = "",
    parameter THRESHOLDS_FILE = "",
    parameter CORRECTION_FILE = "",
    parameter ROW_CLASS_FILE = "",
    parameter COL_CLASS_FILE = ""
) (
    input  logic             clk,
    input  logic             rst_n,
    input  logic [ IN_W-1:0] s_data,
    input  logic             s_valid,
    output logic             s_ready,
    output logic [OUT_W-1:0] m_data,
    output logic             m_valid,
    input  logic             m_ready,
    input  logic             tw_valid,  // threshold load port (docs/thresholds.md)
    input  logic [     31:0] tw_data
);
  // parameter checks: elaboration stops with the message (Verilator, Yosys)
  if (SIMD < 1 || K % SIMD != 0) begin : g_check_simd
    $fatal(1, "bnn_mvtu: SIMD (%0d) must divide K (%0d)", SIMD, K);
  end
  if (PE < 1 || O % PE != 0) begin : g_check_pe
    $fatal(1, "bnn_mvtu: PE (%0d) must divide O (%0d)", PE, O);
  end
  if (IN_W != SIMD * IN_BITS) begin : g_check_in_w
    $fatal(1, "bnn_mvtu: IN_W (%0d) must be SIMD x IN_BITS (%0d)", IN_W, SIMD * IN_BITS);
  end
  if (OUT_W != (SCORES != 0 ? PE * SCORE_BITS : PE * OUT_BITS)) begin : g_check_out_w
    $fatal(1, "bnn_mvtu: OUT_W (%0d) must be PE x OUT_BITS (codes) or PE x SCORE_BITS", OUT_W);
  end
  if (W_BITS < 1 || LEVELS < 1 || OUT_BITS < 1) begin : g_check_bits
    $fatal(1, "bnn_mvtu: W_BITS, LEVELS and OUT_BITS must be at least 1");
  end
  if (BASES != 0 && (W_BITS != WB + WSIGN || (WSIGN != 0 && WSIGN != 1))) begin : g_check_bases
    $fatal(1, "bnn_mvtu: over bases a weight element holds its WB (%0d) base bits and WSIGN",
           WB);
  end
  if (WPACK != 0 && (BASES == 0 || WB != 1 || WSIGN != 1)) begin : g_check_wpack
    $fatal(1, "bnn_mvtu: WPACK packs ternary weights over bases (WB = 1, WSIGN = 1)");
  end
  if (XFORM != 0 && XFORM != 1) begin : g_check_xform
    $fatal(1, "bnn_mvtu: XFORM (%0d) must be 0 (bit-planes) or 1 (steps)", XFORM);
  end
  if (XB < 1 || WB < 1 || (XFORM == 0 && XB > IN_BITS)) begin : g_check_base_counts
    $fatal(1, "bnn_mvtu: XB (%0d) and WB (%0d) at least 1; XB at most IN_BITS as bit-planes",
           XB, WB);
  end
  localparam int NF = O / PE;
  localparam int SF = K / SIMD;
  localparam int A_W = ACC_BITS + 2;
  localparam int GROUPS = (SIMD + 2) / 3;  // WPACK: codes of three trits per PE word
  localparam int WW = WPACK != 0 ? 5 * GROUPS : SIMD * W_BITS;  // bits of one PE's weight word
  localparam int SFW = (SF > 1) ? $clog2(SF) : 1;
  localparam int NFW = (NF > 1) ? $clog2(NF) : 1;
  localparam int OYW = (OH > 1) ? $clog2(OH) : 1;
  localparam int OXW = (OW > 1) ? $clog2(OW) : 1;
  localparam int WAW = (NF * SF > 1) ? $clog2(NF * SF) : 1;
  localparam int CAW = (RC * CC * NF > 1) ? $clog2(RC * CC * NF) : 1;
  localparam int RCW = (RC > 1) ? $clog2(RC) : 1;
  localparam int CCW = (CC > 1) ? $clog2(CC) : 1;

  // parameter memories (generated .mem files, one word per line in hex); the weights are
  // declared in the ROM_BLOCK generate blocks below
  /* verilator lint_off UNDRIVEN */  // loaded only when the layer has thresholds / corrections
  logic [PE*CORR_BITS-1:0] cmem[RC*CC*NF];
  logic [RCW-1:0] rowcls[OH];
  logic [CCW-1:0] colcls[OW];
  /* verilator lint_on UNDRIVEN */
  generate
    if (BORDER != 0) begin : g_border
      initial begin
        $readmemh(CORRECTION_FILE, cmem);
        $readmemh(ROW_CLASS_FILE, rowcls);
        $readmemh(COL_CLASS_FILE, colcls);
      end
    end
  endgenerate

  wire en = !m_valid || m_ready;  // the pipeline moves unless the output is blocked

  // the thresholds of the output fold a_nf (none for scores)
  logic [PE*LEVELS*T_BITS-1:0] t_word;
  logic [NFW-1:0] t_addr;
  if (SCORES == 0) begin : g_thresholds
    bnn_thr_table #(
        .DEPTH(NF), .LANES(PE * LEVELS), .LANE_BITS(T_BITS), .WRITABLE(THR_WRITABLE),
        .AW(NFW), .FILE(THRESHOLDS_FILE)
    ) u_table (
        .clk(clk), .rst_n(rst_n), .raddr(t_addr), .rdata(t_word),
        .tw_valid(tw_valid), .tw_data(tw_data));
  end else begin : g_no_thresholds
    assign t_word = '0;
    wire unused_load = &{1'b0, tw_valid, tw_data, t_addr};
  end

  // ---- stage A: take the input word (or re-read the buffered one), fetch weights ----------
  logic [SFW-1:0] sf;
  logic [NFW-1:0] nf;
  logic [OXW-1:0] ox;
  logic [OYW-1:0] oy;
  logic [IN_W-1:0] inbuf[SF];
  wire take = en && (nf != '0 || s_valid);
  assign s_ready = en && (nf == '0);
  wire [IN_W-1:0] x_now = (nf == '0) ? s_data : inbuf[sf];

  logic a_valid, a_first, a_last;
  logic [IN_W-1:0] a_x;
  logic [PE*WW-1:0] a_w;
  logic [NFW-1:0] a_nf;
  assign t_addr = a_nf;
  logic [OXW-1:0] a_ox;
  logic [OYW-1:0] a_oy;

  always_ff @(posedge clk) begin
    if (take && nf == '0) inbuf[sf] <= s_data;
  end

  always_ff @(posedge clk) begin
    if (en && take) begin
      a_x <= x_now;
      a_first <= sf == '0;
      a_last <= sf == SFW'(SF - 1);
      a_nf <= nf;
      a_ox <= ox;
      a_oy <= oy;
    end
  end

  // the weights ROM, read with the same enable as the stage-A registers
  wire [WAW-1:0] w_addr = WAW'(nf) * WAW'(SF) + WAW'(sf);
  generate
    if (WGEN != 0) begin : g_wgen
      // the fixed-sign generator (docs/fsb.md, packing.fsb_signs): lane p's LFSR starts from
      // its output channel's state at the first input fold and steps SIMD times per fetch;
      // invert flips the signs of a channel BatchShift negated
      if (W_BITS != 1) begin : g_check_wgen
        $fatal(1, "bnn_mvtu: WGEN needs binary weights (W_BITS = 1)");
      end
      logic [PE*32-1:0] smem[NF];
      logic [PE-1:0] imem[NF];
      initial begin
        $readmemh(SEEDS_FILE, smem);
        $readmemh(INVERT_FILE, imem);
      end
      logic [PE*WW-1:0] gen_w;  // this fetch's weights, every lane
      for (genvar p = 0; p < PE; p++) begin : g_lane
        logic [31:0] state, start, next;
        logic [SIMD-1:0] bits;
        assign start = (sf == '0) ? smem[nf][p*32+:32] : state;
        always_comb begin  // SIMD LFSR steps: a fixed XOR network
          next = start;
          for (int s = 0; s < SIMD; s++) begin
            bits[s] = next[0];
            next = (next >> 1) ^ (next[0] ? 32'h80200003 : 32'h0);
          end
        end
        assign gen_w[p*WW+:WW] = WW'(bits ^ {SIMD{imem[nf][p]}});
        always_ff @(posedge clk) if (en && take) state <= next;
      end
      always_ff @(posedge clk) if (en && take) a_w <= gen_w;
      wire unused_waddr = &{1'b0, w_addr};
    end else if (ROM_BLOCK != 0) begin : g_wrom_block
      (* rom_style = "block", ram_style = "block" *) logic [PE*WW-1:0] wmem[NF*SF];
      initial $readmemh(WEIGHTS_FILE, wmem);
      always_ff @(posedge clk) if (en && take) a_w <= wmem[w_addr];
    end else begin : g_wrom_lut
      // LUTs: Vivado calls that a distributed ROM, Yosys (which has no LUT-RAM ROMs) logic
`ifdef YOSYS
      (* rom_style = "logic" *)
`else
      (* rom_style = "distributed" *)
`endif
      logic [PE*WW-1:0] wmem[NF*SF];
      initial $readmemh(WEIGHTS_FILE, wmem);
      always_ff @(posedge clk) if (en && take) a_w <= wmem[w_addr];
    end
  endgenerate

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      a_valid <= 1'b0;
      sf <= '0;
      nf <= '0;
      ox <= '0;
      oy <= '0;
    end else if (en) begin
      a_valid <= take;
      if (take) begin
        if (sf != SFW'(SF - 1)) begin
          sf <= sf + 1'b1;
        end else begin
          sf <= '0;
          if (nf != NFW'(NF - 1)) begin
            nf <= nf + 1'b1;
          end else begin
            nf <= '0;
            if (ox != OXW'(OW - 1)) begin
              ox <= ox + 1'b1;
            end else begin
              ox <= '0;
              oy <= (oy != OYW'(OH - 1)) ? oy + 1'b1 : '0;
            end
          end
        end
      end
    end
  end

  // ---- stage B: per-PE contribution and accumulation ---------------------------------------
  // Binary inputs: popcount of the XNOR bits, one bnn_popcount per PE (its first level
  // absorbs the XNOR into the LUTs that count groups of three bits).
  localparam int CW = $clog2(SIMD + 1);
  logic [CW-1:0] xnor_count[PE];
  generate
    if (W_BITS == 1 && INT_IN == 0) begin : g_xnor
      for (genvar p = 0; p < PE; p++) begin : g_pe
        bnn_popcount #(
            .N(SIMD)
        ) u_count (
            .bits (~(a_x[SIMD-1:0] ^ a_w[p*WW+:SIMD])),
            .count(xnor_count[p])
        );
      end
    end else begin : g_no_xnor
      for (genvar p = 0; p < PE; p++) begin : g_pe
        assign xnor_count[p] = '0;
      end
    end
  endgenerate

  // Integer inputs: sum of the inputs whose weight bit is 1 (w ? x : 0), or of all inputs
  // (w all ones), as a balanced adder tree.
  function automatic logic signed [A_W-1:0] masked_sum(input logic [IN_W-1:0] x,
                                                      input logic [SIMD-1:0] w);
    logic signed [A_W-1:0] terms[SIMD];
    for (int s = 0; s < SIMD; s++) begin
      terms[s] = w[s] ? A_W'($signed(x[s*IN_BITS+:IN_BITS])) : A_W'(0);
    end
    for (int span = 1; span < SIMD; span = span * 2) begin
      for (int s = 0; s + span < SIMD; s = s + 2 * span) terms[s] = terms[s] + terms[s+span];
    end
    masked_sum = terms[0];
  endfunction

  // Multi-bit weights: sum of the products w * x (x = +-1 for bits), a balanced adder tree.
  function automatic logic signed [A_W-1:0] product_sum(input logic [IN_W-1:0] x,
                                                       input logic [WW-1:0] w);
    logic signed [A_W-1:0] terms[SIMD];
    logic signed [A_W-1:0] ws;
    for (int s = 0; s < SIMD; s++) begin
      ws = A_W'($signed(w[s*W_BITS+:W_BITS]));
      if (INT_IN != 0) terms[s] = ws * A_W'($signed(x[(s*IN_BITS)%IN_W+:IN_BITS]));
      else terms[s] = x[s%IN_W] ? ws : -ws;
    end
    for (int span = 1; span < SIMD; span = span * 2) begin
      for (int s = 0; s + span < SIMD; s = s + 2 * span) terms[s] = terms[s] + terms[s+span];
    end
    product_sum = terms[0];
  endfunction

  // Binary bases: per base pair (m, n) the coefficient times the popcount of w_m & x_n (x_n ^
  // the weight's sign with WSIGN), base 0 the constant 1 (sums wrap in A_W bits; the exact
  // result fits, so it is exact)
  function automatic logic signed [A_W-1:0] bases_sum(input logic [IN_W-1:0] x,
                                                     input logic [WW-1:0] w);
    logic [SIMD-1:0] xb[XB+1];
    logic [SIMD-1:0] wb[WB+1];
    logic [SIMD-1:0] sign;
    logic [SIMD-1:0] flipped;
    logic [5*GROUPS-1:0] codes;  // WPACK: the word's codes of three trits (padded if not)
    logic [4:0] code, rest;
    logic [1:0] t[3];
    logic signed [A_W-1:0] total;
    logic [CW-1:0] count;
    xb[0] = '1;
    wb[0] = '1;
    for (int n = 0; n < XB; n++) begin
      for (int s = 0; s < SIMD; s++) begin
        if (XFORM != 0) xb[n+1][s] = $signed(x[s*IN_BITS+:IN_BITS]) >= IN_BITS'(XLO + n + 1);
        else xb[n+1][s] = x[s*IN_BITS+(n%IN_BITS)];
      end
    end
    if (WPACK != 0) begin  // each 5-bit code is three trits (every output bit a function of
      // the code's 5 bits); trit t = w + 1: magnitude bit t != 1, sign bit t == 0
      codes = (5 * GROUPS)'(w);
      for (int g = 0; g < GROUPS; g++) begin
        code = codes[g*5+:5];
        t[2] = code >= 5'd18 ? 2'd2 : code >= 5'd9 ? 2'd1 : 2'd0;
        rest = code - 5'd9 * 5'(t[2]);
        t[1] = rest >= 5'd6 ? 2'd2 : rest >= 5'd3 ? 2'd1 : 2'd0;
        t[0] = 2'(rest - 5'd3 * 5'(t[1]));
        for (int j = 0; j < 3; j++) begin
          if (g * 3 + j < SIMD) begin
            wb[1][g*3+j] = t[j] != 2'd1;
            sign[g*3+j] = t[j] == 2'd0;
          end
        end
      end
    end else begin
      for (int m = 0; m < WB; m++) begin
        for (int s = 0; s < SIMD; s++) wb[m+1][s] = w[s*W_BITS+m];
      end
      for (int s = 0; s < SIMD; s++) sign[s] = WSIGN != 0 ? w[s*W_BITS+W_BITS-1] : 1'b0;
    end
    total = '0;
    for (int m = 0; m <= WB; m++) begin
      for (int n = 0; n <= XB; n++) begin
        count = '0;
        flipped = xb[n] ^ sign;
        for (int s = 0; s < SIMD; s++) count = count + CW'(wb[m][s] & flipped[s]);
        total = total + A_W'($signed(COEFFS[(m*(XB+1)+n)*64+:64])) * A_W'(count);
      end
    end
    bases_sum = total;
  endfunction

  function automatic logic signed [A_W-1:0] contribution(input logic [IN_W-1:0] x,
                                                        input logic [WW-1:0] w,
                                                        input logic [CW-1:0] xnor_pop);
    if (BASES != 0) contribution = bases_sum(x, w);
    else if (W_BITS > 1) contribution = product_sum(x, w);
    else if (INT_IN != 0) contribution = masked_sum(x, w[SIMD-1:0]);
    else contribution = A_W'(xnor_pop);
  endfunction

  logic signed [A_W-1:0] acc[PE];
  logic signed [A_W-1:0] b_acc[PE];
  logic b_valid;
  /* verilator lint_off UNUSEDSIGNAL */  // unused by a scores (last) layer
  logic [PE*LEVELS*T_BITS-1:0] b_t;
  /* verilator lint_on UNUSEDSIGNAL */
  logic [PE*CORR_BITS-1:0] b_corr;

  // sum(x) of the input vector (integer inputs), shared by all PEs
  logic signed [A_W-1:0] total;
  logic signed [A_W-1:0] b_total;

  always_ff @(posedge clk) begin
    if (en && a_valid) begin
      if (INT_IN != 0) begin
        total <= (a_first ? A_W'(0) : total) + masked_sum(a_x, '1);
        b_total <= (a_first ? A_W'(0) : total) + masked_sum(a_x, '1);
      end else begin
        total <= '0;
        b_total <= '0;
      end
      for (int p = 0; p < PE; p++) begin
        acc[p] <= (a_first ? A_W'(0) : acc[p]) + contribution(a_x, a_w[p*WW+:WW], xnor_count[p]);
        b_acc[p] <= (a_first ? A_W'(0) : acc[p]) + contribution(a_x, a_w[p*WW+:WW], xnor_count[p]);
      end
      b_t <= t_word;
      b_corr <= (BORDER != 0) ?
          cmem[(CAW'(rowcls[a_oy])*CAW'(CC)+CAW'(colcls[a_ox]))*CAW'(NF)+CAW'(a_nf)] : '0;
    end
  end

  always_ff @(posedge clk) begin
    if (!rst_n) b_valid <= 1'b0;
    else if (en) b_valid <= a_valid && a_last;
  end

  // ---- stage C: output register -----------------------------------------------------------
  function automatic logic signed [A_W-1:0] final_value(input logic signed [A_W-1:0] a,
                                                       input logic [CORR_BITS-1:0] corr);
    logic signed [A_W-1:0] v;
    if (BASES != 0 || W_BITS > 1) v = a;
    else if (INT_IN != 0) v = (a <<< 1) - b_total;
    else v = (a <<< 1) - A_W'(K);
    if (BORDER != 0) v = v + A_W'($signed(corr));
    final_value = v;
  endfunction

  // the code of one output: OUT_LO plus the number of its thresholds the value reaches
  function automatic logic [OUT_BITS-1:0] code(input logic signed [A_W-1:0] v,
                                               input logic [LEVELS*T_BITS-1:0] t);
    int c;
    c = OUT_LO;
    for (int l = 0; l < LEVELS; l++) begin
      if (v >= A_W'($signed(t[l*T_BITS+:T_BITS]))) c = c + 1;
    end
    code = OUT_BITS'(c);
  endfunction

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      m_valid <= 1'b0;
    end else if (en) begin
      m_valid <= b_valid;
    end
  end

  generate
    if (SCORES != 0) begin : g_scores
      always_ff @(posedge clk) begin
        if (en && b_valid) begin
          for (int p = 0; p < PE; p++) begin
            m_data[p*SCORE_BITS+:SCORE_BITS] <=
                SCORE_BITS'(final_value(b_acc[p], b_corr[p*CORR_BITS+:CORR_BITS]));
          end
        end
      end
    end else begin : g_bits
      always_ff @(posedge clk) begin
        if (en && b_valid) begin
          for (int p = 0; p < PE; p++) begin
            m_data[p*OUT_BITS+:OUT_BITS] <= code(final_value(b_acc[p],
                b_corr[p*CORR_BITS+:CORR_BITS]), b_t[p*LEVELS*T_BITS+:LEVELS*T_BITS]);
          end
        end
      end
    end
  endgenerate
endmodule
