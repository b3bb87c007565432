// Element-wise running max and min of PE elements of EB bits (the pools' combine step): for
// bits (EB = 1) the OR and the AND; for EB-bit two's-complement codes the signed max and min.
// Combinational.
module bnn_max_min #(
    parameter int PE = 8,  // elements per word
    parameter int EB = 1   // bits per element
) (
    input  logic [PE*EB-1:0] hi_in,   // the running max so far
    input  logic [PE*EB-1:0] lo_in,   // the running min so far
    input  logic [PE*EB-1:0] x,       // the new word
    output logic [PE*EB-1:0] hi_out,  // max(hi_in, x) per element
    output logic [PE*EB-1:0] lo_out   // min(lo_in, x) per element
);
  if (PE < 1 || EB < 1) begin : g_check_size
    $fatal(1, "bnn_max_min: PE (%0d) and EB (%0d) must be at least 1", PE, EB);
  end
  for (genvar p = 0; p < PE; p++) begin : g_elem
    if (EB == 1) begin : g_bit
      assign hi_out[p] = hi_in[p] | x[p];
      assign lo_out[p] = lo_in[p] & x[p];
    end else begin : g_code
      wire signed [EB-1:0] h = hi_in[p*EB+:EB];
      wire signed [EB-1:0] l = lo_in[p*EB+:EB];
      wire signed [EB-1:0] v = x[p*EB+:EB];
      assign hi_out[p*EB+:EB] = (v > h) ? v : h;
      assign lo_out[p*EB+:EB] = (v < l) ? v : l;
    end
  end
endmodule
