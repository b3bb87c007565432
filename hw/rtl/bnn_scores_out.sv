// Packed scores (PE signed SCORE_BITS-bit lanes per word) -> one 32-bit AXI-Stream word per
// class, sign-extended, TLAST on the last word of a batch of num_images images.
module bnn_scores_out #(
    parameter int PE = 1,
    parameter int SCORE_BITS = 32,
    parameter int CLASSES = 10
) (
    input  logic                     clk,
    input  logic                     rst_n,
    input  logic [             31:0] num_images,
    input  logic [PE*SCORE_BITS-1:0] s_data,
    input  logic                     s_valid,
    output logic                     s_ready,
    output logic [             31:0] m_tdata,
    output logic                     m_tvalid,
    input  logic                     m_tready,
    output logic                     m_tlast
);
  // parameter checks: elaboration stops with the message (Verilator, Yosys)
  if (PE < 1 || CLASSES % PE != 0) begin : g_check_pe
    $fatal(1, "bnn_scores_out: PE (%0d) must divide CLASSES (%0d)", PE, CLASSES);
  end
  logic [SCORE_BITS-1:0] lane;
  logic [31:0] sent;  // words sent in this batch
  bnn_split #(
      .IN_W (PE * SCORE_BITS),
      .OUT_W(SCORE_BITS)
  ) u_split (
      .clk(clk),
      .rst_n(rst_n),
      .s_data(s_data),
      .s_valid(s_valid),
      .s_ready(s_ready),
      .m_data(lane),
      .m_valid(m_tvalid),
      .m_ready(m_tready)
  );
  wire [31:0] total = num_images * 32'(CLASSES);
  assign m_tdata = 32'($signed(lane));
  assign m_tlast = (sent + 1 == total);

  always_ff @(posedge clk) begin
    if (!rst_n) sent <= '0;
    else if (m_tvalid && m_tready) sent <= m_tlast ? '0 : sent + 1;
  end
endmodule
