"""Run one RTL kernel of the library under the cocotb unit testbench (tests/tb_unit.py):
random gaps on its input, random stalls on its output, every output word checked."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from bnn_hls.rtlsim.native import tool_env

log = logging.getLogger(__name__)


def run_unit(
    module: str,
    sources: list[Path],
    parameters: dict[str, object],
    inputs: list[int],
    expected: list[int],
    work_dir: Path,
    seed: int = 0,
    gap: float = 0.3,
    stall: float = 0.3,
) -> bool:
    """Build one kernel with Verilator and run the unit testbench (tests/tb_unit.py) on it; True
    when every output word matched (details in work_dir/sim.log)."""
    os.environ.update(tool_env())
    os.environ.pop("VERILATOR_ROOT", None)
    from cocotb_tools.runner import get_runner

    runner = get_runner("verilator")
    if not log.isEnabledFor(logging.DEBUG):  # the runner logs every command at INFO
        logging.getLogger("Verilator").setLevel(logging.WARNING)
    build = work_dir / "build"
    runner.build(
        sources=sources,
        hdl_toplevel=module,
        build_dir=build,
        parameters=parameters,
        build_args=["-Wno-fatal", "-Werror-USERFATAL", "-Wno-WIDTH"],
        timescale=("1ns", "1ps"),
        log_file=build / "build.log",
    )
    data = work_dir / "tb_unit.json"
    data.write_text(
        json.dumps(
            {
                "inputs": [f"{w:x}" for w in inputs],
                "expected": [f"{w:x}" for w in expected],
                "gap": gap,
                "stall": stall,
            }
        )
    )
    try:
        xml = runner.test(
            test_module="tests.tb_unit",
            hdl_toplevel=module,
            hdl_toplevel_lang="verilog",
            build_dir=build,
            test_dir=work_dir,
            extra_env={"BNN_TB_DATA": str(data), "BNN_TB_SEED": str(seed)},
            results_xml=str(build / "results.xml"),
            log_file=work_dir / "sim.log",
        )
    except SystemExit:  # the runner exits when a test failed
        return False
    from cocotb_tools.runner import get_results

    _, failures = get_results(xml)
    return failures == 0
