// Stream width converter: one input word makes RATIO = IN_W / OUT_W output words, low bits
// first (the same element order as the HLS kernels).
module bnn_split #(
    parameter int IN_W = 16,
    parameter int OUT_W = 8
) (
    input  logic             clk,
    input  logic             rst_n,
    input  logic [ IN_W-1:0] s_data,
    input  logic             s_valid,
    output logic             s_ready,
    output logic [OUT_W-1:0] m_data,
    output logic             m_valid,
    input  logic             m_ready
);
  // parameter checks: elaboration stops with the message (Verilator, Yosys)
  if (OUT_W < 1 || IN_W % OUT_W != 0) begin : g_check_ratio
    $fatal(1, "bnn_split: OUT_W (%0d) must divide IN_W (%0d)", OUT_W, IN_W);
  end
  localparam int RATIO = IN_W / OUT_W;
  localparam int RW = (RATIO > 1) ? $clog2(RATIO) : 1;
  logic [RW-1:0] part;
  logic [IN_W-1:0] word;
  logic full;
  wire last = part == RW'(RATIO - 1);
  assign m_valid = full;
  assign m_data = word[OUT_W-1:0];
  assign s_ready = !full || (m_ready && last);
  wire take = s_valid && s_ready;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      full <= 1'b0;
      part <= '0;
    end else begin
      if (take) begin
        full <= 1'b1;
        part <= '0;
      end else if (full && m_ready) begin
        part <= part + 1'b1;
        if (last) full <= 1'b0;
      end
    end
  end

  always_ff @(posedge clk) begin
    if (take) word <= s_data;
    else if (full && m_ready && !last) word <= IN_W'(word >> OUT_W);
  end
endmodule
