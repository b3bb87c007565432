// Top-1 label from packed scores (PE signed SCORE_BITS-bit lanes per word, CLASSES / PE words
// per image), the same as the HLS kernel: ties go to the lower class index. One word per cycle.
module bnn_label #(
    parameter int CLASSES = 10,
    parameter int PE = 1,
    parameter int SCORE_BITS = 32
) (
    input  logic                     clk,
    input  logic                     rst_n,
    input  logic [PE*SCORE_BITS-1:0] s_data,
    input  logic                     s_valid,
    output logic                     s_ready,
    output logic [             31:0] m_data,
    output logic                     m_valid,
    input  logic                     m_ready
);
  // parameter checks: elaboration stops with the message (Verilator, Yosys)
  if (PE < 1 || CLASSES % PE != 0) begin : g_check_pe
    $fatal(1, "bnn_label: PE (%0d) must divide CLASSES (%0d)", PE, CLASSES);
  end
  localparam int WORDS = CLASSES / PE;
  localparam int WW = (WORDS > 1) ? $clog2(WORDS) : 1;
  logic [WW-1:0] word_index;
  logic signed [SCORE_BITS-1:0] best;
  logic [31:0] best_class;
  wire en = !m_valid || m_ready;
  assign s_ready = en;
  wire take = s_valid && en;

  // the best of this word, starting from the best so far (or from lane 0 on a new image)
  logic signed [SCORE_BITS-1:0] word_best;
  logic [31:0] word_class;
  always_comb begin
    word_best = best;
    word_class = best_class;
    for (int p = 0; p < PE; p++) begin
      if ((word_index == '0 && p == 0) ||
          $signed(s_data[p*SCORE_BITS+:SCORE_BITS]) > word_best) begin
        word_best = $signed(s_data[p*SCORE_BITS+:SCORE_BITS]);
        word_class = 32'(word_index) * PE + p;
      end
    end
  end

  always_ff @(posedge clk) begin
    if (take) begin
      best <= word_best;
      best_class <= word_class;
    end
    if (take && word_index == WW'(WORDS - 1)) m_data <= word_class;
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      word_index <= '0;
      m_valid <= 1'b0;
    end else begin
      if (en) m_valid <= take && word_index == WW'(WORDS - 1);
      if (take) word_index <= (word_index == WW'(WORDS - 1)) ? '0 : word_index + 1'b1;
    end
  end
endmodule
