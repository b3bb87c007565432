// Sliding-window (im2col) generator, same formats as the HLS kernel: input pixels row-major,
// C / SIMD words each; output per output pixel the KH x KW window in (ky, kx, channel word)
// order; padded taps are all-zero words (PAD_ONES = 0: bit 0 = -1 for binary zero padding,
// corrected by the MVTU; 0 for integers) or all-one words (+1 padding).
// A line buffer of KH + SH rows: while it emits the windows of output row oy (one word per
// cycle) it already loads the SH rows the next output row needs (one word per cycle), so
// loading and emitting overlap. An image starts emitting once the rows of its first output row
// are in; rows below the last window are read and dropped. Without stalls an image takes
// FILL + OH*OW*KH*KW*CW cycles (FILL = the first row's input words) unless loading is slower
// (strides larger than the kernel), see docs/rtl.md.
module bnn_swg #(
    parameter int IH = 4,
    parameter int IW = 4,
    parameter int C = 1,
    parameter int SIMD = 1,
    parameter int ELEM_BITS = 1,
    parameter int KH = 3,
    parameter int KW = 3,
    parameter int SH = 1,
    parameter int SW = 1,
    parameter int PT = 0,
    parameter int PL = 0,
    parameter int PB = 0,
    parameter int PR = 0,
    parameter int PAD_ONES = 0,
    parameter int W = SIMD * ELEM_BITS
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
  if (SIMD < 1 || C % SIMD != 0) begin : g_check_simd
    $fatal(1, "bnn_swg: SIMD (%0d) must divide C (%0d)", SIMD, C);
  end
  if (W != SIMD * ELEM_BITS) begin : g_check_width
    $fatal(1, "bnn_swg: W (%0d) must be SIMD x ELEM_BITS (%0d)", W, SIMD * ELEM_BITS);
  end
  if (PT >= KH || PB >= KH || PL >= KW || PR >= KW) begin : g_check_pads
    $fatal(1, "bnn_swg: padding must be smaller than the %0dx%0d kernel", KH, KW);
  end
  if (IH + PT + PB < KH || IW + PL + PR < KW || SH < 1 || SW < 1) begin : g_check_fit
    $fatal(1, "bnn_swg: the %0dx%0d kernel must fit the padded %0dx%0d input", KH, KW, IH + PT + PB, IW + PL + PR);
  end
  localparam int R = KH + SH;  // line buffer rows
  localparam int CW = C / SIMD;
  localparam int OH = (IH + PT + PB - KH) / SH + 1;
  localparam int OW = (IW + PL + PR - KW) / SW + 1;
  localparam int ROWW = IW * CW;
  localparam int TAPS = KH * KW * CW;  // words per window
  localparam int CNT = 32;  // counters are 32-bit, like the int arithmetic on them
  localparam int LAW = (R * ROWW > 1) ? $clog2(R * ROWW) : 1;  // line buffer address

  logic [W-1:0] line[R*ROWW];
  logic [CNT-1:0] oy, loaded, col, wslot;  // output row, rows loaded, word in row, write slot
  logic [CNT-1:0] ox, tap;  // emit position: output column, word within the window
  logic emitted;  // every window of the current image is out

  function automatic int need_rows(input int row);  // input rows output rows 0..row need
    int n;
    n = row * SH - PT + KH;
    need_rows = (n > IH) ? IH : n;
  endfunction

  // emit address (all int arithmetic; the values are small and non-negative except y, x)
  wire [CNT-1:0] ky = tap / (KW * CW);
  wire [CNT-1:0] kx = (tap / CW) % KW;
  wire [CNT-1:0] cw = tap % CW;
  wire signed [CNT-1:0] y = $signed(oy) * SH - PT + $signed(ky);
  wire signed [CNT-1:0] x = $signed(ox) * SW - PL + $signed(kx);
  wire in_image = (y >= 0) && (y < IH) && (x >= 0) && (x < IW);
  wire [CNT-1:0] y_slot = in_image ? $unsigned(y) % R : '0;
  wire [CNT-1:0] x_pos = in_image ? $unsigned(x) : '0;
  /* verilator lint_off UNUSEDSIGNAL */  // only the low LAW bits address the buffer
  wire [CNT-1:0] read_addr = y_slot * ROWW + x_pos * CW + cw;
  wire [CNT-1:0] write_addr = wslot * ROWW + col;
  /* verilator lint_on UNUSEDSIGNAL */
  wire [W-1:0] tap_word = in_image ? line[LAW'(read_addr)] : {W{PAD_ONES[0]}};

  wire last_oy = oy == CNT'(OH - 1);
  wire [CNT-1:0] load_limit = (last_oy || emitted) ? CNT'(IH) : CNT'(need_rows(int'(oy) + 1));
  wire [CNT-1:0] emit_need = CNT'(need_rows(int'(oy)));
  wire en = !m_valid || m_ready;
  assign s_ready = loaded < load_limit;
  wire load = s_valid && s_ready;
  wire emit = en && !emitted && (loaded >= emit_need);
  wire last_tap = tap == CNT'(TAPS - 1);
  wire last_ox = ox == CNT'(OW - 1);
  wire row_done = load && col == CNT'(ROWW - 1);
  wire image_done = (emitted || (emit && last_tap && last_ox && last_oy)) &&
      (loaded + CNT'(row_done) == CNT'(IH));

  always_ff @(posedge clk) begin
    if (load) line[LAW'(write_addr)] <= s_data;
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      m_valid <= 1'b0;
    end else if (en) begin
      m_valid <= emit;
    end
    if (emit) m_data <= tap_word;
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      oy <= '0;
      loaded <= '0;
      col <= '0;
      wslot <= '0;
      ox <= '0;
      tap <= '0;
      emitted <= 1'b0;
    end else if (image_done) begin  // start the next image
      oy <= '0;
      loaded <= '0;
      col <= '0;
      wslot <= '0;
      ox <= '0;
      tap <= '0;
      emitted <= 1'b0;
    end else begin
      if (load) begin
        col <= (col == CNT'(ROWW - 1)) ? '0 : col + 1'b1;
        if (row_done) begin
          loaded <= loaded + 1'b1;
          wslot <= (wslot == CNT'(R - 1)) ? '0 : wslot + 1'b1;
        end
      end
      if (emit) begin
        tap <= last_tap ? '0 : tap + 1'b1;
        if (last_tap) begin
          ox <= last_ox ? '0 : ox + 1'b1;
          if (last_ox) begin
            if (last_oy) emitted <= 1'b1;
            else oy <= oy + 1'b1;
          end
        end
      end
    end
  end
endmodule
