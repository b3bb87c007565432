"""bnn-hls: compile binarized neural networks (ONNX/QONNX) into streaming FPGA accelerators."""

__version__ = "0.1.0"
