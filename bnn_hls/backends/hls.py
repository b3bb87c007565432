"""HLS C++ backend: render the Jinja templates of templates/hls with the pipeline plan and copy
the kernel library, giving a Vivado/Vitis HLS project (top.cpp, config.h, params_*.h, tb.cpp,
hls.tcl) and sample test data for C simulation. Each stage's code comes from its own template
(templates/hls/stages/<Stage.hls_template>); this module only supplies the formatting."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from .. import __version__, golden, ir
from ..dataflow.cycles import CLOCK_PERIOD_NS
from ..dataflow.folding import Folding
from ..dataflow.lowering import build_plan
from ..dataflow.memory import Memory
from ..dataflow.plan import Plan
from ..dataflow.stage import Stage
from ..dataflow.streams import SCORE_BITS
from ..dataflow.tables import load_tables
from ..package_data import resource_dir, template_env
from ..packing import bits_to_words, load_word_count, scores_to_bytes, u64_chunks
from .hls_arrays import array_name, stage_arrays
from .hls_check import check_project

log = logging.getLogger(__name__)

FLAVORS = {
    "vitis": ("Vitis HLS 2022.1", "vitis_hls"),
    "vivado": ("Vivado HLS 2019.2/2020.1", "vivado_hls"),
}
# the C++ standard each tool's C front end is given, and the AXI-Stream side-channel bits
# (Vivado HLS's ap_axiu has no zero-width form)
STD_FLAGS = {"vitis": "-std=c++14", "vivado": "-std=c++0x"}
AXIS_SIDE_BITS = {"vitis": 0, "vivado": 1}
PART = "xc7z020clg400-1"
STREAM_DEPTH = 4


def _c_array(values: np.ndarray, fmt: str, per_line: int = 8, indent: str = "  ") -> str:
    """A nested C initializer for a numpy array."""
    items = [fmt.format(v) for v in values.ravel().tolist()]  # formatted once, in bulk
    return _nest(items, values.shape, per_line, indent)


def _nest(items: list[str], shape: tuple[int, ...], per_line: int, indent: str) -> str:
    if len(shape) == 1:
        lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
        return indent + "{" + (",\n" + indent + " ").join(lines) + "}"
    n = len(items) // shape[0] if shape[0] else 0
    inner = [
        _nest(items[i * n : (i + 1) * n], shape[1:], per_line, indent + " ")
        for i in range(shape[0])
    ]
    return indent + "{\n" + ",\n".join(inner) + "\n" + indent + "}"


def _inner(text: str) -> str:
    """Drop the outermost braces of a _c_array text (the template writes them)."""
    body = text.strip()
    return body[1:-1].strip("\n")


def c_array(values: np.ndarray, fmt: str, per_line: int = 8) -> str:
    """The elements of a C initializer (without its outer braces) for a numpy array."""
    return _inner(_c_array(np.asarray(values), fmt, per_line))


def c_list(values: Any, fmt: str) -> str:
    """A one-line C initializer list."""
    return ", ".join(fmt.format(int(v)) for v in values)


def rom_type(width: int, signed: bool) -> str:
    """The element type of a constant table (bnn_common.h: ap_(u)int in synthesis, a native
    integer in C simulation)."""
    return f"bnn::rom_s<{width}>::type" if signed else f"bnn::rom_u<{width}>::type"


def lane_literals(mem: Memory) -> np.ndarray:
    """(depth, lanes) C initializer texts of a memory's lanes: decimal integers, or hex words
    for bit lanes (word_literal)."""
    if mem.form == "ints":
        return np.asarray(mem.values).astype(np.int64)
    bits = np.asarray(mem.values, np.uint8)  # (depth, lanes, lane_bits)
    words = bits_to_words(bits.reshape(-1, mem.lane_bits))
    texts = [word_literal(mem.lane_bits, w) for w in words]
    return np.array(texts, dtype=object).reshape(bits.shape[:2])


def word_literal(width: int, value: int) -> str:
    """A constant word of `width` bits: `0x..ULL` up to 64 bits; above, BNN_WIDE(N, "hex",
    chunk0, ...) (bnn_common.h): the hex string for the HLS tool, little-endian 64-bit chunks
    for C simulation."""
    if width <= 64:
        return f"0x{value:x}ULL"
    chunks = ", ".join(f"0x{c:x}ULL" for c in u64_chunks(value, width))
    return f'BNN_WIDE({width}, "{value:x}", {chunks})'


def rom_declaration(st: Stage, key: str) -> str:
    """`static const <type> <name>[lanes][depth] = {...};` of one memory, laid out as the kernel
    reads it: one row per lane (its bank); a table that is not banked is [depth]."""
    mem = next(m for m in st.memories() if m.key == key)
    arr = stage_arrays(st)[key]
    values = lane_literals(mem).T  # (lanes, depth)
    per_line = 4 if mem.form == "bits" else 16
    if not mem.banked:
        values = values[0]
    dims = "".join(f"[{n}]" for n in values.shape)
    body = c_array(values, "{}", per_line)
    const = "" if mem.writable else "const "  # a writable table is a static of its stage
    return f"static {const}{rom_type(arr.width, mem.signed)} {arr.name}{dims} = {{\n{body}\n}};"


def load_stream_name(st: Stage) -> str:
    """The stream that carries a stage's threshold values from the input stage."""
    return f"thr_{st.hls_prefix.lower()}"


def stage_context(
    st: Stage, flavor: str, loads: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """What a stage's template (templates/hls/stages/) renders: names, streams, parameters
    (all of them as `p`, config.h's as `c`), its arrays (names, pragmas), whether it has a
    writable table (and its load stream), the load streams of all (`loads`: what the input
    stage sends) and the stage."""
    arrays = stage_arrays(st)
    return {
        "loads": loads or [],
        "writable": st.writable_table() is not None,
        "thr_stream": load_stream_name(st),
        "name": st.name,
        "src": st.src,
        "dst": st.dst,
        "prefix": st.hls_prefix,
        "description": st.description(),
        "p": st.params(),
        "c": st.hls_constants(),
        "arrays": arrays,
        # array("key"): the identifier of memory or buffer `key` (placeholders too)
        "array": lambda key: array_name(st, key),
        "pragmas": [line for a in arrays.values() for line in a.pragmas(flavor)],
        "stage": st,
        "flavor": flavor,
    }


def _env() -> jinja2.Environment:
    env = template_env("hls")
    env.globals.update(
        c_array=c_array,
        c_list=c_list,
        rom=rom_declaration,
        case_labels=lambda steps: "".join(f"case {n}: " for n in steps),
    )
    return env


def write_hls_project(
    model: ir.Model,
    folding: Folding,
    out: Path,
    *,
    flavor: str = "vitis",
    csim_inputs: np.ndarray | None = None,
) -> Plan:
    """Write the HLS project into `out` (created). csim_inputs: a few model inputs whose
    packed words and golden scores are shipped for the tool's C simulation."""
    plan = build_plan(model, folding)
    out.mkdir(parents=True, exist_ok=True)
    env = _env()
    widest = max([plan.in_axi_bits, 32] + [st.widest_word() for st in plan.stages])
    common = {
        "version": __version__,
        "source": model.source_file or "model",
        "classes": plan.classes,
        "score_bits": SCORE_BITS,
    }
    n_load = sum(t.values for t in load_tables(plan))
    # the stages with parameters of their own: constants in config.h, code in params_*.h
    own = [(st, stage_context(st, flavor)) for st in plan.stages if st.hls_params]
    (out / "config.h").write_text(
        env.get_template("config.h.j2").render(
            **common,
            in_axi_bits=plan.in_axi_bits,
            in_words=plan.input_stream.words_per_image,
            stages=[ctx for _, ctx in own],
            widest=widest,
            ap_int_max_w=-(-widest // 1024) * 1024,
            axis_side_bits=AXIS_SIDE_BITS[flavor],
            load_values=n_load,
            load_words=load_word_count(n_load, plan.in_axi_bits // 8),
        )
    )
    headers = []
    by_layer: dict[str, list[str]] = {}
    for st, ctx in own:
        template = env.get_template(f"stages/{st.hls_template}")
        by_layer.setdefault(st.layer_name, []).append(template.module.definition(ctx))  # type: ignore[attr-defined]
    for layer_name, definitions in by_layer.items():
        header = f"params_{layer_name}.h"
        (out / header).write_text(
            env.get_template("params.h.j2").render(
                **common, layer=layer_name, guard=layer_name.upper(), definitions=definitions
            )
        )
        headers.append(header)
    streams = [
        {
            "name": s.name,
            "width": s.width,
            "elems": s.elems,
            "bits": s.bits,
            "words_per_image": s.words_per_image,
            "depth": STREAM_DEPTH,
        }
        for s in plan.streams
    ]
    # the writable tables, in load-stream order: a stream each from the input stage
    loads = [
        {"stream": load_stream_name(st), "count": table.values, "stage": st.name}
        for st, table in zip(
            [st for st in plan.stages if st.writable_table() is not None], load_tables(plan)
        )
    ]
    calls = [
        env.get_template(f"stages/{st.hls_template}").module.call(stage_context(st, flavor, loads))  # type: ignore[attr-defined]
        for st in plan.stages
    ]
    (out / "top.h").write_text(env.get_template("top.h.j2").render(**common))
    (out / "top.cpp").write_text(
        env.get_template("top.cpp.j2").render(
            **common,
            n_layers=len(model.linear_layers()),
            param_headers=headers,
            streams=streams,
            calls=calls,
            loads=loads,
            first_width=plan.stages[0].dst.width,
        )
    )
    in_bytes = plan.in_axi_bits // 8
    (out / "tb.cpp").write_text(env.get_template("tb.cpp.j2").render(**common, in_bytes=in_bytes))
    tool_name, tool_cmd = FLAVORS[flavor]
    extra = f" -DAP_INT_MAX_W={-(-widest // 1024) * 1024}" if widest > 1024 else ""
    n_csim = 0 if csim_inputs is None else len(csim_inputs)
    (out / "hls.tcl").write_text(
        env.get_template("hls.tcl.j2").render(
            **common,
            flavor=flavor,
            tool_name=tool_name,
            tool_cmd=tool_cmd,
            part=PART,
            clock_ns=CLOCK_PERIOD_NS,
            csim_images=n_csim,
            extra_cflags=extra,
            std_flag=STD_FLAGS[flavor],
        )
    )
    (out / "check_csynth.tcl").write_text(
        env.get_template("check_csynth.tcl.j2").render(version=__version__)
    )
    kernels = resource_dir("hw") / "hls"
    for kernel_header in sorted(kernels.glob("*.h")):
        shutil.copy(kernel_header, out / kernel_header.name)
    if csim_inputs is not None:
        write_csim_data(model, plan, csim_inputs, out / "csim_input.bin", out / "csim_expected.bin")
    problems = check_project(out)
    if problems:  # the generator broke its own rules: a bug, not a user error
        raise AssertionError("generated HLS breaks the port rules:\n" + "\n".join(problems))
    return plan


def write_csim_data(
    model: ir.Model, plan: Plan, x: np.ndarray, input_file: Path, expected_file: Path
) -> None:
    words = plan.pack_inputs(golden.input_quant(model.input, x))
    input_file.write_bytes(words.tobytes())
    expected_file.write_bytes(scores_to_bytes(golden.run(model, x).acc))
