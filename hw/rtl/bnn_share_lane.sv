// One output lane of a result-sharing conv unit: the sum of C unsigned B-bit terms (the
// shared 2-D filter results of the lane's input channels, term c at bits [c*B +: B]). It is
// computed bit plane by bit plane: the sum is sum_b 2^b * popcount(bit b of every term), so
// the terms are compressed bit by bit like an XNOR popcount instead of by C - 1 wide adders.
module bnn_share_lane #(
    parameter int C = 4,
    parameter int B = 4,
    parameter int SUM_W = 6
) (
    input  logic [  C*B-1:0] terms,
    output logic [SUM_W-1:0] sum
);
  // parameter checks: elaboration stops with the message (Verilator, Yosys)
  if (C < 1 || B < 1) begin : g_check_size
    $fatal(1, "bnn_share_lane: C (%0d) and B (%0d) must be at least 1", C, B);
  end
  localparam int CW = $clog2(C + 1);
  logic [CW-1:0] cnt[B];

  for (genvar b = 0; b < B; b++) begin : g_plane
    logic [C-1:0] plane;
    for (genvar c = 0; c < C; c++) begin : g_bit
      assign plane[c] = terms[c*B+b];
    end
    bnn_popcount #(.N(C)) u_count (
        .bits (plane),
        .count(cnt[b])
    );
  end

  always_comb begin
    sum = '0;
    for (int b = 0; b < B; b++) sum = sum + (SUM_W'(cnt[b]) << b);
  end
endmodule
