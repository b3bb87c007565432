// Max-pool, K x K windows, stride K, same formats as the HLS kernel: per channel the max of its
// elements (bits: OR; EB-bit codes: signed max), the min for the channels set in the AND mask (a
// max before a decreasing threshold: AND of bits). Leftover rows and columns (ONNX floor mode)
// are read and dropped. One input word per cycle.
module bnn_pool #(
    parameter int IH = 4,
    parameter int IW = 4,
    parameter int C = 8,
    parameter int PE = 8,
    parameter int K = 2,
    parameter int EB = 1,  // bits per element: 1 (bits) or a code's width
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
  if (PE < 1 || C % PE != 0) begin : g_check_pe
    $fatal(1, "bnn_pool: PE (%0d) must divide C (%0d)", PE, C);
  end
  if (K < 1 || IH < K || IW < K) begin : g_check_window
    $fatal(1, "bnn_pool: the %0dx%0d window must fit the %0dx%0d input", K, K, IH, IW);
  end
  localparam int CW = C / PE;
  localparam int OH = IH / K;
  localparam int OW = IW / K;
  localparam int CNT = 32;
  localparam int SAW = (OW * CW > 1) ? $clog2(OW * CW) : 1;  // accumulator address
  localparam int MAW = (CW > 1) ? $clog2(CW) : 1;  // mask address

  logic [PE-1:0] and_mask[CW];
  initial $readmemh(AND_MASK_FILE, and_mask);
  logic [PE*EB-1:0] any_acc[OW*CW];  // running max (OR) per window
  logic [PE*EB-1:0] all_acc[OW*CW];  // running min (AND)
  logic [CNT-1:0] x, y, cw;

  wire en = !m_valid || m_ready;
  assign s_ready = en;
  wire take = s_valid && en;
  wire used = (y < OH * K) && (x < OW * K);
  /* verilator lint_off UNUSEDSIGNAL */  // only the low SAW bits address the accumulators
  wire [CNT-1:0] slot_index = (x / K) * CW + cw;
  /* verilator lint_on UNUSEDSIGNAL */
  wire [SAW-1:0] slot = SAW'(slot_index);
  wire [MAW-1:0] mask_index = MAW'(cw);
  wire first = (y % K == 0) && (x % K == 0);
  wire [PE*EB-1:0] hi, lo;
  bnn_max_min #(
      .PE(PE),
      .EB(EB)
  ) u_max_min (
      .hi_in (any_acc[slot]),
      .lo_in (all_acc[slot]),
      .x     (s_data),
      .hi_out(hi),
      .lo_out(lo)
  );
  wire [PE*EB-1:0] any_new = first ? s_data : hi;
  wire [PE*EB-1:0] all_new = first ? s_data : lo;
  wire [PE*EB-1:0] min_sel;  // the mask bit of each element, spread over its EB bits
  for (genvar p = 0; p < PE; p++) begin : g_mask
    assign min_sel[p*EB+:EB] = {EB{and_mask[mask_index][p]}};
  end
  wire done = (y % K == K - 1) && (x % K == K - 1);

  always_ff @(posedge clk) begin
    if (take && used) begin
      any_acc[slot] <= any_new;
      all_acc[slot] <= all_new;
    end
    if (take && used && done) begin
      m_data <= (any_new & ~min_sel) | (all_new & min_sel);
    end
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      m_valid <= 1'b0;
      x <= '0;
      y <= '0;
      cw <= '0;
    end else begin
      if (en) m_valid <= take && used && done;
      if (take) begin
        cw <= (cw == CNT'(CW - 1)) ? '0 : cw + 1'b1;
        if (cw == CNT'(CW - 1)) begin
          x <= (x == CNT'(IW - 1)) ? '0 : x + 1'b1;
          if (x == CNT'(IW - 1)) y <= (y == CNT'(IH - 1)) ? '0 : y + 1'b1;
        end
      end
    end
  end
endmodule
