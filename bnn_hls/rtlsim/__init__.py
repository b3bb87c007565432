"""RTL simulation of a generated design in Verilator: `runner.RtlSim` runs a batch through the
native C++ testbench (native.py, sim/verilator/bnn_tb.cpp) or, for the AXI wrapper, the cocotb
testbench (tb_accel.py); results.py computes what a run measured for both."""
