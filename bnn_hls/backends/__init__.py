"""Backends: the pipeline plan (dataflow/) as files. hls.py: the Vivado/Vitis HLS project
(hls_arrays.py: each memory's array, pragmas and block RAM; hls_check.py: the static check
that every pipelined loop's accesses fit its arrays' ports, by the stages' kernel rules);
rtl.py: SystemVerilog; vivado.py: the PYNQ-Z2 build folder (block design, build script,
deploy/); compile_folder.py: what `bnn-hls compile` writes. They render what the stages
describe and never decide by a stage's kind (tests/test_architecture.py)."""
