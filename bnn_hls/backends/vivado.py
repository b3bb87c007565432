"""Board flow: a self-contained build folder for the PYNQ-Z2 (the HLS project, the Vivado
block-design Tcl, build.sh / Makefile) and the deploy/ folder the board needs (driver, packing
module, model.json, notebook, test set, README)."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__, golden, ir
from ..dataflow.cycles import CLOCK_MHZ, initiation_interval
from ..dataflow.folding import Folding, folding_to_json
from ..dataflow.lowering import build_plan
from ..dataflow.plan import Plan
from ..dataflow.resource_model import XC7Z020
from ..dataflow.tables import describe as describe_load
from ..dataflow.tables import hardware_fingerprint
from ..errors import ModelError
from ..package_data import resource_dir, template_env
from ..update import THRESHOLDS_FILE, hardware_id, thresholds_doc
from .hls import FLAVORS, PART, write_hls_project
from .hls_arrays import plan_bram36

DESIGN = "bnn"
ACCEL_NAME = "bnn_0"
HLS_PORTS = {
    "in": "input_words",
    "out": "output_scores",
    "ctrl": "s_axi_control",
    "clk": "ap_clk",
    "rst": "ap_rst_n",
}


def model_json(model: ir.Model, plan: Plan, folding: Folding, sharing: str) -> dict[str, Any]:
    s = plan.input_stream
    fingerprint = hardware_fingerprint(plan)
    return {
        "format": "bnn-hls-deploy",
        "version": 1,
        "generator": f"bnn-hls {__version__}",
        "source_file": model.source_file,
        "input": model.input.host_spec(),
        "stream": {
            "elems_per_word": s.elems,
            "elem_bits": s.bits,
            "word_bytes": plan.in_axi_bits // 8,
            "words_per_image": s.words_per_image,
            "axi_bits": plan.in_axi_bits,
            "score_bits": 32,
        },
        "classes": plan.classes,
        "score_ops": [op.to_json() for op in model.scores.ops],
        "device": {
            "accelerator": ACCEL_NAME,
            "dma": "dma",
            "num_images_offset": 0x10,
            "load_thresholds_offset": 0x18,
            "ap_ctrl_offset": 0x00,
            "clock_mhz": CLOCK_MHZ,
        },
        "cycles_per_image_model": initiation_interval(plan),
        # what `bnn-hls update` and the driver's load_thresholds check (docs/thresholds.md)
        "load": describe_load(plan),
        # coeff_bits: the fixed point of a piecewise approximation (docs/pa.md), or null
        "compile": {"sharing": sharing, "coeff_bits": model.coeff_bits()},
        "folding": folding_to_json(folding),
        "hardware_id": hardware_id(fingerprint),
        "hardware": fingerprint,
    }


def test_set(model: ir.Model, images: np.ndarray, labels: np.ndarray | None) -> dict[str, Any]:
    result = golden.run(model, images)
    return {
        "images": images.astype(np.float32),
        "expected_scores": result.acc,
        "labels": labels if labels is not None else result.labels,
        "labels_source": np.array(
            "true labels" if labels is not None else "the compiled model's own predictions"
        ),
    }


def write_build_folder(
    model: ir.Model,
    folding: Folding,
    out: Path,
    *,
    flavor: str = "vitis",
    images: np.ndarray,
    labels: np.ndarray | None = None,
    ip: str = "rtl",
    sharing: str = "off",
) -> Plan:
    """ip: "hls" (the HLS backend exported by Vitis HLS) or "rtl" (the RTL backend, wrapped in
    bnn_top_axi with the same ports and registers, packaged by vivado/package_rtl.tcl).
    sharing: the --sharing the model was compiled with (model.json keeps it for `update`)."""
    plan = write_hls_project(model, folding, out / "hls", flavor=flavor, csim_inputs=images[:8])
    if ip == "rtl":
        from .rtl import write_rtl_project

        write_rtl_project(model, folding, out / "rtl", mem_dir="")
    env = template_env("vivado")
    tool_name, tool_cmd = FLAVORS[flavor]
    common = {"version": __version__, "source": model.source_file or "model", "design": DESIGN}
    (out / "vivado").mkdir(parents=True, exist_ok=True)
    (out / "vivado" / "build_bd.tcl").write_text(
        env.get_template("build_bd.tcl.j2").render(
            **common,
            part=PART,
            clock_mhz=CLOCK_MHZ,
            in_bits=plan.in_axi_bits,
            # the DataMover needs a memory-mapped side at least as wide as its stream
            mm2s_mm_bits=max(64, plan.in_axi_bits),
            ip_repo="hls/bnn_hls_prj/solution1/impl/ip" if ip == "hls" else "ip_rtl",
            accel_vlnv="bnn-hls.org:bnn:bnn_top:1.0",
            accel_name=ACCEL_NAME,
            accel_in=HLS_PORTS["in"],
            accel_out=HLS_PORTS["out"],
            accel_ctrl=HLS_PORTS["ctrl"],
            accel_clk=HLS_PORTS["clk"],
            accel_rst=HLS_PORTS["rst"],
        )
    )
    if ip == "rtl":
        (out / "vivado" / "package_rtl.tcl").write_text(
            env.get_template("package_rtl.tcl.j2").render(
                **common, part=PART, accel_vlnv="bnn-hls.org:bnn:bnn_top:1.0"
            )
        )
    build = out / "build.sh"
    build.write_text(env.get_template("build.sh.j2").render(**common, ip=ip, hls_tool=tool_cmd))
    build.chmod(build.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    (out / "Makefile").write_text(env.get_template("Makefile.j2").render(**common))
    deploy = out / "deploy"
    deploy.mkdir(exist_ok=True)
    shutil.copy(resource_dir("host") / "bnn_driver.py", deploy / "bnn_driver.py")
    shutil.copy(Path(__file__).resolve().parents[1] / "packing.py", deploy / "packing.py")
    shutil.copy(resource_dir("host") / "notebooks" / "bnn_pynq.ipynb", deploy / "bnn_pynq.ipynb")
    spec = model_json(model, plan, folding, sharing)
    (deploy / "model.json").write_text(json.dumps(spec, indent=1) + "\n")
    if spec["load"]["values"]:  # the built thresholds, for load_thresholds to return to
        (deploy / THRESHOLDS_FILE).write_text(json.dumps(thresholds_doc(model, plan)) + "\n")
    np.savez(deploy / "test_set.npz", **test_set(model, images, labels))
    (deploy / "README.md").write_text(DEPLOY_README.format(design=DESIGN))
    (out / "README.md").write_text(
        BUILD_README.format(design=DESIGN, tool=tool_name, tool_cmd=tool_cmd)
    )
    return plan


def check_fits(model: ir.Model, folding: Folding, ip: str) -> None:
    """Refuse an HLS design whose arrays, as written, need more block RAM than the chip has
    (the RTL design is estimated by the resource model and `bnn-hls estimate`)."""
    if ip != "hls":
        return
    _, bram = plan_bram36(build_plan(model, folding))
    if bram > XC7Z020["bram36"]:
        raise ModelError(
            f"the HLS design needs {bram:.1f} RAMB36 for its arrays as written; the xc7z020 "
            f"has {XC7Z020['bram36']}",
            hint="build the RTL IP (--ip rtl, the default), or ask for a design with fewer "
            'weights in block RAM (--budget, --target-fps, or a folding file with rom "lut")',
        )


def run_build(folder: Path) -> int:
    """Run a build folder's build.sh (the Xilinx tools on PATH); its exit status."""
    import subprocess

    return subprocess.run(["bash", "build.sh"], cwd=folder, check=False).returncode


def tools_available(flavor: str, ip: str = "rtl") -> list[str]:
    """The tools build.sh needs that are not on PATH."""
    needed = [FLAVORS[flavor][1], "vivado"] if ip == "hls" else ["vivado"]
    return [t for t in needed if shutil.which(t) is None]


BUILD_README = """# Build folder for the PYNQ-Z2

Needs {tool} and Vivado of the same release (2022.1 matches the PYNQ 3.0.1 image) on PATH.

    ./build.sh      # or: make

1. `hls/`: `{tool_cmd} -f hls.tcl` synthesises the accelerator and exports it as IP
   (log: logs/hls.log).
2. `vivado/build_bd.tcl`: the block design (Zynq PS7 at 100 MHz, AXI DMA, the accelerator,
   SmartConnects, resets, interrupts), implementation and bitstream (log: logs/vivado.log).
3. `deploy/{design}.bit` and `deploy/{design}.hwh` appear next to the driver; copy `deploy/` to
   the board and open `bnn_pynq.ipynb`.
"""

DEPLOY_README = """# bnn-hls deployment folder (PYNQ-Z2, PYNQ 3.0.x)

- `{design}.bit`, `{design}.hwh`: the overlay (written by the build folder's `build.sh`)
- `bnn_driver.py`: `BnnAccelerator` (numpy + pynq), `packing.py`: the input quantiser and
  stream packing the compiler itself uses
- `model.json`: stream formats, the input quantiser, the host-side score ops
- `test_set.npz`: test images, labels and the compiler's expected integer scores
- `bnn_pynq.ipynb`: classify the test set, show a grid of predictions, measure throughput

Copy this folder to the board (e.g. `scp -r deploy xilinx@pynq:jupyter_notebooks/bnn`) and run
the notebook, or in Python:

    from bnn_driver import BnnAccelerator
    accel = BnnAccelerator(".")
    accel.predict_labels(images)
"""
