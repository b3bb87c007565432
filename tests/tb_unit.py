"""cocotb testbench for one RTL kernel with the library's stream ports (s_data/s_valid/
s_ready in, m_data/m_valid/m_ready out): drives the input words with random gaps, takes the
output with random stalls, and checks the output words against the expected ones.

BNN_TB_DATA: a JSON file {"inputs": [hex words], "expected": [hex words], "gap": p,
"stall": p}; BNN_TB_SEED: random seed. A watchdog fails a run that stops moving.
"""

from __future__ import annotations

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

WATCHDOG_CYCLES = 5000


@cocotb.test()
async def unit(dut) -> None:  # type: ignore[no-untyped-def]
    with open(os.environ["BNN_TB_DATA"]) as f:
        data = json.load(f)
    inputs = [int(h, 16) for h in data["inputs"]]
    expected = [int(h, 16) for h in data["expected"]]
    gap, stall = float(data.get("gap", 0.3)), float(data.get("stall", 0.3))
    rng = random.Random(int(os.environ.get("BNN_TB_SEED", "0")))
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())  # type: ignore[arg-type]
    dut.rst_n.value = 0
    if hasattr(dut, "tw_valid"):  # a threshold table's load port (docs/thresholds.md): unused
        dut.tw_valid.value = 0
        dut.tw_data.value = 0
    dut.s_valid.value = 0
    dut.m_ready.value = 0
    await ClockCycles(dut.clk, 4)
    dut.rst_n.value = 1
    sent = 0
    received: list[int] = []
    driving, ready = False, False
    idle = 0
    while len(received) < len(expected) or sent < len(inputs):
        await RisingEdge(dut.clk)
        progress = False
        if driving and int(dut.s_ready.value):  # a word was taken at this edge
            sent += 1
            progress = True
        if ready and int(dut.m_valid.value):
            assert len(received) < len(expected), "the kernel produced more words than expected"
            received.append(int(dut.m_data.value))
            progress = True
        idle = 0 if progress else idle + 1
        assert idle < WATCHDOG_CYCLES, (
            f"no transfer for {WATCHDOG_CYCLES} cycles: {sent} of {len(inputs)} words in, "
            f"{len(received)} of {len(expected)} out"
        )
        driving = sent < len(inputs) and rng.random() >= gap
        if driving:
            dut.s_data.value = inputs[sent]
        dut.s_valid.value = int(driving)
        ready = rng.random() >= stall
        dut.m_ready.value = int(ready)
    dut.s_valid.value = 0
    # nothing more may come out
    dut.m_ready.value = 1
    await ClockCycles(dut.clk, 20)
    assert not int(dut.m_valid.value), "the kernel produced more words than expected"
    assert sent == len(inputs), f"only {sent} of {len(inputs)} input words were taken"
    for i, (got, want) in enumerate(zip(received, expected)):
        assert got == want, f"output word {i}: {got:x} != {want:x}"
