// The threshold load stream (docs/thresholds.md) from the AXI-Stream input: assembles 32-bit
// values (one per word of 32 bits or more, in its low bits; from 32 / AXI_W consecutive
// words, lowest bits first, for narrower words) and numbers them 0 .. TOTAL - 1, wrapping, so
// every complete load starts at 0. The top gives value i to the table whose range holds i.
module bnn_thr_loader #(
    parameter int AXI_W = 8,  // a power of two from 8
    parameter int TOTAL = 1,  // values of a complete load
    parameter int IW = (TOTAL > 1) ? $clog2(TOTAL) : 1
) (
    input  logic             clk,
    input  logic             rst_n,
    /* verilator lint_off UNUSEDSIGNAL */  // a word above 32 bits carries a value in its low bits
    input  logic [AXI_W-1:0] s_data,
    /* verilator lint_on UNUSEDSIGNAL */
    input  logic             s_valid,  // always taken
    output logic             v_valid,
    output logic [     31:0] v_data,
    output logic [   IW-1:0] v_index
);
  // parameter checks: elaboration stops with the message (Verilator, Yosys)
  if (AXI_W < 8 || (AXI_W & (AXI_W - 1)) != 0) begin : g_check_axi_w
    $fatal(1, "bnn_thr_loader: AXI_W (%0d) must be a power of two from 8", AXI_W);
  end
  if (TOTAL < 1 || IW < 1) begin : g_check_total
    $fatal(1, "bnn_thr_loader: TOTAL (%0d) and IW (%0d) must be at least 1", TOTAL, IW);
  end
  localparam int CHUNKS = (AXI_W >= 32) ? 1 : 32 / AXI_W;
  localparam int CW = (CHUNKS > 1) ? $clog2(CHUNKS) : 1;

  logic [CW-1:0] chunk;
  logic [31:0] value;
  logic complete;
  if (CHUNKS == 1) begin : g_whole
    assign value = s_data[31:0];
    assign complete = 1'b1;
    wire unused_chunk = &{1'b0, chunk};
  end else begin : g_chunks
    logic [31-AXI_W:0] low;  // the chunks so far, in the low bits of the value
    assign value = {s_data, low};
    assign complete = chunk == CW'(CHUNKS - 1);
    always_ff @(posedge clk) begin
      if (s_valid) low <= value[31:AXI_W];
    end
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      chunk <= '0;
      v_valid <= 1'b0;
      v_index <= '0;
    end else begin
      if (v_valid) v_index <= (v_index == IW'(TOTAL - 1)) ? '0 : v_index + 1'b1;
      v_valid <= s_valid && complete;
      if (s_valid) chunk <= complete ? '0 : chunk + 1'b1;
    end
  end
  always_ff @(posedge clk) begin
    if (s_valid && complete) v_data <= value;
  end
endmodule
