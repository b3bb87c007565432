// Control and output half of a result-sharing conv unit (the generated bnn_share_<layer>
// module holds the other half: the units and lanes specialised from the sharing plan, see
// bnn_hls/backends/share_schedule.py). Per output pixel it collects the SF = T * C / SIMD
// window words (tap-major, SIMD channels each) into the window register xw, then issues
// NF = O / PE steps on it; the next window is collected meanwhile, so a pixel takes
// max(SF, NF) cycles. Pipeline, all registers moving on en (a full output register that is
// not taken stalls everything):
//   issue (nf, xw) -> units registered in the datapath (a_nf) -> lane sums registered here
//   (b_sum, with the step's thresholds and border correction) -> output bits
//   2 * S + corr >= T' (T' from the thresholds file: the lane-sum domain).
module bnn_share_ctrl #(
    parameter int C = 4,
    parameter int T = 9,
    parameter int SIMD = 4,
    parameter int O = 4,
    parameter int PE = 4,
    parameter int SUM_W = 8,
    parameter int CMP_W = 10,  // signed width of thresholds, corrections and 2 * S + corr
    parameter int OH = 1,
    parameter int OW = 1,
    parameter int BORDER = 0,
    parameter int RC = 1,
    parameter int CC = 1,
    parameter int THR_WRITABLE = 0,  // the thresholds take the load port (bnn_thr_table.sv)
    parameter int NFW = (O / PE > 1) ? $clog2(O / PE) : 1,
    parameter THRESHOLDS_FILE = "",
    parameter CORRECTION_FILE = "",
    parameter ROW_CLASS_FILE = "",
    parameter COL_CLASS_FILE = ""
) (
    input  logic                  clk,
    input  logic                  rst_n,
    input  logic [      SIMD-1:0] s_data,
    input  logic                  s_valid,
    output logic                  s_ready,
    output logic [        PE-1:0] m_data,
    output logic                  m_valid,
    input  logic                  m_ready,
    output logic [       T*C-1:0] xw,       // the window of the steps being issued
    output logic [       NFW-1:0] nf,       // the step issued this cycle
    output logic [       NFW-1:0] a_nf,     // the step whose unit results are registered
    output logic                  en,       // the datapath's registers move on it
    input  logic [PE*SUM_W-1:0]   sums,     // lane sums of step a_nf
    input  logic                  tw_valid, // threshold load port (docs/thresholds.md)
    input  logic [          31:0] tw_data
);
  // parameter checks: elaboration stops with the message (Verilator, Yosys)
  if (SIMD < 1 || C % SIMD != 0) begin : g_check_simd
    $fatal(1, "bnn_share_ctrl: SIMD (%0d) must divide C (%0d)", SIMD, C);
  end
  if (PE < 1 || O % PE != 0) begin : g_check_pe
    $fatal(1, "bnn_share_ctrl: PE (%0d) must divide O (%0d)", PE, O);
  end
  localparam int NF = O / PE;
  localparam int SF = T * C / SIMD;
  localparam int SFW = (SF > 1) ? $clog2(SF) : 1;
  localparam int OYW = (OH > 1) ? $clog2(OH) : 1;
  localparam int OXW = (OW > 1) ? $clog2(OW) : 1;
  localparam int CAW = (RC * CC * NF > 1) ? $clog2(RC * CC * NF) : 1;
  localparam int RCW = (RC > 1) ? $clog2(RC) : 1;
  localparam int CCW = (CC > 1) ? $clog2(CC) : 1;

  /* verilator lint_off UNDRIVEN */  // loaded only when the layer has corrections
  logic [PE*CMP_W-1:0] cmem[RC*CC*NF];
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

  assign en = !m_valid || m_ready;

  // ---- window collection and step issue -------------------------------------------------
  logic busy;  // xw holds a window with steps left to issue
  logic [SFW-1:0] wcount;
  logic [OXW-1:0] ox;
  logic [OYW-1:0] oy;
  wire last_step = nf == NFW'(NF - 1);
  wire issue = en && busy;
  wire last_word = wcount == SFW'(SF - 1);
  // the last word of a window completes it into xw once the previous window's last step goes
  assign s_ready = !last_word || !busy || (issue && last_step);
  wire take = s_valid && s_ready;
  wire load = take && last_word;

  // the words before the last one of a window, the first at the bottom
  generate
    if (SF > 2) begin : g_collect
      logic [(SF-1)*SIMD-1:0] win;
      always_ff @(posedge clk) begin
        if (take && !last_word) win <= {s_data, win[(SF-1)*SIMD-1:SIMD]};
        if (load) xw <= {s_data, win};
      end
    end else if (SF == 2) begin : g_pair
      logic [SIMD-1:0] win;
      always_ff @(posedge clk) begin
        if (take && !last_word) win <= s_data;
        if (load) xw <= {s_data, win};
      end
    end else begin : g_direct
      always_ff @(posedge clk) if (load) xw <= s_data;
    end
  endgenerate

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      busy <= 1'b0;
      wcount <= '0;
      nf <= '0;
      ox <= '0;
      oy <= '0;
    end else begin
      if (take) wcount <= last_word ? '0 : wcount + 1'b1;
      if (load) busy <= 1'b1;
      else if (issue && last_step) busy <= 1'b0;
      if (issue) begin
        nf <= last_step ? '0 : nf + 1'b1;
        if (last_step) begin
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

  // ---- stage A: the datapath registers the units of step nf -------------------------------
  logic a_valid;
  logic [OXW-1:0] a_ox;
  logic [OYW-1:0] a_oy;
  always_ff @(posedge clk) begin
    if (en) begin
      a_nf <= nf;
      a_ox <= ox;
      a_oy <= oy;
    end
  end

  // ---- stage B: lane sums, thresholds and correction of the step --------------------------
  logic b_valid;
  logic [PE*SUM_W-1:0] b_sum;
  logic [PE*CMP_W-1:0] b_t;
  logic [PE*CMP_W-1:0] t_word;
  bnn_thr_table #(
      .DEPTH(NF), .LANES(PE), .LANE_BITS(CMP_W), .WRITABLE(THR_WRITABLE), .AW(NFW),
      .FILE(THRESHOLDS_FILE)
  ) u_table (
      .clk(clk), .rst_n(rst_n), .raddr(a_nf), .rdata(t_word),
      .tw_valid(tw_valid), .tw_data(tw_data));
  logic [PE*CMP_W-1:0] b_corr;
  always_ff @(posedge clk) begin
    if (en) begin
      b_sum <= sums;
      b_t <= t_word;
      b_corr <= (BORDER != 0) ?
          cmem[(CAW'(rowcls[a_oy])*CAW'(CC)+CAW'(colcls[a_ox]))*CAW'(NF)+CAW'(a_nf)] : '0;
    end
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      a_valid <= 1'b0;
      b_valid <= 1'b0;
      m_valid <= 1'b0;
    end else if (en) begin
      a_valid <= issue;
      b_valid <= a_valid;
      m_valid <= b_valid;
    end
  end

  // ---- stage C: output bits ------------------------------------------------------------------
  function automatic logic bit_out(input logic [SUM_W-1:0] sum, input logic [CMP_W-1:0] corr,
                                   input logic [CMP_W-1:0] t);
    logic signed [CMP_W-1:0] v;
    v = $signed(CMP_W'(sum)) <<< 1;  // CMP_W leaves the sign bit of 2 * S clear
    if (BORDER != 0) v = v + $signed(corr);
    bit_out = v >= $signed(t);
  endfunction

  always_ff @(posedge clk) begin
    if (en && b_valid) begin
      for (int p = 0; p < PE; p++) begin
        m_data[p] <= bit_out(b_sum[p*SUM_W+:SUM_W], b_corr[p*CMP_W+:CMP_W], b_t[p*CMP_W+:CMP_W]);
      end
    end
  end
endmodule
