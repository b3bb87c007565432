"""cocotb testbench for a generated bnn_top or its AXI wrapper bnn_top_axi (whose AXI-Lite
registers it writes as the board driver does): streams a batch through AXI-Stream, checks every
score against the expected (golden) scores, measures cycles per image and latency, and stops a
stalled simulation with the streams where data stopped.

Runs inside the simulator; parameters come through environment variables set by
bnn_hls.rtlsim.runner: BNN_TB_DATA (an .npz with `words` (input bytes) and `expected` scores),
BNN_TB_RESULT (the JSON file to write), BNN_TB_STREAMS (stream names), BNN_TB_SEED,
BNN_TB_LOAD (optional: an .npy of threshold load words, sent first as the driver does).
"""

from __future__ import annotations

import json
import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

from bnn_hls.dataflow.cycles import CLOCK_PERIOD_NS
from bnn_hls.packing import unpack_scores
from bnn_hls.rtlsim.results import batch_result, stall_message

WATCHDOG_CYCLES = int(os.environ.get("BNN_TB_WATCHDOG", "20000"))


def _setup() -> tuple[np.ndarray, np.ndarray, int]:
    data = np.load(os.environ["BNN_TB_DATA"])
    words, expected = data["words"], data["expected"]
    return words, expected, int(expected.shape[0])


class Ports:
    """The generated bnn_top (clk, rst_n, s_axis/m_axis, num_images) or its AXI wrapper
    bnn_top_axi (ap_clk, ap_rst_n, input_words/output_scores, AXI-Lite s_axi_control), which
    has the HLS IP's ports."""

    def __init__(self, dut) -> None:  # type: ignore[no-untyped-def]
        self.axi = hasattr(dut, "s_axi_control_awaddr")
        self.clk = dut.ap_clk if self.axi else dut.clk
        self.rst_n = dut.ap_rst_n if self.axi else dut.rst_n
        self.src = "input_words" if self.axi else "s_axis"
        self.dst = "output_scores" if self.axi else "m_axis"
        self.dut = dut

    def signal(self, prefix: str, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.dut, f"{prefix}_{name}")


async def _reset(dut, ports: Ports) -> None:  # type: ignore[no-untyped-def]
    ports.rst_n.value = 0
    if not ports.axi:
        dut.load_thresholds.value = 0
    ports.signal(ports.src, "tvalid").value = 0
    ports.signal(ports.dst, "tready").value = 0
    await ClockCycles(ports.clk, 5)
    ports.rst_n.value = 1
    await ClockCycles(ports.clk, 2)


class Monitor:
    """Counts cycles and records when input words are taken and output words leave."""

    def __init__(self, dut, ports: Ports) -> None:  # type: ignore[no-untyped-def]
        self.dut = dut
        self.ports = ports
        self.cycle = 0
        self.first_in: int | None = None
        self.out_cycles: list[int] = []
        self.last_progress = 0

    async def run(self) -> None:
        p = self.ports
        in_valid, in_ready = p.signal(p.src, "tvalid"), p.signal(p.src, "tready")
        out_valid, out_ready = p.signal(p.dst, "tvalid"), p.signal(p.dst, "tready")
        while True:
            await RisingEdge(p.clk)
            self.cycle += 1
            if int(in_valid.value) and int(in_ready.value):
                if self.first_in is None:
                    self.first_in = self.cycle
                self.last_progress = self.cycle
            if int(out_valid.value) and int(out_ready.value):
                self.out_cycles.append(self.cycle)
                self.last_progress = self.cycle


def _stall_report(dut, names: list[str], watchdog: int, scores: int, total: int) -> str:  # type: ignore[no-untyped-def]
    if not hasattr(dut, "dbg_valid"):
        dut = dut.u_top  # the AXI wrapper: look inside
    valid, ready = int(dut.dbg_valid.value), int(dut.dbg_ready.value)
    return stall_message(watchdog, scores, total, valid, ready, names)


class Harness:
    """AXI-Stream drivers and the monitor, created once; batches run back to back."""

    def __init__(self, dut, ports: Ports) -> None:  # type: ignore[no-untyped-def]
        self.dut = dut
        self.ports = ports
        self.names = json.loads(os.environ["BNN_TB_STREAMS"])
        self.source = AxiStreamSource(
            AxiStreamBus.from_prefix(dut, ports.src),
            ports.clk,
            ports.rst_n,
            reset_active_level=False,
        )
        self.sink = AxiStreamSink(
            AxiStreamBus.from_prefix(dut, ports.dst),
            ports.clk,
            ports.rst_n,
            reset_active_level=False,
        )
        self.control = None
        if ports.axi:
            from cocotbext.axi import AxiLiteBus, AxiLiteMaster

            self.control = AxiLiteMaster(
                AxiLiteBus.from_prefix(dut, "s_axi_control"),
                ports.clk,
                ports.rst_n,
                reset_active_level=False,
            )
        self.monitor = Monitor(dut, ports)
        cocotb.start_soon(self.monitor.run())

    async def load(self, words: np.ndarray) -> None:
        """The threshold load stream (docs/thresholds.md), as the board driver sends it:
        load_thresholds = 1, a start with num_images = 0, the words, load_thresholds = 0."""
        if self.control is not None:
            await self.control.write_dword(0x18, 1)
            await self.control.write_dword(0x10, 0)
            await self.control.write_dword(0x00, 1)
        else:
            self.dut.load_thresholds.value = 1
        self.source.clear_pause_generator()
        await self.source.send(AxiStreamFrame(words.tobytes()))
        await self.source.wait()
        await ClockCycles(self.ports.clk, 2)  # the last value is written
        if self.control is not None:
            await self.control.write_dword(0x18, 0)
        else:
            self.dut.load_thresholds.value = 0

    async def batch(self, backpressure: bool, seed: int) -> dict[str, object]:
        dut = self.dut
        words, expected, images = _setup()
        rng = random.Random(seed)
        if backpressure:  # random gaps on the input, random stalls on the output
            self.source.set_pause_generator(iter(lambda: rng.random() < 0.3, None))
            self.sink.set_pause_generator(iter(lambda: rng.random() < 0.4, None))
        else:
            self.source.clear_pause_generator()
            self.sink.clear_pause_generator()
        if self.control is not None:  # as the board driver does: num_images, then ap_start
            await self.control.write_dword(0x10, images)
            await self.control.write_dword(0x00, 1)
        else:
            dut.num_images.value = images
        monitor = self.monitor
        monitor.first_in = None
        monitor.out_cycles = []
        start = monitor.cycle
        await self.source.send(AxiStreamFrame(words.tobytes()))
        total = images * expected.shape[1]
        received = bytearray()
        while len(received) < 4 * total:
            if self.sink.empty():
                await RisingEdge(self.ports.clk)
                if monitor.cycle - monitor.last_progress > WATCHDOG_CYCLES:
                    return {
                        "backpressure": backpressure,
                        "images": images,
                        "error": _stall_report(
                            dut, self.names, WATCHDOG_CYCLES, len(monitor.out_cycles), total
                        ),
                    }
                continue
            frame = await self.sink.recv()
            received += bytes(frame.tdata)
        got = unpack_scores(bytes(received[: 4 * total]), images, total // images)
        scores_file = os.environ.get("BNN_TB_SCORES")
        if scores_file and not backpressure:
            np.save(scores_file, got.astype(np.int64))
        classes = expected.shape[1]
        ends = monitor.out_cycles[classes - 1 :: classes]  # cycle of each image's last score
        first_in = None if monitor.first_in is None else monitor.first_in - start
        return batch_result(
            backpressure,
            got,
            expected,
            [e - start for e in ends],
            first_in,
            monitor.cycle - start,
            extra_bytes=len(received) - 4 * total,
        )


@cocotb.test()
async def accelerator(dut) -> None:  # type: ignore[no-untyped-def]
    ports = Ports(dut)
    cocotb.start_soon(Clock(ports.clk, CLOCK_PERIOD_NS, unit="ns").start())  # type: ignore[arg-type]
    seed = int(os.environ.get("BNN_TB_SEED", "0"))
    await _reset(dut, ports)
    harness = Harness(dut, ports)
    if os.environ.get("BNN_TB_LOAD"):
        await harness.load(np.load(os.environ["BNN_TB_LOAD"]))
    results = [await harness.batch(False, seed)]
    if os.environ.get("BNN_TB_BACKPRESSURE", "1") == "1" and "error" not in results[0]:
        results.append(await harness.batch(True, seed + 1))
    with open(os.environ["BNN_TB_RESULT"], "w") as f:
        json.dump(results, f, indent=2)
    for r in results:
        assert "error" not in r, r["error"]
        assert not r["mismatched_images"], f"scores differ on images {r['mismatched_images']}"
        assert r["extra_bytes"] == 0, "more output words than images x classes"
