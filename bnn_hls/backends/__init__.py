"""Backends: generate hardware from the compiled IR (HLS C++ now; RTL and Vivado later)."""
