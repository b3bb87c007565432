// Synchronous FIFO with valid/ready on both sides (AXI-Stream handshake, no TLAST).
module bnn_fifo #(
    parameter int W = 8,
    parameter int DEPTH = 2
) (
    input  logic         clk,
    input  logic         rst_n,
    input  logic [W-1:0] s_data,
    input  logic         s_valid,
    output logic         s_ready,
    output logic [W-1:0] m_data,
    output logic         m_valid,
    input  logic         m_ready
);
  // parameter checks: elaboration stops with the message (Verilator, Yosys)
  if (W < 1 || DEPTH < 1) begin : g_check_size
    $fatal(1, "bnn_fifo: W (%0d) and DEPTH (%0d) must be at least 1", W, DEPTH);
  end
  localparam int AW = (DEPTH > 1) ? $clog2(DEPTH) : 1;
  logic [W-1:0] mem[DEPTH];
  logic [AW-1:0] rd_ptr, wr_ptr;
  logic [AW:0] count;
  wire push = s_valid && s_ready;
  wire pop = m_valid && m_ready;
  assign s_ready = count < (AW + 1)'(DEPTH);
  assign m_valid = count != 0;
  assign m_data = mem[rd_ptr];

  always_ff @(posedge clk) begin
    if (push) mem[wr_ptr] <= s_data;
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      rd_ptr <= '0;
      wr_ptr <= '0;
      count  <= '0;
    end else begin
      if (push) wr_ptr <= (wr_ptr == AW'(DEPTH - 1)) ? '0 : wr_ptr + 1'b1;
      if (pop) rd_ptr <= (rd_ptr == AW'(DEPTH - 1)) ? '0 : rd_ptr + 1'b1;
      count <= count + (AW + 1)'(push) - (AW + 1)'(pop);
    end
  end
endmodule
