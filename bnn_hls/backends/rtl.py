"""RTL backend: the same pipeline plan as the HLS backend, as SystemVerilog. The kernels are
the library in hw/rtl/; the top (templates/rtl/top.sv.j2) chains them with a FIFO on every
stream, and each kernel's parameters go into .mem files read with $readmemh."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__, ir
from ..folding import Folding
from ..resources import resource_dir, template_env
from .plan import SCORE_BITS, BorderTables, Plan, Stage, build_plan
from .share_schedule import ShareSchedule, ShareTables

FIFO_DEPTH = 2
MAX_FIFO_DEPTH = 512


def fifo_depths(plan: Plan) -> dict[str, int]:
    """Two input rows in front of every sliding window (it loads a row ahead while it emits, in
    bursts), and behind it room for the windows it cannot emit while it fills its first rows
    at the start of an image; two words elsewhere. Shallower FIFOs stall the producers and
    cost throughput (measured: docs/rtl.md)."""
    depths = {s.name: FIFO_DEPTH for s in plan.streams}
    for st in plan.stages:
        if st.kind == "shared":
            # a result-sharing unit takes a window's words at once when its last steps are
            # issued, then waits for the next steps; room for a window keeps the producer going
            layer = st.layer
            assert isinstance(layer, ir.Conv)
            if layer.out_channels > st.params["pe"]:
                sf = layer.fan_in // st.params["simd"]
                depths[st.src.name] = max(depths[st.src.name], min(MAX_FIFO_DEPTH, sf + 2))
        if st.kind == "mvtu":
            # an MVTU takes an input vector's SF words in a burst (its first output fold),
            # then re-reads them from its buffer for the other folds: room for a whole vector
            # lets the producer keep its pace meanwhile (measured: 298 instead of 256 cycles
            # per image for a balanced digits MLP with 2-word FIFOs)
            layer = st.layer
            assert isinstance(layer, ir.Linear)
            if layer.out_channels > st.params["pe"]:
                sf = layer.fan_in // st.params["simd"]
                depths[st.src.name] = max(depths[st.src.name], min(MAX_FIFO_DEPTH, sf + 2))
        if st.kind == "window":
            layer = st.layer
            assert isinstance(layer, ir.Conv)
            row_words = layer.in_shape[1] * layer.in_shape[2] // st.src.elems
            fill_words = min(layer.in_shape[0], layer.kernel[0] - layer.pads[0]) * row_words
            depths[st.src.name] = max(FIFO_DEPTH, min(MAX_FIFO_DEPTH, 2 * row_words))
            depths[st.dst.name] = max(FIFO_DEPTH, min(MAX_FIFO_DEPTH, fill_words + 8))
    return depths


LIBRARY = (
    "bnn_fifo.sv",
    "bnn_mvtu.sv",
    "bnn_popcount.sv",
    "bnn_share_lane.sv",
    "bnn_share_ctrl.sv",
    "bnn_swg.sv",
    "bnn_pool.sv",
    "bnn_gather.sv",
    "bnn_split.sv",
    "bnn_scores_out.sv",
    "bnn_label.sv",
    "bnn_axil_ctrl.sv",
)


MEMORY_PARAMS = (
    ("weights", "WEIGHTS_FILE"),
    ("thresholds", "THRESHOLDS_FILE"),
    ("correction", "CORRECTION_FILE"),
    ("row_class", "ROW_CLASS_FILE"),
    ("col_class", "COL_CLASS_FILE"),
)


def _mem_path(mem_dir: str, name: str) -> str:
    return f"{mem_dir}/{name}" if mem_dir else name


def _mem_lines(words: list[int], width: int) -> str:
    digits = max(1, -(-width // 4))
    return "".join(f"{w:0{digits}x}\n" for w in words)


def _lanes(values: np.ndarray, bits: int) -> int:
    """Pack integers (lane 0 first) into one word of len(values) * bits, two's complement."""
    word = 0
    for i, v in enumerate(values):
        word |= (int(v) & ((1 << bits) - 1)) << (i * bits)
    return word


def mvtu_memories(st: Stage) -> dict[str, tuple[list[int], int]]:
    """name -> (words, word width) for one MVTU stage."""
    layer = st.layer
    assert isinstance(layer, ir.Linear)
    pe, simd = st.params["pe"], st.params["simd"]
    nf, sf = layer.out_channels // pe, layer.fan_in // simd
    a_w = st.params["acc_bits"] + 2
    bits = layer.weights.reshape(layer.out_channels, layer.fan_in).astype(np.uint8)
    # word (nf, sf): lane p * SIMD + s = weight of output nf * PE + p, input sf * SIMD + s
    tiles = bits.reshape(nf, pe, sf, simd).transpose(0, 2, 1, 3).reshape(nf * sf, pe * simd)
    packed = np.packbits(tiles, axis=1, bitorder="little")
    weights = [int.from_bytes(row.tobytes(), "little") for row in packed]
    mems = {"weights": (weights, pe * simd)}
    thresholds = st.params["thresholds"]  # (PE, NF)
    mems["thresholds"] = ([_lanes(thresholds[:, n], a_w) for n in range(nf)], pe * a_w)
    mems.update(border_memories(st.params["border"], pe, nf, a_w))
    return mems


def border_memories(border: BorderTables | None, pe: int, nf: int, bits: int) -> dict[str, Any]:
    """The zero-padding correction of a conv (lanes of `bits`, PE per word, word
    (row class, column class, nf)) and the row and column classes."""
    if border is None:
        return {}
    rc, cc, _ = border.correction.shape
    corr = [
        _lanes(border.correction[r, c, n * pe : (n + 1) * pe], bits)
        for r in range(rc)
        for c in range(cc)
        for n in range(nf)
    ]
    return {
        "correction": (corr, pe * bits),
        "row_class": ([int(v) for v in border.row_class], max(1, (rc - 1).bit_length())),
        "col_class": ([int(v) for v in border.col_class], max(1, (cc - 1).bit_length())),
    }


def shared_memories(st: Stage) -> dict[str, tuple[list[int], int]]:
    """A result-sharing unit's thresholds (lane-sum domain) and border tables."""
    sched: ShareSchedule = st.params["schedule"]
    tables: ShareTables = st.params["tables"]
    pe, nf, bits = sched.pe, sched.nf, tables.compare_bits
    t = tables.thresholds.reshape(nf, pe)
    mems: dict[str, tuple[list[int], int]] = {
        "thresholds": ([_lanes(t[n], bits) for n in range(nf)], pe * bits)
    }
    mems.update(border_memories(st.params["border"], pe, nf, bits))
    return mems


def shared_module_name(st: Stage) -> str:
    assert st.layer is not None
    return f"bnn_share_{st.layer.name}"


def _case_groups(keys: list[Any]) -> tuple[Any, list[tuple[str, Any]]]:
    """(the most common key: the default, [(labels, key)] for the others), keys by step."""
    steps: dict[Any, list[int]] = {}
    for n, k in enumerate(keys):
        steps.setdefault(k, []).append(n)
    default = max(steps, key=lambda k: len(steps[k]))
    cases = [(", ".join(map(str, ns)), k) for k, ns in steps.items() if k != default]
    return default, cases


def shared_module_context(st: Stage) -> dict[str, Any]:
    """What templates/rtl/share_conv.sv.j2 needs: the units' filters and the lanes' terms."""
    layer = st.layer
    assert isinstance(layer, ir.Conv)
    sched: ShareSchedule = st.params["schedule"]
    tables: ShareTables = st.params["tables"]
    border = st.params["border"]
    t, b, nf = sched.taps, sched.term_bits, sched.nf
    patterns = sched.unit_patterns(layer.share_filters)  # (NF, U, T)
    values = (patterns.astype(np.int64) << np.arange(t)).sum(-1)  # (NF, U)
    units, varying = [], []
    for u in range(sched.units):
        ch = int(sched.unit_channel[u])
        col = values[:, u]
        entry: dict[str, Any] = {
            "index": u,
            "x_hi": ch * t + t - 1,
            "x_lo": ch * t,
            "q_hi": u * b + b - 1,
            "q_lo": u * b,
        }
        if (col == col[0]).all():
            entry["pattern"] = f"{t}'h{int(col[0]):x}"
        else:
            entry["pattern"] = f"f[{u * t + t - 1}:{u * t}]"
            default, cases = _case_groups([int(v) for v in col])
            varying.append(
                {
                    "hi": u * t + t - 1,
                    "lo": u * t,
                    "default": f"{t}'h{default:x}",
                    "cases": [(labels, f"{t}'h{v:x}") for labels, v in cases],
                }
            )
        units.append(entry)

    def term(unit: int, inv: int) -> str:
        return f"{'~' if inv else ''}q[{unit * b + b - 1}:{unit * b}]"

    lanes = []
    key = sched.lane_unit * 2 + sched.lane_invert  # (NF, PE, C)
    fixed = (key == key[:1]).all(0)  # (PE, C)
    for p in range(sched.pe):
        terms = []
        for ch in range(sched.channels):
            term_entry: dict[str, Any] = {"hi": ch * b + b - 1, "lo": ch * b, "cases": []}
            if fixed[p, ch]:
                k = int(key[0, p, ch])
                term_entry["expr"] = term(k // 2, k % 2)
            else:
                default, cases = _case_groups([int(k) for k in key[:, p, ch]])
                term_entry["expr"] = term(default // 2, default % 2)
                term_entry["cases"] = [(labels, term(k // 2, k % 2)) for labels, k in cases]
            terms.append(term_entry)
        lanes.append(
            {
                "index": p,
                "terms": terms,
                "s_hi": (p + 1) * sched.sum_bits - 1,
                "s_lo": p * sched.sum_bits,
            }
        )
    oh, ow, _ = layer.out_shape
    c = {
        "C": sched.channels,
        "T": t,
        "SIMD": st.params["simd"],
        "O": sched.outputs,
        "PE": sched.pe,
        "SUM_W": sched.sum_bits,
        "CMP_W": tables.compare_bits,
        "OH": oh,
        "OW": ow,
        "BORDER": int(border is not None),
        "RC": 1 if border is None else border.correction.shape[0],
        "CC": 1 if border is None else border.correction.shape[1],
    }
    return {
        "module": shared_module_name(st),
        "layer": layer.name,
        "kh": layer.kernel[0],
        "kw": layer.kernel[1],
        "nf": nf,
        "nfw": max(1, (nf - 1).bit_length()),
        "distinct": int(layer.share_filters.shape[0]),
        "b": b,
        "c": c,
        "ctrl_params": list(c.items()),
        "units": units,
        "varying_units": varying,
        "lanes": lanes,
    }


def instance(st: Stage, mem_dir: str, files: dict[str, str]) -> dict[str, Any]:
    """Module, parameters and ports of one stage."""
    layer = st.layer
    if st.kind == "shared":
        assert isinstance(layer, ir.Conv)
        params: list[tuple[str, Any]] = [
            (param, f'"{_mem_path(mem_dir, files[key])}"')
            for key, param in MEMORY_PARAMS
            if key in files
        ]
        sched: ShareSchedule = st.params["schedule"]
        comment = (
            f"{layer.name}: result-sharing conv {layer.in_shape[-1]} -> {layer.out_channels}, "
            f"{sched.units} units"
        )
        return {"module": shared_module_name(st), "params": params, "comment": comment}
    if st.kind == "mvtu":
        assert isinstance(layer, ir.Linear)
        p = st.params
        border = p["border"]
        oh, ow = (layer.out_shape[0], layer.out_shape[1]) if isinstance(layer, ir.Conv) else (1, 1)
        params = [
            ("K", layer.fan_in),
            ("O", layer.out_channels),
            ("SIMD", p["simd"]),
            ("PE", p["pe"]),
            ("INT_IN", int(layer.input_kind == "int")),
            ("IN_BITS", p["in_bits"]),
            ("ACC_BITS", p["acc_bits"]),
            ("SCORES", int(p["scores"])),
            ("SCORE_BITS", SCORE_BITS),
            ("OH", oh),
            ("OW", ow),
            ("BORDER", int(border is not None)),
            ("RC", 1 if border is None else border.correction.shape[0]),
            ("CC", 1 if border is None else border.correction.shape[1]),
            ("IN_W", st.src.width),
            ("OUT_W", st.dst.width),
            ("ROM_BLOCK", int(p["rom"] == "block")),
        ]
        for key, param in MEMORY_PARAMS:
            if key in files:
                params.append((param, f'"{_mem_path(mem_dir, files[key])}"'))
        comment = f"{layer.name}: {layer.kind} {layer.fan_in} x {layer.out_channels}"
        return {"module": "bnn_mvtu", "params": params, "comment": comment}
    if st.kind == "window":
        assert isinstance(layer, ir.Conv)
        h, w, c = layer.in_shape
        t, left, b, r = layer.pads
        params = [
            ("IH", h),
            ("IW", w),
            ("C", c),
            ("SIMD", st.dst.elems),
            ("ELEM", st.dst.bits),
            ("KH", layer.kernel[0]),
            ("KW", layer.kernel[1]),
            ("SH", layer.stride[0]),
            ("SW", layer.stride[1]),
            ("PT", t),
            ("PL", left),
            ("PB", b),
            ("PR", r),
            ("PAD_ONES", int(bool(st.params["pad_word"]))),
            ("W", st.dst.width),
        ]
        return {"module": "bnn_swg", "params": params, "comment": f"{layer.name}: windows"}
    if st.kind == "pool":
        assert isinstance(layer, ir.MaxPool)
        params = [
            ("IH", layer.in_shape[0]),
            ("IW", layer.in_shape[1]),
            ("C", layer.in_shape[2]),
            ("PE", st.src.elems),
            ("K", layer.kernel[0]),
            ("AND_MASK_FILE", f'"{_mem_path(mem_dir, files["and_mask"])}"'),
        ]
        return {"module": "bnn_pool", "params": params, "comment": f"{layer.name}: max-pool"}
    if st.kind in ("gather", "split"):
        return {
            "module": f"bnn_{st.kind}",
            "params": [("IN_W", st.src.width), ("OUT_W", st.dst.width)],
            "comment": f"width {st.src.width} -> {st.dst.width}",
        }
    assert st.kind == "output"
    return {
        "module": "bnn_scores_out",
        "params": [
            ("PE", st.src.elems),
            ("SCORE_BITS", SCORE_BITS),
            ("CLASSES", st.dst.words_per_image),
        ],
        "comment": "scores to AXI-Stream",
    }


def stage_memories(st: Stage) -> dict[str, tuple[list[int], int]]:
    """The .mem files of one stage: key -> (words, width)."""
    if st.kind == "mvtu":
        return mvtu_memories(st)
    if st.kind == "shared":
        return shared_memories(st)
    if st.kind == "pool":
        mask = st.params["and_mask"]
        return {"and_mask": ([_lanes(row, 1) for row in mask], st.src.elems)}
    return {}


def memory_keys(st: Stage) -> list[str]:
    """The names of a stage's .mem files (stage_memories' keys, without packing them)."""
    if st.kind == "pool":
        return ["and_mask"]
    if st.kind not in ("mvtu", "shared"):
        return []
    keys = ["weights", "thresholds"] if st.kind == "mvtu" else ["thresholds"]
    if st.params["border"] is not None:
        keys += ["correction", "row_class", "col_class"]
    return keys


def stage_instances(plan: Plan, mem_dir: str = "mem") -> list[tuple[Stage, dict[str, Any]]]:
    """Every stage but the input adapter, with its module, parameters and memory file names."""
    result = []
    for st in plan.stages:
        if st.kind == "input":
            continue
        layer_name = st.layer.name if st.layer is not None else st.name
        files = {key: f"{layer_name}_{key}.mem" for key in memory_keys(st)}
        inst = instance(st, mem_dir, files)
        inst.update(
            name=st.name, src=st.src.name, dst=st.dst.name, mem_files=sorted(files.values())
        )
        result.append((st, inst))
    return result


def write_rtl_project(model: ir.Model, folding: Folding, out: Path, mem_dir: str = "mem") -> Plan:
    """mem_dir: where the .mem files go, relative to `out` ("" puts them beside the sources,
    as Vivado IP packaging needs: synthesis finds memory files by name only)."""
    plan = build_plan(model, folding)
    out.mkdir(parents=True, exist_ok=True)
    (out / mem_dir).mkdir(exist_ok=True)
    for st in plan.stages:
        for key, (words, width) in stage_memories(st).items():
            layer_name = st.layer.name if st.layer is not None else st.name
            (out / mem_dir / f"{layer_name}_{key}.mem").write_text(_mem_lines(words, width))
    instances = [inst for _, inst in stage_instances(plan, mem_dir)]
    depths = fifo_depths(plan)
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
    (out / "bnn_top.sv").write_text(
        env.get_template("top.sv.j2").render(
            version=__version__,
            source=model.source_file or "model",
            in_axi_bits=plan.in_axi_bits,
            streams=streams,
            first=plan.input_stream.name,
            first_width=plan.input_stream.width,
            instances=instances,
        )
    )
    for name in LIBRARY:
        shutil.copy(resource_dir("hw") / "rtl" / name, out / name)
    generated = []
    for st in plan.stages:
        if st.kind == "shared":
            name = f"{shared_module_name(st)}.sv"
            (out / name).write_text(
                env.get_template("share_conv.sv.j2").render(
                    version=__version__,
                    source=model.source_file or "model",
                    **shared_module_context(st),
                )
            )
            generated.append(name)
    sources = [*LIBRARY, *generated, "bnn_top.sv"]
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
            },
            indent=2,
        )
        + "\n"
    )
    return plan
