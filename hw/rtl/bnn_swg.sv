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
  localparam int RING = R * ROWW;  // line buffer words
  localparam int NW = 16;  // signed width of rows, columns and counts
  localparam int LAW = (RING > 1) ? $clog2(RING) : 1;  // line buffer address
  localparam int AW = LAW + 2;  // address arithmetic, signed

  // Every index is a counter updated by additions of constants (no division, no multiplier):
  // the longest path is a few short adders and the buffer read.
  logic [W-1:0] line[RING];
  // loading: rows loaded, word within the row, write address
  logic [NW-1:0] loaded, col;
  logic [LAW-1:0] waddr;
  // emitting: output row oy, column ox; the window's top row y0 = oy*SH - PT, left column
  // x0 = ox*SW - PL; tap (ky, kx, cw) and j = kx*CW + cw; x0cw = x0*CW; top_base: the ring row
  // (y0 mod R) times ROWW, row_base: the ring row of y0 + ky times ROWW
  logic [NW-1:0] oy, ox, ky, kx, cw, j;
  logic signed [NW-1:0] y0, x0;
  logic signed [AW-1:0] x0cw, top_base, row_base;
  logic [NW-1:0] need, need_next;  // input rows output row oy (and oy + 1) needs
  logic emitted;  // every window of the current image is out

  localparam int TOP0 = (PT == 0) ? 0 : R - PT;  // ring row of row -PT
  localparam int NEED0 = (KH - PT < IH) ? KH - PT : IH;
  localparam int NEED1 = (SH + KH - PT < IH) ? SH + KH - PT : IH;

  wire signed [NW-1:0] y = y0 + $signed(ky);
  wire signed [NW-1:0] x = x0 + $signed(kx);
  wire in_image = (y >= 0) && (y < NW'(IH)) && (x >= 0) && (x < NW'(IW));
  /* verilator lint_off UNUSEDSIGNAL */  // the low LAW bits address the buffer
  wire signed [AW-1:0] read_addr = row_base + x0cw + $signed(AW'(j));
  /* verilator lint_on UNUSEDSIGNAL */
  wire [W-1:0] tap_word = in_image ? line[LAW'(read_addr)] : {W{PAD_ONES[0]}};

  wire last_oy = oy == NW'(OH - 1);
  wire [NW-1:0] load_limit = (last_oy || emitted) ? NW'(IH) : need_next;
  wire en = !m_valid || m_ready;
  assign s_ready = loaded < load_limit;
  wire load = s_valid && s_ready;
  wire emit = en && !emitted && (loaded >= need);
  wire last_cw = cw == NW'(CW - 1);
  wire last_kx = kx == NW'(KW - 1);
  wire last_ky = ky == NW'(KH - 1);
  wire last_tap = last_cw && last_kx && last_ky;
  wire last_ox = ox == NW'(OW - 1);
  wire row_done = load && col == NW'(ROWW - 1);
  wire image_done = (emitted || (emit && last_tap && last_ox && last_oy)) &&
      (loaded + NW'(row_done) == NW'(IH));
  // the next ring rows, wrapped
  wire signed [AW-1:0] next_row = (row_base + AW'(ROWW) >= AW'(RING)) ?
      row_base + AW'(ROWW) - AW'(RING) : row_base + AW'(ROWW);
  wire signed [AW-1:0] next_top = (top_base + AW'(SH * ROWW) >= AW'(RING)) ?
      top_base + AW'(SH * ROWW) - AW'(RING) : top_base + AW'(SH * ROWW);

  always_ff @(posedge clk) begin
    if (load) line[waddr] <= s_data;
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      m_valid <= 1'b0;
    end else if (en) begin
      m_valid <= emit;
    end
    if (emit) m_data <= tap_word;
  end

  task automatic start_image();
    oy <= '0;
    ox <= '0;
    ky <= '0;
    kx <= '0;
    cw <= '0;
    j <= '0;
    y0 <= -NW'(PT);
    x0 <= -NW'(PL);
    x0cw <= -AW'(PL * CW);
    top_base <= AW'(TOP0 * ROWW);
    row_base <= AW'(TOP0 * ROWW);
    need <= NW'(NEED0);
    need_next <= NW'(NEED1);
    loaded <= '0;
    col <= '0;
    waddr <= '0;
    emitted <= 1'b0;
  endtask

  always_ff @(posedge clk) begin
    if (!rst_n || image_done) begin
      start_image();
    end else begin
      if (load) begin
        col <= (col == NW'(ROWW - 1)) ? '0 : col + 1'b1;
        waddr <= (waddr == LAW'(RING - 1)) ? '0 : waddr + 1'b1;
        if (row_done) loaded <= loaded + 1'b1;
      end
      if (emit) begin
        cw <= last_cw ? '0 : cw + 1'b1;
        if (!last_cw) begin
          j <= j + 1'b1;
        end else if (!last_kx) begin
          kx <= kx + 1'b1;
          j <= j + 1'b1;
        end else begin  // a row of the window is done
          kx <= '0;
          j <= '0;
          if (!last_ky) begin
            ky <= ky + 1'b1;
            row_base <= next_row;
          end else begin  // the window is done
            ky <= '0;
            if (!last_ox) begin
              ox <= ox + 1'b1;
              x0 <= x0 + NW'(SW);
              x0cw <= x0cw + AW'(SW * CW);
              row_base <= top_base;
            end else begin  // the output row is done
              ox <= '0;
              x0 <= -NW'(PL);
              x0cw <= -AW'(PL * CW);
              if (last_oy) begin
                emitted <= 1'b1;
              end else begin
                oy <= oy + 1'b1;
                y0 <= y0 + NW'(SH);
                top_base <= next_top;
                row_base <= next_top;
                need <= need_next;
                need_next <= (need_next + NW'(SH) > NW'(IH)) ? NW'(IH) : need_next + NW'(SH);
              end
            end
          end
        end
      end
    end
  end
endmodule
