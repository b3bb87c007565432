// Stream width converter (same element order as the HLS kernels: the first word holds the low
// bits): RATIO = OUT_W / IN_W >= 2 input words make one output word.
module bnn_gather #(
    parameter int IN_W = 8,
    parameter int OUT_W = 16
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
  if (IN_W < 1 || OUT_W % IN_W != 0) begin : g_check_ratio
    $fatal(1, "bnn_gather: IN_W (%0d) must divide OUT_W (%0d)", IN_W, OUT_W);
  end
  localparam int RATIO = OUT_W / IN_W;
  localparam int RW = (RATIO > 1) ? $clog2(RATIO) : 1;
  logic [RW-1:0] part;
  logic [OUT_W-IN_W-1:0] buffer;  // the words taken so far (RATIO >= 2)
  wire en = !m_valid || m_ready;
  assign s_ready = en;
  wire take = s_valid && en;
  wire [OUT_W-1:0] shifted = {s_data, buffer};

  always_ff @(posedge clk) begin
    if (take) buffer <= shifted[OUT_W-1:IN_W];
    if (take && part == RW'(RATIO - 1)) m_data <= shifted;
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      part <= '0;
      m_valid <= 1'b0;
    end else begin
      if (en) m_valid <= take && part == RW'(RATIO - 1);
      if (take) part <= (part == RW'(RATIO - 1)) ? '0 : part + 1'b1;
    end
  end
endmodule

