// The max over each window's taps, behind bnn_swg: a max-pool whose windows overlap (kernel 3,
// stride 2) or are not square. Per output pixel TAPS x CW words in (tap-major, channel word
// fastest: the sliding window's order), CW words out: each channel's max over the taps (bits:
// OR; EB-bit codes: signed max), or the min for the channels set in the AND mask (a max before a
// decreasing threshold: AND of bits). One input word per cycle; counters only.
module bnn_window_max #(
    parameter int PE = 8,    // channels per word
    parameter int CW = 1,    // words per pixel (channels / PE)
    parameter int TAPS = 9,  // taps per window (KH x KW)
    parameter int EB = 1,    // bits per element: 1 (bits) or a code's width
    parameter AND_MASK_FILE = ""
) (
    input  logic             clk,
    input  logic             rst_n,
    input  logic [PE*EB-1:0] s_data,
    input  logic             s_valid,
    output logic             s_ready,
    output logic [PE*EB-1:0] m_data,
    output logic             m_valid,
    input  logic             m_ready
);
  // parameter checks: elaboration stops with the message (Verilator, Yosys)
  if (PE < 1 || CW < 1 || TAPS < 1) begin : g_check_size
    $fatal(1, "bnn_window_max: PE (%0d), CW (%0d) and TAPS (%0d) must be at least 1", PE, CW,
           TAPS);
  end
  localparam int NW = 16;
  localparam int MAW = (CW > 1) ? $clog2(CW) : 1;

  logic [PE-1:0] and_mask[CW];
  initial $readmemh(AND_MASK_FILE, and_mask);
  logic [PE*EB-1:0] any_acc[CW];  // running max (OR)
  logic [PE*EB-1:0] all_acc[CW];  // running min (AND)
  logic [NW-1:0] tap, cw;

  wire en = !m_valid || m_ready;
  assign s_ready = en;
  wire take = s_valid && en;
  wire [MAW-1:0] word = MAW'(cw);
  wire first = tap == '0;
  wire last = tap == NW'(TAPS - 1);
  wire [PE*EB-1:0] hi, lo;
  bnn_max_min #(
      .PE(PE),
      .EB(EB)
  ) u_max_min (
      .hi_in (any_acc[word]),
      .lo_in (all_acc[word]),
      .x     (s_data),
      .hi_out(hi),
      .lo_out(lo)
  );
  wire [PE*EB-1:0] any_new = first ? s_data : hi;
  wire [PE*EB-1:0] all_new = first ? s_data : lo;
  wire [PE*EB-1:0] min_sel;  // the mask bit of each element, spread over its EB bits
  for (genvar p = 0; p < PE; p++) begin : g_mask
    assign min_sel[p*EB+:EB] = {EB{and_mask[word][p]}};
  end

  always_ff @(posedge clk) begin
    if (take) begin
      any_acc[word] <= any_new;
      all_acc[word] <= all_new;
    end
    if (take && last) m_data <= (any_new & ~min_sel) | (all_new & min_sel);
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      m_valid <= 1'b0;
      tap <= '0;
      cw <= '0;
    end else begin
      if (en) m_valid <= take && last;
      if (take) begin
        cw <= (cw == NW'(CW - 1)) ? '0 : cw + 1'b1;
        if (cw == NW'(CW - 1)) tap <= last ? '0 : tap + 1'b1;
      end
    end
  end
endmodule
