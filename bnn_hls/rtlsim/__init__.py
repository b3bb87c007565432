"""RTL simulation: Verilator through cocotb's Python runner, driven by the accelerator
testbench in tb_accel.py."""
