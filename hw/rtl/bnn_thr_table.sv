// A threshold table: DEPTH words of LANES lanes of LANE_BITS bits (lane l of word d at bits
// [l * LANE_BITS, ...)), its initial contents from FILE (the compiled model's thresholds),
// read combinationally (the kernel registers the word). WRITABLE = 1 adds the load port of
// docs/thresholds.md: each tw_valid takes the low LANE_BITS bits of tw_data as the next lane,
// word by word and lane by lane within a word; a word is written when its last lane arrives;
// the counters wrap after DEPTH x LANES values, so every complete load starts at word 0, lane 0.
module bnn_thr_table #(
    parameter int DEPTH = 1,
    parameter int LANES = 1,
    parameter int LANE_BITS = 8,
    parameter int WRITABLE = 0,
    parameter int AW = (DEPTH > 1) ? $clog2(DEPTH) : 1,
    parameter FILE = ""
) (
    input  logic                       clk,
    input  logic                       rst_n,
    input  logic [             AW-1:0] raddr,
    output logic [LANES*LANE_BITS-1:0] rdata,
    input  logic                       tw_valid,
    /* verilator lint_off UNUSEDSIGNAL */  // a value keeps its low LANE_BITS bits
    input  logic [                31:0] tw_data
    /* verilator lint_on UNUSEDSIGNAL */
);
  if (WRITABLE != 0 && LANE_BITS > 32) begin : g_check_bits
    $fatal(1, "bnn_thr_table: writable LANE_BITS (%0d) above the load stream's 32 bits",
           LANE_BITS);
  end
  localparam int LW = (LANES > 1) ? $clog2(LANES) : 1;

  logic [LANES*LANE_BITS-1:0] mem[DEPTH];
  initial $readmemh(FILE, mem);
  assign rdata = mem[raddr];

  if (WRITABLE != 0) begin : g_write
    logic [LW-1:0] lane;
    logic [AW-1:0] word;
    always_ff @(posedge clk) begin
      if (!rst_n) begin
        lane <= '0;
        word <= '0;
      end else if (tw_valid) begin
        if (lane == LW'(LANES - 1)) begin
          lane <= '0;
          word <= (word == AW'(DEPTH - 1)) ? '0 : word + 1'b1;
        end else begin
          lane <= lane + 1'b1;
        end
      end
    end
    // the lanes of a word gather in a shift register and the word is written whole when its
    // last lane arrives (one write port of the full width: a simple dual-port LUT RAM). A write
    // of one lane into the wide word made Yosys map a 64 x 288-bit table to 288 RAM64M and a
    // lane multiplexer (1,160 LUTs); written whole, 96 RAM64M (the CNV-W2A2 l16 stage: 2,554
    // -> 1,376 LUTs, +276 FFs)
    logic [LANES*LANE_BITS-1:0] complete;  // the word with this value as its last lane
    if (LANES > 1) begin : g_gather
      logic [(LANES-1)*LANE_BITS-1:0] gathered;  // the lanes before it
      assign complete = {tw_data[LANE_BITS-1:0], gathered};
      always_ff @(posedge clk) begin
        if (tw_valid) gathered <= complete[LANES*LANE_BITS-1:LANE_BITS];
      end
    end else begin : g_single
      assign complete = tw_data[LANE_BITS-1:0];
    end
    always_ff @(posedge clk) begin
      if (tw_valid && lane == LW'(LANES - 1)) mem[word] <= complete;
    end
  end else begin : g_const
    wire unused = &{1'b0, clk, rst_n, tw_valid};
  end
endmodule
