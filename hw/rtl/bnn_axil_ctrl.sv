// AXI4-Lite control registers for the RTL accelerator, laid out like the Vitis HLS IP's
// `control` bundle so the same driver works: 0x00 ap_ctrl (bit 0 ap_start, written 1 to start;
// bit 1 ap_done, set when a batch's last score leaves, or at once for a start with
// num_images = 0 (a load call), cleared on read; bit 2 ap_idle), 0x10 num_images,
// 0x18 load_thresholds (while 1, input words are the threshold load stream:
// docs/thresholds.md). The RTL pipeline itself runs whenever data arrives.
module bnn_axil_ctrl (
    input  logic        clk,
    input  logic        rst_n,
    input  logic [ 5:0] awaddr,
    input  logic        awvalid,
    output logic        awready,
    input  logic [31:0] wdata,
    input  logic [ 3:0] wstrb,
    input  logic        wvalid,
    output logic        wready,
    output logic [ 1:0] bresp,
    output logic        bvalid,
    input  logic        bready,
    input  logic [ 5:0] araddr,
    input  logic        arvalid,
    output logic        arready,
    output logic [31:0] rdata,
    output logic [ 1:0] rresp,
    output logic        rvalid,
    input  logic        rready,
    input  logic        batch_done,
    output logic [31:0] num_images,
    output logic        load_thresholds,
    output logic        irq
);
  logic [5:0] wr_addr;
  logic have_addr, have_data;
  logic [31:0] wr_data;
  logic done, busy;

  assign awready = !have_addr && !bvalid;
  assign wready = !have_data && !bvalid;
  assign bresp = 2'b00;
  assign rresp = 2'b00;
  assign arready = !rvalid;
  assign irq = 1'b0;  // the DMA's interrupts signal completion

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      have_addr <= 1'b0;
      have_data <= 1'b0;
      bvalid <= 1'b0;
      rvalid <= 1'b0;
      num_images <= '0;
      load_thresholds <= 1'b0;
      done <= 1'b0;
      busy <= 1'b0;
    end else begin
      if (awvalid && awready) begin
        wr_addr <= awaddr;
        have_addr <= 1'b1;
      end
      if (wvalid && wready) begin
        wr_data <= wdata;
        have_data <= 1'b1;
      end
      if (have_addr && have_data) begin  // one write: apply it and answer
        if (wr_addr == 6'h10) num_images <= wr_data;
        if (wr_addr == 6'h18) load_thresholds <= wr_data[0];
        if (wr_addr == 6'h00 && wr_data[0]) begin
          if (num_images == '0) done <= 1'b1;  // nothing to wait for (a load call)
          else busy <= 1'b1;
        end
        have_addr <= 1'b0;
        have_data <= 1'b0;
        bvalid <= 1'b1;
      end
      if (bvalid && bready) bvalid <= 1'b0;
      if (batch_done) begin
        done <= 1'b1;
        busy <= 1'b0;
      end
      if (arvalid && arready) begin
        rvalid <= 1'b1;
        case (araddr)
          6'h00: begin
            rdata <= {29'b0, !busy, done, busy};
            done <= 1'b0;  // clear on read
          end
          6'h10: rdata <= num_images;
          6'h18: rdata <= {31'b0, load_thresholds};
          default: rdata <= '0;
        endcase
      end
      if (rvalid && rready) rvalid <= 1'b0;
    end
  end

  wire unused = ^wstrb;
endmodule
