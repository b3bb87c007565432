"""bnn-hls accelerator driver for the PYNQ-Z2 (and, with a simulated device, for CI).

Standalone: numpy, plus pynq on the board. It reads the deploy folder's model.json (input
quantiser, stream formats, host-side score ops), packs images with packing.py (the same file the
compiler uses), moves them through the AXI DMA, and unpacks the scores.

    from bnn_driver import BnnAccelerator
    accel = BnnAccelerator(".")              # loads bnn.bit / bnn.hwh with pynq
    labels = accel.predict_labels(images)     # images: (N, *model input shape), floats
    accel.load_thresholds("thresholds.json")  # new thresholds (bnn-hls update), no rebuild
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Protocol

import numpy as np

try:  # in the deploy folder packing.py sits next to this file
    from packing import (apply_float_ops, pack_load_values, pack_words, quantise_input,
                         unpack_scores)
except ImportError:  # inside the bnn-hls package
    from bnn_hls.packing import (apply_float_ops, pack_load_values, pack_words, quantise_input,
                                 unpack_scores)

AP_CTRL = 0x00  # Vitis HLS s_axilite control register: bit 0 ap_start, bit 1 ap_done, 2 ap_idle
NUM_IMAGES = 0x10  # the first scalar argument of bnn_top
LOAD_THRESHOLDS = 0x18  # the second: 1 = the call reads the threshold load stream
AP_IDLE = 0x4


class Device(Protocol):
    """What the driver needs from the hardware: run one batch of packed words."""

    fclk_mhz: float

    def run(self, words: np.ndarray, images: int, out_bytes: int) -> bytes: ...

    def load(self, words: np.ndarray) -> None:
        """Send threshold load words (docs/thresholds.md) in a load call."""


DMA_RESET = 0x4  # DMACR bit 2: soft reset of the whole AXI DMA (both channels)
MM2S_DMACR, S2MM_DMACR = 0x00, 0x30


class PynqDevice:
    """The accelerator on the board: overlay, AXI DMA, contiguous buffers grown on demand.
    `overlay` and `allocate` default to pynq's (tests pass stand-ins)."""

    def __init__(self, bitfile: str = "bnn.bit", accel_name: str = "bnn_0", dma_name: str = "dma",
                 timeout_s: float = 10.0, overlay: Any = None, allocate: Any = None) -> None:
        if overlay is None:
            from pynq import Overlay  # only on the board

            overlay = Overlay(bitfile)
        if allocate is None:
            from pynq import allocate
        self.overlay = overlay
        self.allocate = allocate
        self.accel = getattr(overlay, accel_name)
        self.dma = getattr(overlay, dma_name)
        self.timeout_s = timeout_s
        self.in_buf: Any = None
        self.out_buf: Any = None
        # the longest transfer the DMA's length register takes, per channel
        self.max_transfer_bytes = min(int(self.dma.sendchannel._max_size),
                                      int(self.dma.recvchannel._max_size))
        try:
            from pynq import Clocks

            self.fclk_mhz = float(Clocks.fclk0_mhz)
        except Exception:
            self.fclk_mhz = 100.0

    def _buffers(self, in_bytes: int, out_bytes: int) -> None:
        if self.in_buf is None or self.in_buf.nbytes < in_bytes:
            if self.in_buf is not None:
                self.in_buf.freebuffer()
            self.in_buf = self.allocate(shape=(in_bytes,), dtype=np.uint8)
        if self.out_buf is None or self.out_buf.nbytes < out_bytes:
            if self.out_buf is not None:
                self.out_buf.freebuffer()
            self.out_buf = self.allocate(shape=(out_bytes,), dtype=np.uint8)

    def reset_dma(self) -> None:
        """Soft-reset the DMA after a stuck transfer and restart both channels, so that the
        next call starts clean instead of failing with "DMA channel not idle"."""
        self.dma.write(MM2S_DMACR, DMA_RESET)
        deadline = time.monotonic() + 1.0
        while self.dma.read(MM2S_DMACR) & DMA_RESET and time.monotonic() < deadline:
            time.sleep(0.0001)
        self.dma.sendchannel.start()
        self.dma.recvchannel.start()

    def load(self, words: np.ndarray) -> None:
        """A load call: load_thresholds = 1, num_images = 0, ap_start, the words through the
        DMA, then wait until the accelerator is idle again."""
        data = np.ascontiguousarray(words).reshape(-1).view(np.uint8)
        if data.nbytes > self.max_transfer_bytes:
            raise ValueError(f"{data.nbytes} bytes of thresholds in one DMA transfer; the DMA "
                             f"takes {self.max_transfer_bytes}")
        self._buffers(data.nbytes, 4)
        self.in_buf[: data.nbytes] = data
        self.in_buf.flush()
        self.accel.write(LOAD_THRESHOLDS, 1)
        self.accel.write(NUM_IMAGES, 0)
        self.accel.write(AP_CTRL, 1)
        self.dma.sendchannel.transfer(self.in_buf, nbytes=data.nbytes)
        deadline = time.monotonic() + self.timeout_s
        while not (self.dma.sendchannel.idle and self.accel.read(AP_CTRL) & AP_IDLE):
            if time.monotonic() > deadline:
                self.reset_dma()
                self.accel.write(LOAD_THRESHOLDS, 0)
                raise TimeoutError(f"the accelerator did not take the thresholds in "
                                   f"{self.timeout_s} s (the DMA was reset)")
            time.sleep(0.0001)
        self.accel.write(LOAD_THRESHOLDS, 0)

    def run(self, words: np.ndarray, images: int, out_bytes: int) -> bytes:
        data = np.ascontiguousarray(words).reshape(-1).view(np.uint8)
        if max(data.nbytes, out_bytes) > self.max_transfer_bytes:
            raise ValueError(f"{max(data.nbytes, out_bytes)} bytes in one DMA transfer; the DMA "
                             f"takes {self.max_transfer_bytes} (BnnAccelerator splits batches)")
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
                state = (f"DMA send idle: {self.dma.sendchannel.idle}, receive idle: "
                         f"{self.dma.recvchannel.idle}")
                self.reset_dma()
                raise TimeoutError(
                    f"the accelerator did not finish {images} images in {self.timeout_s} s "
                    f"({state}; the DMA was reset); check that bnn.bit matches model.json")
            time.sleep(0.0001)
        self.out_buf.invalidate()
        return bytes(self.out_buf[:out_bytes])


class BnnAccelerator:
    def __init__(self, deploy_dir: str = ".", device: Device | None = None,
                 bitfile: str = "bnn.bit") -> None:
        self.deploy_dir = deploy_dir
        with open(os.path.join(deploy_dir, "model.json")) as f:
            self.spec = json.load(f)
        self.classes = int(self.spec["classes"])
        self.stream = self.spec["stream"]
        self.device = device or PynqDevice(os.path.join(deploy_dir, bitfile))

    # --- thresholds ----------------------------------------------------------------------------
    def load_thresholds(self, path: str = "thresholds.json") -> None:
        """Load a thresholds file (written by `bnn-hls build`, or `bnn-hls update` for a new
        model with the same weights) into the accelerator: later batches compute with them,
        and the host uses the file's input quantiser and score ops. A relative path is
        looked up in the deploy folder."""
        if not os.path.isabs(path) and not os.path.exists(path):
            path = os.path.join(self.deploy_dir, path)
        with open(path) as f:
            doc = json.load(f)
        if not isinstance(doc, dict) or doc.get("format") != "bnn-hls-thresholds":
            raise ValueError(f"{path} is not a bnn-hls thresholds file")
        if doc.get("hardware_id") != self.spec.get("hardware_id"):
            raise ValueError(f"{path} is for another accelerator than this deploy folder's "
                             "(run bnn-hls update with this folder)")
        load = self.spec.get("load", {})
        values = np.asarray(doc["values"], dtype=np.int64)
        if values.shape != (int(load.get("values", -1)),):
            raise ValueError(f"{path} has {values.size} thresholds; the accelerator takes "
                             f"{load.get('values')}")
        for table in load["tables"]:
            part = values[table["offset"]:table["offset"] + table["depth"] * table["lanes"]]
            half = 1 << (int(table["bits"]) - 1)
            if part.size and (part.min() < -half or part.max() >= half):
                raise ValueError(f"{path}: a threshold of layer {table['layer']} does not fit "
                                 f"its {table['bits']}-bit table")
        self.device.load(pack_load_values(values, self.stream["word_bytes"]))
        self.spec["input"] = doc["input"]
        self.spec["score_ops"] = doc["score_ops"]

    # --- data --------------------------------------------------------------------------------
    def pack(self, images: np.ndarray) -> np.ndarray:
        values = quantise_input(np.asarray(images), self.spec["input"])
        s = self.stream
        return pack_words(values, s["elems_per_word"], s["elem_bits"], s["word_bytes"])

    def batch_limit(self) -> int:
        """The most images one device run takes: the DMA moves at most max_transfer_bytes
        per transfer (its length register), in and out."""
        limit = getattr(self.device, "max_transfer_bytes", None)
        if limit is None:
            return 1 << 62
        per_image = max(self.stream["word_bytes"] * self.stream["words_per_image"],
                        4 * self.classes)
        if per_image > limit:
            raise ValueError(f"one image needs {per_image} bytes per DMA transfer; the DMA "
                             f"takes {limit}")
        return limit // per_image

    def integer_scores(self, images: np.ndarray) -> np.ndarray:
        """The device's integer scores, (N, classes); a batch larger than one DMA transfer
        runs as several."""
        images = np.asarray(images)
        n = images.shape[0]
        step = self.batch_limit()
        parts = []
        for start in range(0, n, step):
            chunk = images[start:start + step]
            raw = self.device.run(self.pack(chunk), len(chunk), 4 * len(chunk) * self.classes)
            parts.append(unpack_scores(raw, len(chunk), self.classes))
        return np.concatenate(parts) if parts else np.zeros((0, self.classes), np.int64)

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
