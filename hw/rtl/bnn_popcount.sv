// Population count of N bits: groups of three bits become 2-bit counts (one 6-input LUT per
// count bit, so an inversion or XNOR in front of the group is absorbed), then a balanced tree
// of adders sums the counts (a chain would cost a carry chain per term).
module bnn_popcount #(
    parameter int N  = 8,
    parameter int CW = $clog2(N + 1)
) (
    input  logic [N-1:0]  bits,
    output logic [CW-1:0] count
);
  // parameter checks: elaboration stops with the message (Verilator, Yosys)
  if (N < 1) begin : g_check_n
    $fatal(1, "bnn_popcount: N (%0d) must be at least 1", N);
  end
  localparam int NG = (N + 2) / 3;
  logic [CW-1:0] cnt[NG];
  logic [2:0] m[NG];

  always_comb begin
    for (int g = 0; g < NG; g++) begin
      m[g] = 3'b000;
      for (int j = 0; j < 3; j++) begin
        if (3 * g + j < N) m[g][j] = bits[(3*g+j)%N];
      end
      cnt[g] = CW'({(m[g][0] & m[g][1]) | (m[g][0] & m[g][2]) | (m[g][1] & m[g][2]),
                    m[g][0] ^ m[g][1] ^ m[g][2]});
    end
    for (int span = 1; span < NG; span = span * 2) begin
      for (int g = 0; g + span < NG; g = g + 2 * span) cnt[g] = cnt[g] + cnt[g+span];
    end
    count = cnt[0];
  end
endmodule
