"""RTL backend: the pipeline plan as SystemVerilog. The kernels are the library in hw/rtl/;
the top (templates/rtl/top.sv.j2) chains the stages' modules with a FIFO on every stream,
each stage's parameter memories go into .mem files read with $readmemh, and stages with a
generated module (the result-sharing unit) render their own template."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from .. import __version__, ir
from ..dataflow.folding import Folding
from ..dataflow.lowering import build_plan
from ..dataflow.plan import Plan
from ..dataflow.stage import Stage
from ..dataflow.tables import describe as describe_load
from ..dataflow.tables import load_tables
from ..package_data import resource_dir, template_env

MEM_DIR = "mem"  # where a design's .mem files go, relative to its sources

# what the top itself instantiates, whatever its stages: the stream FIFOs, the threshold
# loader and (in bnn_top_axi) the AXI-Lite control block
TOP_LIBRARY = ("bnn_fifo.sv", "bnn_thr_loader.sv", "bnn_axil_ctrl.sv")


def library_files(plan: Plan) -> list[str]:
    """The hw/rtl files a design needs: the top's, then each stage's library module and the
    files it uses (Stage.rtl_library), in stage order, each once."""
    names = list(TOP_LIBRARY)
    for st in plan.stages:
        own = [f"{st.rtl_module}.sv"] if st.rtl_module and st.rtl_template is None else []
        names += [n for n in (*own, *st.rtl_library) if n not in names]
    return names


def watchdog_cycles(plan: Plan) -> int:
    """How long a simulation may see no word enter or leave the accelerator before it is a
    stall: twice the sum of every stage's cycles per image (a bound on the first image's
    latency, and on any stage's quiet time), plus a margin for the FIFOs and random gaps."""
    return 2 * sum(st.cycles() for st in plan.stages) + 10_000


def mem_file_name(st: Stage, key: str) -> str:
    return f"{st.layer_name}_{key}.mem"


def mem_lines(words: list[int], width: int) -> str:
    """A .mem file: one word per line in hex, as wide as the memory."""
    digits = max(1, -(-width // 4))
    return "".join(f"{w:0{digits}x}\n" for w in words)


def stage_instances(plan: Plan, mem_dir: str = MEM_DIR) -> list[tuple[Stage, dict[str, Any]]]:
    """Every stage with an RTL module: its module, parameters (then its memory files) and
    ports."""
    tables = {t.stage: t for t in load_tables(plan)}
    result = []
    for st in plan.stages:
        if st.rtl_module is None:
            continue
        mems = st.memories()
        names = [mem_file_name(st, m.key) for m in mems]
        paths = [f"{mem_dir}/{n}" if mem_dir else n for n in names]
        params: list[tuple[str, Any]] = list(st.rtl_parameters())
        params += [(m.file_param, f'"{path}"') for m, path in zip(mems, paths)]
        inst = {
            "module": st.rtl_module,
            "params": params,
            "comment": st.label(),
            "name": st.name,
            "src": st.src.name,
            "dst": st.dst.name,
            "drives_axis_out": st.drives_axis_out,
            "mem_files": sorted(names),
            "load_port": st.has_load_port,
            "load_table": tables.get(st.name),
        }
        result.append((st, inst))
    return result


def write_rtl_project(model: ir.Model, folding: Folding, out: Path, mem_dir: str = MEM_DIR) -> Plan:
    """mem_dir: where the .mem files go, relative to `out` ("" puts them beside the sources,
    as Vivado IP packaging needs: synthesis finds memory files by name only)."""
    plan = build_plan(model, folding)
    out.mkdir(parents=True, exist_ok=True)
    (out / mem_dir).mkdir(exist_ok=True)
    for st in plan.stages:
        for mem in st.memories():
            (out / mem_dir / mem_file_name(st, mem.key)).write_text(
                mem_lines(mem.words(), mem.width)
            )
    instances = [inst for _, inst in stage_instances(plan, mem_dir)]
    depths = plan.fifo_depths()
    streams = [
        {
            "name": s.name,
            "width": s.width,
            "elems": s.elems,
            "bits": s.bits,
            "words_per_image": s.words_per_image,
            "depth": depths[s.name],
        }
        for s in plan.streams
    ]
    env = template_env("rtl")
    source = model.source_file or "model"
    (out / "bnn_top.sv").write_text(
        env.get_template("top.sv.j2").render(
            version=__version__,
            source=source,
            in_axi_bits=plan.in_axi_bits,
            streams=streams,
            first=plan.input_stream.name,
            first_width=plan.input_stream.width,
            instances=instances,
            load_values=sum(t.values for t in load_tables(plan)),
        )
    )
    library = library_files(plan)
    for name in library:
        shutil.copy(resource_dir("hw") / "rtl" / name, out / name)
    generated = []
    for st in plan.stages:
        if st.rtl_template is not None:
            name = f"{st.rtl_module}.sv"
            (out / name).write_text(
                env.get_template(st.rtl_template).render(
                    version=__version__, source=source, **st.rtl_template_context()
                )
            )
            generated.append(name)
    sources = [*library, *generated, "bnn_top.sv"]
    (out / "bnn_top_axi.sv").write_text(
        env.get_template("top_axi.sv.j2").render(
            version=__version__, in_axi_bits=plan.in_axi_bits, n_streams=len(streams)
        )
    )
    (out / "files.f").write_text("".join(f"{n}\n" for n in sources))
    (out / "design.json").write_text(
        json.dumps(
            {
                "top": "bnn_top",
                "in_axi_bits": plan.in_axi_bits,
                "classes": plan.classes,
                "in_words_per_image": plan.input_stream.words_per_image,
                "streams": [s["name"] for s in streams],
                "sources": sources,
                "watchdog_cycles": watchdog_cycles(plan),
                "load": describe_load(plan),
            },
            indent=2,
        )
        + "\n"
    )
    return plan
