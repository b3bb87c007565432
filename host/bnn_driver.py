"""bnn-hls accelerator driver for the PYNQ-Z2 (and, with a simulated device, for CI).

Standalone: numpy, plus pynq on the board. It reads the deploy folder's model.json (input
quantiser, stream formats, host-side score ops), packs images with packing.py (the same file the
compiler uses), moves them through the AXI DMA, and unpacks the scores.

    from bnn_driver import BnnAccelerator
    accel = BnnAccelerator(".")              # loads bnn.bit / bnn.hwh with pynq
    labels = accel.predict_labels(images)     # images: (N, *model input shape), floats
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Protocol

import numpy as np

try:  # in the deploy folder packing.py sits next to this file
    from packing import apply_float_ops, pack_words, quantise_input, unpack_scores
except ImportError:  # inside the bnn-hls package
    from bnn_hls.packing import apply_float_ops, pack_words, quantise_input, unpack_scores

AP_CTRL = 0x00  # Vitis HLS s_axilite control register: bit 0 ap_start, bit 1 ap_done
NUM_IMAGES = 0x10  # the first scalar argument of bnn_top


class Device(Protocol):
    """What the driver needs from the hardware: run one batch of packed words."""

    fclk_mhz: float

    def run(self, words: np.ndarray, images: int, out_bytes: int) -> bytes: ...


class PynqDevice:
    """The accelerator on the board: overlay, AXI DMA, contiguous buffers grown on demand."""

    def __init__(self, bitfile: str, accel_name: str = "bnn_0", dma_name: str = "dma",
                 timeout_s: float = 10.0) -> None:
        from pynq import Overlay  # only on the board

        self.overlay = Overlay(bitfile)
        self.accel = getattr(self.overlay, accel_name)
        self.dma = getattr(self.overlay, dma_name)
        self.timeout_s = timeout_s
        self.in_buf: Any = None
        self.out_buf: Any = None
        try:
            from pynq import Clocks

            self.fclk_mhz = float(Clocks.fclk0_mhz)
        except Exception:
            self.fclk_mhz = 100.0

    def _buffers(self, in_bytes: int, out_bytes: int) -> None:
        from pynq import allocate

        if self.in_buf is None or self.in_buf.nbytes < in_bytes:
            if self.in_buf is not None:
                self.in_buf.freebuffer()
            self.in_buf = allocate(shape=(in_bytes,), dtype=np.uint8)
        if self.out_buf is None or self.out_buf.nbytes < out_bytes:
            if self.out_buf is not None:
                self.out_buf.freebuffer()
            self.out_buf = allocate(shape=(out_bytes,), dtype=np.uint8)

    def run(self, words: np.ndarray, images: int, out_bytes: int) -> bytes:
        data = np.ascontiguousarray(words).reshape(-1).view(np.uint8)
        self._buffers(data.nbytes, out_bytes)
        self.in_buf[: data.nbytes] = data
        self.in_buf.flush()
        self.dma.recvchannel.transfer(self.out_buf, nbytes=out_bytes)
        self.accel.write(NUM_IMAGES, images)
        self.accel.write(AP_CTRL, 1)
        self.dma.sendchannel.transfer(self.in_buf, nbytes=data.nbytes)
        deadline = time.monotonic() + self.timeout_s
        while not (self.dma.sendchannel.idle and self.dma.recvchannel.idle):
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the accelerator did not finish {images} images in {self.timeout_s} s "
                    f"(DMA send idle: {self.dma.sendchannel.idle}, receive idle: "
                    f"{self.dma.recvchannel.idle}); check that bnn.bit matches model.json")
            time.sleep(0.0001)
        self.out_buf.invalidate()
        return bytes(self.out_buf[:out_bytes])


class BnnAccelerator:
    def __init__(self, deploy_dir: str = ".", device: Device | None = None,
                 bitfile: str = "bnn.bit") -> None:
        with open(os.path.join(deploy_dir, "model.json")) as f:
            self.spec = json.load(f)
        self.classes = int(self.spec["classes"])
        self.stream = self.spec["stream"]
        self.device = device or PynqDevice(os.path.join(deploy_dir, bitfile))

    # --- data --------------------------------------------------------------------------------
    def pack(self, images: np.ndarray) -> np.ndarray:
        values = quantise_input(np.asarray(images), self.spec["input"])
        s = self.stream
        return pack_words(values, s["elems_per_word"], s["elem_bits"], s["word_bytes"])

    def integer_scores(self, images: np.ndarray) -> np.ndarray:
        """The device's integer scores, (N, classes)."""
        images = np.asarray(images)
        n = images.shape[0]
        raw = self.device.run(self.pack(images), n, 4 * n * self.classes)
        return unpack_scores(raw, n, self.classes)

    def predict(self, images: np.ndarray) -> np.ndarray:
        """The model's outputs: the integer scores through the host-side float ops."""
        return apply_float_ops(self.integer_scores(images), self.spec["score_ops"])

    def predict_labels(self, images: np.ndarray) -> np.ndarray:
        return np.argmax(self.predict(images), axis=1)

    def throughput_test(self, batch: int = 1000, images: np.ndarray | None = None
                        ) -> dict[str, float]:
        """Images/s of the device for one batch (packing and unpacking excluded)."""
        shape = tuple(self.spec["input"]["onnx_shape"])
        if images is None:
            images = np.random.default_rng(0).uniform(0, 1, (batch, *shape)).astype(np.float32)
        words = self.pack(images[:batch])
        n = len(images[:batch])
        t0 = time.perf_counter()
        self.device.run(words, n, 4 * n * self.classes)
        seconds = time.perf_counter() - t0
        return {"images": n, "seconds": seconds, "images_per_s": n / seconds,
                "latency_s_per_batch": seconds, "fclk_mhz": self.device.fclk_mhz}
