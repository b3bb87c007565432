"""Simulated devices for the board driver (host/bnn_driver.py): the C simulation of the
generated HLS C++ and the Verilator simulation of the generated RTL take the same packed words
and return the same score bytes as the DMA on the board. A threshold load is kept, as the
board's tables keep it, and sent through the design's load path before every batch (each
batch is a fresh simulation)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from .csim import CSim
from .dataflow.cycles import CLOCK_MHZ
from .errors import ToolFailure
from .packing import scores_to_bytes


class CsimDevice:
    fclk_mhz = float(CLOCK_MHZ)

    def __init__(self, hls_dir: Path) -> None:
        self.sim = CSim(Path(hls_dir), Path(tempfile.mkdtemp(prefix="bnn-csim-dev-")))
        self.sim.build()
        self.loaded: np.ndarray | None = None

    def load(self, words: np.ndarray) -> None:
        self.loaded = np.array(words, dtype=np.uint8)

    def run(self, words: np.ndarray, images: int, out_bytes: int) -> bytes:
        classes = out_bytes // (4 * images)
        scores = self.sim.run(words, images, classes, load=self.loaded)
        return scores_to_bytes(scores)


class RtlsimDevice:
    fclk_mhz = float(CLOCK_MHZ)

    def __init__(self, rtl_dir: Path) -> None:
        from .rtlsim.runner import RtlSim

        self.sim = RtlSim(Path(rtl_dir), Path(tempfile.mkdtemp(prefix="bnn-rtl-dev-")))
        self.loaded: np.ndarray | None = None

    def load(self, words: np.ndarray) -> None:
        self.loaded = np.array(words, dtype=np.uint8)

    def run(self, words: np.ndarray, images: int, out_bytes: int) -> bytes:
        classes = out_bytes // (4 * images)
        # the testbench needs expected scores for its checks; the device only returns scores
        expected = np.zeros((images, classes), np.int64)
        res = self.sim.run(words, expected, backpressure=False, load=self.loaded)
        if res.scores is None:
            raise ToolFailure(f"the RTL simulation returned no scores: {res.runs}")
        return scores_to_bytes(res.scores)


def device_from_env() -> CsimDevice | RtlsimDevice | None:
    """BNN_SIM_DEVICE=csim:<hls dir> or rtlsim:<rtl dir> (used by the notebook in CI)."""
    value = os.environ.get("BNN_SIM_DEVICE", "")
    if not value:
        return None
    kind, _, folder = value.partition(":")
    if kind == "csim":
        return CsimDevice(Path(folder))
    if kind == "rtlsim":
        return RtlsimDevice(Path(folder))
    raise ValueError(f"BNN_SIM_DEVICE={json.dumps(value)}: expected csim:DIR or rtlsim:DIR")
