"""HLS C++ backend: render the Jinja templates of templates/hls with the pipeline plan and copy
the kernel library, giving a Vivado/Vitis HLS project (top.cpp, config.h, params_*.h, tb.cpp,
hls.tcl) and sample test data for C simulation."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__, golden, ir
from ..folding import Folding
from ..packing import pack_words
from ..resources import resource_dir, template_env
from .plan import SCORE_BITS, BorderTables, Plan, Stage, build_plan, threshold_table
from .share_schedule import ShareSchedule, ShareTables

log = logging.getLogger(__name__)

FLAVORS = {
    "vitis": ("Vitis HLS 2022.1", "vitis_hls"),
    "vivado": ("Vivado HLS 2019.2/2020.1", "vivado_hls"),
}
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


def storage_pragmas(flavor: str, prefix: str, rom: str) -> list[str]:
    """One ROM per PE (the weights' first dimension), in block RAM or LUTs as the folding says."""
    w, t = f"{prefix}_weights", f"{prefix}_thresholds"
    part = [
        f"#pragma HLS ARRAY_PARTITION variable = {w} complete dim = 1",
        f"#pragma HLS ARRAY_PARTITION variable = {t} complete dim = 1",
    ]
    if flavor == "vitis":
        impl = "bram" if rom == "block" else "lutram"
        return [f"#pragma HLS BIND_STORAGE variable = {w} type = rom_2p impl = {impl}", *part]
    core = "ROM_2P_BRAM" if rom == "block" else "ROM_2P_LUTRAM"
    return [f"#pragma HLS RESOURCE variable = {w} core = {core}", *part]


def border_texts(border: BorderTables | None, o: int, oh: int, ow: int) -> dict[str, str]:
    """C initializers of a conv's zero-padding correction (a zero table when it has none)."""
    if border is None:
        return {
            "row_class_text": ", ".join("0" for _ in range(oh)),
            "col_class_text": ", ".join("0" for _ in range(ow)),
            "correction_text": _inner(_c_array(np.zeros((1, 1, o), np.int32), "{}", 16)),
        }
    return {
        "row_class_text": ", ".join(str(int(v)) for v in border.row_class),
        "col_class_text": ", ".join(str(int(v)) for v in border.col_class),
        "correction_text": _inner(_c_array(border.correction, "{}", 16)),
    }


def shared_context(st: Stage) -> dict[str, Any]:
    """A result-sharing unit: its schedule's tables as C initializers."""
    layer = st.layer
    assert isinstance(layer, ir.Conv)
    sched: ShareSchedule = st.params["schedule"]
    tables: ShareTables = st.params["tables"]
    border = st.params["border"]
    oh, ow, _ = layer.out_shape
    patterns = sched.unit_patterns(layer.share_filters)  # (NF, U, T)
    words = (patterns.astype(np.uint64) << np.arange(sched.taps, dtype=np.uint64)).sum(
        -1, dtype=np.uint64
    )
    ctx: dict[str, Any] = {
        "kind": "shared",
        "name": st.name,
        "src": st.src,
        "dst": st.dst,
        "prefix": layer.name.upper(),
        "border": border is not None,
        "comment": (
            f"result-sharing conv, {layer.in_shape[-1]} -> {layer.out_channels} channels, "
            f"{sched.units} units, PE {sched.pe}, SIMD {st.params['simd']}"
        ),
        "c": {
            "C": sched.channels,
            "T": sched.taps,
            "SIMD": int(st.params["simd"]),
            "O": sched.outputs,
            "PE": sched.pe,
            "NF": sched.nf,
            "U": sched.units,
            "OH": oh,
            "OW": ow,
            "RC": 1 if border is None else border.correction.shape[0],
            "CC": 1 if border is None else border.correction.shape[1],
        },
        "unit_channel_text": _inner(_c_array(sched.unit_channel, "{}", 16)),
        "unit_pattern_text": _inner(_c_array(words, "0x{:x}ULL", 8)),
        "lane_unit_text": _inner(_c_array(sched.lane_unit, "{}", 16)),
        "lane_invert_text": _inner(_c_array(sched.lane_invert, "{}", 32)),
        "thresholds_text": _inner(
            _c_array(threshold_table(tables.thresholds, sched.outputs, sched.pe), "{}", 16)
        ),
    }
    ctx.update(border_texts(border, layer.out_channels, oh, ow))
    return ctx


def stage_context(st: Stage) -> dict[str, Any]:
    """Named constants and parameter texts of one stage."""
    if st.kind == "shared":
        return shared_context(st)
    ctx: dict[str, Any] = {"kind": st.kind, "name": st.name, "src": st.src, "dst": st.dst}
    layer = st.layer
    if st.kind == "window":
        assert isinstance(layer, ir.Conv)
        h, w, c = layer.in_shape
        t, left, b, r = layer.pads
        ctx["prefix"] = f"{layer.name.upper()}_WIN"
        ctx["c"] = {
            "IH": h,
            "IW": w,
            "C": c,
            "SIMD": st.dst.elems,
            "ELEM_BITS": st.dst.bits,
            "KH": layer.kernel[0],
            "KW": layer.kernel[1],
            "SH": layer.stride[0],
            "SW": layer.stride[1],
            "PT": t,
            "PL": left,
            "PB": b,
            "PR": r,
        }
        pad = int(st.params["pad_word"])
        ctx["pad_word"] = f"ap_uint<{st.dst.width}>(-1)" if pad else "0"
    elif st.kind == "mvtu":
        assert isinstance(layer, ir.Linear)
        p = st.params
        pe, simd = int(p["pe"]), int(p["simd"])
        oh, ow = (layer.out_shape[0], layer.out_shape[1]) if isinstance(layer, ir.Conv) else (1, 1)
        border = p["border"]
        ctx["prefix"] = layer.name.upper()
        ctx["scores"] = bool(p["scores"])
        ctx["int_in"] = layer.input_kind == "int"
        ctx["border"] = border is not None
        ctx["rom"] = p["rom"]
        weights: np.ndarray = p["weights"]
        ctx["chunks"] = weights.shape[2]
        ctx["c"] = {
            "K": layer.fan_in,
            "O": layer.out_channels,
            "PE": pe,
            "SIMD": simd,
            "NF": layer.out_channels // pe,
            "SF": layer.fan_in // simd,
            "ACC_BITS": p["acc_bits"],
            "IN_BITS": p["in_bits"],
            "OH": oh,
            "OW": ow,
            "RC": 1 if border is None else border.correction.shape[0],
            "CC": 1 if border is None else border.correction.shape[1],
        }
        src = "int" + str(p["in_bits"]) if ctx["int_in"] else "bit"
        out = f"int{SCORE_BITS} scores" if ctx["scores"] else "bits (acc >= T)"
        ctx["comment"] = (
            f"{layer.kind}, {layer.fan_in} x {layer.out_channels}, {src} x bit -> "
            f"{out}, PE {pe}, SIMD {simd}"
        )
        ctx["weights_text"] = _inner(_c_array(weights, "0x{:016x}ULL", 4))
        ctx["thresholds_text"] = _inner(_c_array(p["thresholds"], "{}", 16))
        ctx.update(border_texts(border, layer.out_channels, oh, ow))
    elif st.kind == "pool":
        assert isinstance(layer, ir.MaxPool)
        mask: np.ndarray = st.params["and_mask"]
        ctx["prefix"] = layer.name.upper()
        ctx["c"] = {
            "IH": layer.in_shape[0],
            "IW": layer.in_shape[1],
            "C": layer.in_shape[2],
            "PE": st.src.elems,
            "K": layer.kernel[0],
        }
        words = [int(sum(int(b) << i for i, b in enumerate(row))) for row in mask]
        ctx["and_mask_text"] = ", ".join(f"0x{w:x}" for w in words)
    return ctx


def call_line(st: Stage, plan: Plan) -> str:
    if st.kind == "input":
        return (
            f"bnn::axis_to_stream<IN_AXI_BITS, {st.dst.width}, IN_WORDS_PER_IMAGE>(input_words, "
            f"{st.dst.name}, num_images);"
        )
    if st.kind in ("gather", "split"):
        fn = "gather_words" if st.kind == "gather" else "split_words"
        return (
            f"bnn::{fn}<{st.src.width}, {st.dst.width}, {st.src.words_per_image}>("
            f"{st.src.name}, {st.dst.name}, num_images);"
        )
    if st.kind == "output":
        return (
            f"bnn::scores_to_axis<{st.src.elems}, SCORE_BITS, NUM_CLASSES>({st.src.name}, "
            "output_scores, num_images);"
        )
    return f"{st.name}({st.src.name}, {st.dst.name}, num_images);"


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
    env = template_env("hls")
    contexts = [stage_context(st) for st in plan.stages]
    for ctx in contexts:
        if "prefix" in ctx:
            ctx["c"] = dict(ctx["c"])
    widest = max([s.width for s in plan.streams] + [32])
    common = {
        "version": __version__,
        "source": model.source_file or "model",
        "classes": plan.classes,
        "score_bits": SCORE_BITS,
    }
    config_stages = [c for c in contexts if c["kind"] in ("window", "mvtu", "shared", "pool")]
    (out / "config.h").write_text(
        env.get_template("config.h.j2").render(
            **common,
            in_axi_bits=plan.in_axi_bits,
            in_words=plan.input_stream.words_per_image,
            stages=config_stages,
            widest=widest,
            ap_int_max_w=-(-widest // 1024) * 1024,
        )
    )
    headers = []
    by_layer: dict[str, list[dict[str, Any]]] = {}
    for st, ctx in zip(plan.stages, contexts):
        if st.layer is not None and ctx["kind"] in ("window", "mvtu", "shared", "pool"):
            by_layer.setdefault(st.layer.name, []).append(ctx)
    for layer_name, stage_list in by_layer.items():
        header = f"params_{layer_name}.h"
        (out / header).write_text(
            env.get_template("params.h.j2").render(
                **common,
                layer=layer_name,
                guard=layer_name.upper(),
                stages=stage_list,
                storage_pragmas=lambda prefix, rom: storage_pragmas(flavor, prefix, rom),
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
    calls = [call_line(st, plan) for st in plan.stages]
    (out / "top.h").write_text(env.get_template("top.h.j2").render(**common))
    (out / "top.cpp").write_text(
        env.get_template("top.cpp.j2").render(
            **common,
            n_layers=len(model.linear_layers()),
            param_headers=headers,
            streams=streams,
            calls=calls,
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
            clock_ns=10,
            csim_images=n_csim,
            extra_cflags=extra,
        )
    )
    kernels = resource_dir("hw") / "hls"
    for kernel_header in sorted(kernels.glob("*.h")):
        shutil.copy(kernel_header, out / kernel_header.name)
    if csim_inputs is not None:
        write_csim_data(model, plan, csim_inputs, out / "csim_input.bin", out / "csim_expected.bin")
    return plan


def device_inputs(model: ir.Model, x: np.ndarray) -> np.ndarray:
    """What the host sends: the input quantiser's integers (or bits), NHWC."""
    return golden.input_quant(model.input, x)


def pack_device_inputs(plan: Plan, values: np.ndarray) -> np.ndarray:
    s = plan.input_stream
    return pack_words(values, s.elems, s.bits, plan.in_axi_bits // 8)


def write_csim_data(
    model: ir.Model, plan: Plan, x: np.ndarray, input_file: Path, expected_file: Path
) -> None:
    words = pack_device_inputs(plan, device_inputs(model, x))
    input_file.write_bytes(words.tobytes())
    expected = golden.run(model, x).acc.astype("<i4")
    expected_file.write_bytes(expected.tobytes())
