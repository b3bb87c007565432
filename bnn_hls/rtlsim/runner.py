"""Run a batch through a generated RTL folder: `RtlSim` picks the native testbench (native.py)
for bnn_top, or builds with cocotb's runner and runs the cocotb testbench (tb_accel.py) for the
AXI wrapper bnn_top_axi (or when asked)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
from pathlib import Path

import numpy as np

from ..errors import ToolFailure
from .native import DESIGN_FLAGS, tool_env
from .results import RtlSimResult

log = logging.getLogger(__name__)


HARNESSES = ("native", "cocotb")


class RtlSim:
    def __init__(
        self, rtl_dir: Path, build_dir: Path, top: str = "bnn_top", harness: str | None = None
    ) -> None:
        """top: "bnn_top", or "bnn_top_axi" for the wrapper with the HLS IP's ports (the
        cocotb bench drives its AXI-Lite registers). harness: "native" (the C++ testbench
        compiled with the design, bnn_top only) or "cocotb"; default: native for bnn_top,
        or $BNN_RTLSIM_HARNESS."""
        self.rtl_dir = rtl_dir
        self.build_dir = build_dir
        self.top = top
        self.design = json.loads((rtl_dir / "design.json").read_text())
        default = "native" if top == "bnn_top" else "cocotb"
        self.harness = harness or os.environ.get("BNN_RTLSIM_HARNESS") or default
        if self.harness not in HARNESSES or (self.harness == "native" and top != "bnn_top"):
            raise ValueError(f"no RTL simulation harness {self.harness!r} for {top}")

    def _runner(self):  # type: ignore[no-untyped-def]
        os.environ.update(tool_env())
        os.environ.pop("VERILATOR_ROOT", None)
        from cocotb_tools.runner import get_runner

        runner = get_runner("verilator")
        if not log.isEnabledFor(logging.DEBUG):  # the runner logs every command at INFO
            logging.getLogger("Verilator").setLevel(logging.WARNING)
        return runner

    def build(self) -> float:
        runner = self._runner()
        names = self.design["sources"] + (["bnn_top_axi.sv"] if self.top == "bnn_top_axi" else [])
        sources = [self.rtl_dir / name for name in names]
        t0 = time.perf_counter()
        log.info("building the RTL simulation (Verilator)...")
        runner.build(
            sources=sources,
            hdl_toplevel=self.top,
            build_dir=self.build_dir,
            build_args=DESIGN_FLAGS,
            timescale=("1ns", "1ps"),
            log_file=self.build_dir / "build.log",
        )
        return time.perf_counter() - t0

    def run(
        self,
        words: np.ndarray,
        expected: np.ndarray,
        seed: int = 0,
        backpressure: bool = True,
        load: np.ndarray | None = None,
    ) -> RtlSimResult:
        """Simulate the batch (words: (N * words per image, bytes per word)) without stalls,
        then, with backpressure, again under seeded random stalls on input and output; each
        run's scores are checked against `expected` (N, classes). `load`: threshold load
        words (packing.pack_load_values) sent first, through the design's load port."""
        if self.harness == "native":
            from . import native

            return native.simulate(self.rtl_dir, words, expected, seed, backpressure, load=load)
        build_s = self.build()
        load_file = self.build_dir / "tb_load.npy"
        if load is not None:
            np.save(load_file, np.ascontiguousarray(load))
        elif load_file.exists():
            load_file.unlink()
        data = self.build_dir / "tb_data.npz"
        result = self.build_dir / "tb_result.json"
        np.savez(data, words=np.ascontiguousarray(words), expected=expected.astype(np.int64))
        for stale in (result, self.build_dir / "tb_scores.npy"):
            if stale.exists():
                stale.unlink()
        runner = self._runner()
        env = {
            "BNN_TB_DATA": str(data),
            "BNN_TB_RESULT": str(result),
            "BNN_TB_STREAMS": json.dumps(self.design["streams"]),
            "BNN_TB_SEED": str(seed),
            "BNN_TB_BACKPRESSURE": "1" if backpressure else "0",
            "BNN_TB_SCORES": str(self.build_dir / "tb_scores.npy"),
            "BNN_TB_LOAD": str(load_file) if load is not None else "",
            # the stall bound from the design's own cycle model, unless the user set one
            "BNN_TB_WATCHDOG": os.environ.get(
                "BNN_TB_WATCHDOG", str(self.design.get("watchdog_cycles", 20_000))
            ),
        }
        t0 = time.perf_counter()
        log.info("running the RTL simulation on %d images...", len(expected))
        # the runner exits when the testbench failed; the result file says why
        with contextlib.suppress(SystemExit):
            runner.test(
                test_module="bnn_hls.rtlsim.tb_accel",
                hdl_toplevel=self.top,
                hdl_toplevel_lang="verilog",
                results_xml=str(self.build_dir / "results.xml"),
                build_dir=self.build_dir,
                test_dir=self.rtl_dir,
                extra_env=env,
                log_file=self.build_dir / "sim.log",
            )
        sim_s = time.perf_counter() - t0
        if not result.exists():
            tail = (self.build_dir / "sim.log").read_text()[-3000:]
            raise ToolFailure(f"the RTL simulation wrote no result:\n{tail}")
        scores_file = self.build_dir / "tb_scores.npy"
        scores = np.load(scores_file) if scores_file.exists() else None
        return RtlSimResult(json.loads(result.read_text()), build_s, sim_s, scores)

    def clean(self) -> None:
        shutil.rmtree(self.build_dir, ignore_errors=True)
