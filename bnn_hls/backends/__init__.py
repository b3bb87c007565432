"""Backends: the pipeline plan (dataflow/) as files. hls.py: the Vivado/Vitis HLS project;
rtl.py: SystemVerilog; vivado.py: the PYNQ-Z2 build folder (block design, build script,
deploy/); compile_folder.py: what `bnn-hls compile` writes. They render what the stages
describe and never look at a stage's kind."""
