"""The bnn-hls command line: it parses options, calls the compile flow (compiler.py), the
verification (verify.py), the backends and Yosys (yosys.py), and prints."""

from __future__ import annotations

import argparse
import json
import logging
import math
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import __version__, progress
from .compiler import DEFAULT_BUDGET, Compiled, FoldingRequest, choose_folding, compile_file
from .dataflow.cycles import CLOCK_MHZ, images_per_second
from .dataflow.folding import THRESHOLD_STYLES
from .errors import ModelError, ToolFailure, printable
from .frontend.fixedpoint import DEFAULT_COEFF_BITS, MAX_COEFF_BITS, MIN_COEFF_BITS

if TYPE_CHECKING:
    from .verify import VerifySummary

log = logging.getLogger("bnn_hls")

EXIT_OK, EXIT_MISMATCH, EXIT_USER_ERROR = 0, 1, 2


def _print_json(data: Any) -> None:
    print(
        json.dumps(data, indent=2, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))
    )


def compile_for(args: argparse.Namespace) -> Compiled:
    """Compile args.model with the passes' options (--sharing, --coeff-bits)."""
    from .passes import PassOptions, parse_sharing

    sharing = parse_sharing(getattr(args, "sharing", None) or "off")
    bits = getattr(args, "coeff_bits", None) or DEFAULT_COEFF_BITS
    options = PassOptions(sharing=sharing, coeff_bits=bits)
    return compile_file(args.model, options)


def given_files(args: argparse.Namespace) -> list[Path]:
    """The files the command reads (an output folder must not hold them)."""
    names = ("model", "folding", "inputs", "labels", "test_inputs", "test_labels")
    return [Path(v) for v in (getattr(args, n, None) for n in names) if v]


def folding_request(args: argparse.Namespace) -> FoldingRequest:
    return FoldingRequest(
        file=Path(args.folding) if getattr(args, "folding", None) else None,
        target_fps=getattr(args, "target_fps", None),
        budget=getattr(args, "budget", None),
        thresholds=getattr(args, "thresholds", None),
    )


def cmd_inspect(args: argparse.Namespace) -> int:
    from .report import design_report, format_folding, format_report, format_sharing

    c = compile_for(args)
    rep, _ = design_report(c, folding_request(args), need_folding=False)
    rep["sharing"] = c.sharing
    if args.json:
        _print_json(rep)
    else:
        print(format_report(rep))
        print("\n" + format_sharing(rep["sharing"]))
        if rep["folding"] is not None:
            print("\n" + format_folding(rep["folding"]))
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    from .verify import verify

    c = compile_for(args)
    folding = None if args.level == "golden" else choose_folding(c, folding_request(args)).folding
    summary = verify(
        c,
        level=args.level,
        inputs=Path(args.inputs) if args.inputs is not None else None,
        random=args.random,
        seed=args.seed,
        labels=Path(args.labels) if args.labels is not None else None,
        folding=folding,
        hls_flavor=args.hls_flavor,
        allow_ties=args.allow_ties,
    )
    if args.json:
        _print_json(summary.to_json())
    else:
        print_verify(summary)
    return EXIT_OK if summary.passed else EXIT_MISMATCH


def print_verify(summary: VerifySummary) -> None:
    rep, rtl = summary.report, summary.rtl
    print(f"level {rep.level}: {summary.inputs}")
    if rep.device_vs_golden is not None:
        print(
            f"  {rep.level} integer scores equal to the golden model: "
            f"{rep.device_vs_golden}/{rep.images}"
        )
    print(f"  top-1 agreement with the source model: {rep.label_agreement}/{rep.images}")
    if rep.coeff_bits is not None:
        print(
            f"  fixed point: approximated values rounded to {rep.coeff_bits} bits "
            "(--coeff-bits, docs/pa.md); scores differ by that rounding, the top-1 must agree"
        )
    print(
        f"  score agreement (float tolerance):     {rep.score_agreement}/{rep.images} "
        f"(max |error| {rep.max_score_error:.3g})"
    )
    print(
        f"  inputs with a pre-activation exactly on a threshold: {rep.exact_ties}; "
        f"within {1e-5:g}: {rep.near_ties}; disagreements among them: "
        f"{rep.disagreements_at_ties}"
    )
    if rep.accuracy_golden is not None:
        print(
            f"  accuracy: compiled integer model {rep.accuracy_golden:.4f}, source model "
            f"{rep.accuracy_source:.4f}"
        )
    if rtl is not None:
        ii = rtl.cycles_per_image_measured
        print(
            f"  cycles per image: {ii} measured, {rtl.cycles_per_image_model} from the "
            f"analytic model; first-image latency {rtl.latency_cycles} cycles"
        )
        if ii:
            print(
                f"  throughput at {CLOCK_MHZ} MHz: {images_per_second(ii):,.0f} images/s "
                "(simulated RTL, not a board measurement)"
            )
        build = "cached" if rtl.verilator_build_cached else f"{rtl.verilator_build_s} s"
        print(
            f"  random backpressure run agrees: {rtl.backpressure_run_agrees}; Verilator build "
            f"{build}, simulation {rtl.simulation_s} s ({rtl.simulated_images_per_s:,.0f} "
            f"images/s simulated, {rtl.harness} testbench)"
        )
    if rep.coeff_bits is not None:  # approximate scores: only the top-1 is compared
        if rep.first_label_mismatches:
            print(f"  first inputs whose top-1 differs: {rep.first_label_mismatches}")
        agree = rep.mismatches_agreeing_at_max_bits
        if agree is not None:
            why = (
                "for those the rounding moved a hidden pre-activation across a split point "
                "(more bits make that rarer, not impossible; docs/pa.md)"
                if agree
                else "the rounding is not what moved them"
            )
            print(
                f"  of the {rep.images - rep.label_agreement} inputs whose top-1 differs, "
                f"{agree} agree at --coeff-bits {MAX_COEFF_BITS}: {why}"
            )
    elif rep.first_mismatches:
        print(f"  first mismatching inputs: {rep.first_mismatches}")
    print("PASS" if summary.passed else "FAIL")


def cmd_estimate(args: argparse.Namespace) -> int:
    """Yosys resources per stage and in total, next to the xc7z020 budget; cycles and FPS."""
    from .yosys import estimate_design

    c = compile_for(args)
    chosen = choose_folding(c, folding_request(args))
    doc = estimate_design(c.model, chosen.folding, use_cache=not args.no_cache, jobs=args.jobs)
    if args.json:
        _print_json(doc)
        return EXIT_OK
    print(
        f"{'stage':<26} {'module':<15} {'cycles':>9} {'LUT':>7} {'FF':>7} {'BRAM36':>7} "
        f"{'DSP':>4} {'levels':>6} {'LUTlev':>6} {'HLS BRAM':>8}"
    )
    for s in doc["stages"]:
        print(
            f"{s['name']:<26} {s['module']:<15} {s['cycles'] or '':>9} {s['lut']:>7} "
            f"{s['ff']:>7} {s['bram36']:>7.1f} {s['dsp']:>4} {s['levels']:>6} "
            f"{s['lut_levels']:>6} {s['hls_bram36']:>8.1f}"
        )
    t, ii, budget = doc["total"], doc["cycles_per_image"], doc["budget_xc7z020"]
    print(
        f"{'total':<26} {'':<15} {ii:>9} {t['lut']:>7} {t['ff']:>7} {t['bram36']:>7.1f} "
        f"{t['dsp']:>4} {t['levels']:>6} {t['lut_levels']:>6} {doc['hls_bram36']:>8.1f}"
    )
    print(
        f"{'xc7z020 budget':<26} {'':<15} {'':>9} {budget['lut']:>7} {budget['ff']:>7} "
        f"{budget['bram36']:>7} {budget['dsp']:>4} {'':>6} {'':>6} {budget['bram36']:>8}"
    )
    print(
        f"\ncycles per image (analytic, = slowest stage): {ii:,}; at {CLOCK_MHZ} MHz: "
        f"{doc['images_per_second_at_100MHz']:,.0f} images/s"
    )
    print(
        "resources: Yosys synth_xilinx estimates of the generated RTL (not Vivado); levels: "
        "cells on the longest register-to-register path, LUTlev: LUTs among them; HLS BRAM: "
        "the HLS project's arrays as written"
    )
    return EXIT_OK


def cmd_sweep(args: argparse.Namespace) -> int:
    """Design points over rates, sharing modes, ROM styles and budgets; the Pareto fronts."""
    from . import sweep
    from .output import check_output_dir, output_path, write_folder

    out = output_path(args.output) if args.output else None
    if out is not None:
        check_output_dir(out, args.force, given_files(args))
    model = Path(args.model)
    compile_file(model)  # a bad model is refused here, once, before any worker starts
    budgets = sweep.parse_budgets(args.budgets) if args.budgets else [DEFAULT_BUDGET]
    targets: list[float | None] = (
        list(sweep.parse_targets(args.targets))
        if args.targets
        else sweep.default_targets(model.read_bytes(), "model" + model.suffix, budgets[0])
    )
    pts = sweep.points(
        targets,
        sweep.parse_choices(args.sharing, "--sharing", sweep.SHARING_CHOICES),
        sweep.parse_choices(args.rom, "--rom", sweep.ROM_CHOICES),
        budgets,
    )
    extras = sweep.Extras(yosys=args.yosys, rtlsim_images=args.rtlsim or 0)
    doc = sweep.run_sweep(model, pts, extras, jobs=args.jobs, cluster=args.cluster)
    doc["model"] = model.name
    table = sweep.table(doc)
    if out is not None:
        command = shlex.join(["bnn-hls", *sys.argv[1:]])
        write_folder(
            out, args.force, lambda f: sweep.write_results(f, doc, command), given_files(args)
        )
    if args.json:
        _print_json(doc)
        return EXIT_OK
    print(table, end="")
    ok = sum(r["status"] == "ok" for r in doc["points"])
    over = sum(r["status"] == "over budget" for r in doc["points"])
    print(
        f"\n{ok} of {len(doc['points'])} points built within the budget ({over} over it); "
        f"Pareto (LUT): {len(doc['pareto_lut'])}, (BRAM): {len(doc['pareto_bram36'])}"
        + (f"; written to {out}" if out else "")
    )
    return EXIT_OK


def cmd_build(args: argparse.Namespace) -> int:
    """The PYNQ-Z2 build folder: HLS project, Vivado Tcl, build.sh, deploy/ for the board."""
    from .backends.vivado import check_fits, run_build, tools_available, write_build_folder
    from .output import check_output_dir, output_path, write_folder
    from .verify import build_test_set

    out = output_path(args.output)
    inputs = given_files(args)
    check_output_dir(out, args.force, inputs)
    c = compile_for(args)
    folding = choose_folding(c, folding_request(args)).folding
    check_fits(c.model, folding, args.ip)
    images, labels = build_test_set(c, args.test_inputs, args.test_labels)

    def fill(folder: Path) -> None:
        write_build_folder(
            c.model,
            folding,
            folder,
            flavor=args.hls_flavor,
            images=images,
            labels=labels,
            ip=args.ip,
            sharing=str(c.options.sharing),
        )

    write_folder(out, args.force, fill, inputs)
    missing = tools_available(args.hls_flavor, args.ip)
    print(
        f"wrote {out}/: hls/ (HLS project), vivado/build_bd.tcl, build.sh, Makefile, "
        "deploy/ (driver, notebook, model.json, test set)"
    )
    if not args.run:
        tools = ", ".join(missing) if missing else "the Xilinx tools"
        print(f"next: cd {shlex.quote(str(out))} && ./build.sh   (needs {tools} on PATH)")
        return EXIT_OK
    if missing:
        print(
            f"--run: {', '.join(missing)} not found on PATH; run these on a machine with "
            f"the tools:\n  cd {shlex.quote(str(out))}\n  ./build.sh"
        )
        return EXIT_OK
    if run_build(out) != 0:
        print(f"build failed: see {out}/logs/", file=sys.stderr)
        return 1
    return EXIT_OK


def cmd_update(args: argparse.Namespace) -> int:
    """New thresholds for a deployed accelerator: checked against its hardware, written to
    DIR/thresholds.json for the driver's load_thresholds."""
    from .update import update_from_model

    target, values = update_from_model(Path(args.model), Path(args.deploy))
    if args.json:
        _print_json({"thresholds_file": str(target), "values": values})
    else:
        print(
            f"wrote {target}: {values} thresholds ({4 * values} bytes to load); on the board: "
            f"accel.load_thresholds({json.dumps(target.name)})"
        )
    return EXIT_OK


def cmd_compile(args: argparse.Namespace) -> int:
    from .backends.compile_folder import write_compile_folder
    from .output import check_output_dir, output_path, write_folder
    from .report import design_report, format_folding, format_report

    out = output_path(args.output)
    inputs = given_files(args)
    check_output_dir(out, args.force, inputs)
    c = compile_for(args)
    rep, chosen = design_report(c, folding_request(args), need_folding=True)
    assert chosen is not None  # need_folding: no folding raises

    def fill(folder: Path) -> None:
        write_compile_folder(
            c.model,
            chosen.folding,
            rep,
            folder,
            flavor=args.hls_flavor,
            input_dtype=c.info.input_dtype,
        )

    write_folder(out, args.force, fill, inputs)
    if args.json:
        _print_json(
            {
                "output": str(out),
                "files": sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()),
            }
        )
    else:
        print(format_report(rep))
        print("\n" + format_folding(rep["folding"]))
        print(
            f"\nwrote {out}/: hls/ (HLS project: top.cpp, hls.tcl, ...), rtl/ (SystemVerilog), "
            f"ir/, folding.json, report.json, report.txt (compiled in {c.seconds:.2f} s)"
        )
    return EXIT_OK


def positive_number(text: str) -> float:
    """A finite number > 0 (argparse refuses the option otherwise, exit 2)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{printable(text)[:40]!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{printable(text)[:40]} is not a finite number > 0")
    return value


def job_count(text: str) -> int:
    """A number of parallel jobs, 1 to 256."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{printable(text)[:40]!r} is not an integer") from None
    if not 1 <= value <= 256:
        raise argparse.ArgumentTypeError(f"{value} is not a number of jobs from 1 to 256")
    return value


def seed_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{printable(text)[:40]!r} is not an integer") from None
    if not 0 <= value < 1 << 32:
        raise argparse.ArgumentTypeError(f"{value} is not a seed from 0 to 2**32 - 1")
    return value


def sharing_option(sp: argparse.ArgumentParser) -> None:
    sp.add_argument(
        "--sharing",
        default="off",
        metavar="MODE",
        help="result sharing of repeated/inverse 2-D conv filters: exact (lossless; every "
        "binary conv runs on the result-sharing unit), similar:D (merge filters within "
        "Hamming distance D: changes weights), off (default), auto (exact plans; the folding "
        "optimiser picks the result-sharing unit or the MVTU per layer, whichever the "
        "resource model finds cheaper)",
    )

    sp.add_argument(
        "--coeff-bits",
        type=coeff_bits_type,
        default=DEFAULT_COEFF_BITS,
        metavar="B",
        help="fixed-point precision of a piecewise approximation's real weight levels and "
        f"activation values (docs/pa.md), {MIN_COEFF_BITS}..{MAX_COEFF_BITS} bits per "
        f"tensor, default {DEFAULT_COEFF_BITS}; exactly representable models ignore it",
    )


def coeff_bits_type(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{printable(text)[:40]!r} is not an integer") from None
    if not MIN_COEFF_BITS <= value <= MAX_COEFF_BITS:
        raise argparse.ArgumentTypeError(f"{value} is not in {MIN_COEFF_BITS}..{MAX_COEFF_BITS}")
    return value


def folding_options(sp: argparse.ArgumentParser) -> None:
    sp.add_argument(
        "--folding",
        metavar="FILE.json",
        help='PE/SIMD/ROM per layer: {"layers": {"l1_conv": {"pe": 4, "simd": 3, "rom": '
        '"lut"}}} ("rom": lut, block, or gen for fixed-sign layers); layers not named keep a '
        "moderate default. "
        "Without it the folding optimiser chooses",
    )
    sp.add_argument(
        "--target-fps",
        type=positive_number,
        metavar="F",
        help="optimiser: the cheapest folding that reaches F images/s at 100 MHz",
    )
    sp.add_argument(
        "--budget",
        type=positive_number,
        metavar="FRACTION",
        help="optimiser: fraction of the xc7z020's LUTs and block RAM the design may use "
        "(default 0.7); without --target-fps the fastest design within it",
    )
    sp.add_argument(
        "--thresholds",
        choices=THRESHOLD_STYLES,
        help="writable: thresholds loaded at run time (driver load_thresholds, `bnn-hls "
        "update`; the default); const: fixed in the design, the smallest form. Applies to "
        'every layer (a folding file can set "thresholds" per layer)',
    )


def backend_options(sp: argparse.ArgumentParser) -> None:
    folding_options(sp)
    sp.add_argument(
        "--hls-flavor",
        choices=["vitis", "vivado"],
        default="vitis",
        help="pragma spelling: vitis (Vitis HLS 2022.1, default) or vivado "
        "(Vivado HLS 2019.2/2020.1)",
    )


def _common_options(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("model", help="ONNX or QONNX file")
    sp.add_argument("--json", action="store_true", help="machine-readable output")
    sharing_option(sp)


def _add_inspect_command(sub: Any) -> None:
    sp = sub.add_parser(
        "inspect",
        help="layers, shapes, bit widths, ops, memory, BatchShift",
        description="Show the compiled model: layers, shapes, bit widths, "
        "operations, parameter memory, the BatchShift summary, and the folding with "
        "cycles per layer, efficiency and the resource model's estimate.",
    )
    _common_options(sp)
    folding_options(sp)
    sp.set_defaults(func=cmd_inspect)


def _add_verify_command(sub: Any) -> None:
    sp = sub.add_parser(
        "verify",
        help="check the compiled model against the source model",
        description="Run the source model (onnxruntime) and the compiled model "
        "on the same inputs; exit 0 only if every input agrees.",
    )
    _common_options(sp)
    g = sp.add_mutually_exclusive_group()
    g.add_argument(
        "--random",
        type=int,
        default=100,
        metavar="N",
        help="N random inputs that exercise the model (default 100)",
    )
    g.add_argument("--inputs", metavar="X.npy", help="a batch of inputs: (N, *input shape)")
    sp.add_argument("--labels", metavar="Y.npy", help="true labels, to report accuracy")
    sp.add_argument("--seed", type=seed_number, default=0, help="seed for --random (default 0)")
    sp.add_argument(
        "--level",
        choices=["golden", "csim", "rtlsim"],
        default="golden",
        help="golden = the integer golden model; csim = the generated HLS C++ compiled with "
        "g++; rtlsim = the generated RTL compiled by Verilator with its C++ testbench",
    )
    backend_options(sp)
    sp.add_argument(
        "--allow-ties",
        action="store_true",
        help="pass when every disagreement is at a pre-activation tie",
    )
    sp.set_defaults(func=cmd_verify)


def _add_estimate_command(sub: Any) -> None:
    sp = sub.add_parser(
        "estimate",
        help="resources (Yosys) and cycles per layer and in total",
        description="Synthesise the generated RTL stage by stage with Yosys (synth_xilinx "
        "-family xc7) and show LUT/FF/BRAM/DSP next to the xc7z020 budget, with cycles and "
        "images/s from the analytic model.",
    )
    _common_options(sp)
    backend_options(sp)
    sp.add_argument("--no-cache", action="store_true", help="ignore cached per-stage results")
    sp.add_argument(
        "-j",
        "--jobs",
        type=job_count,
        metavar="N",
        help="Yosys runs at a time (default: the cores available)",
    )
    sp.set_defaults(func=cmd_estimate)


def _add_build_command(sub: Any) -> None:
    sp = sub.add_parser(
        "build",
        help="a PYNQ-Z2 build folder: HLS project, Vivado block design, bitstream script, "
        "deploy/ with the driver and notebook",
        description="Write a self-contained build folder for the board: the HLS project, the "
        "Vivado block-design Tcl, build.sh/Makefile (HLS, then Vivado, to bnn.bit + bnn.hwh) "
        "and deploy/ (driver, notebook, model.json, test set). --run runs build.sh when the "
        "tools are on PATH.",
    )
    sp.add_argument("model", help="ONNX or QONNX file")
    sp.add_argument("--board", choices=["pynq-z2"], default="pynq-z2")
    sp.add_argument("-o", "--output", required=True, metavar="DIR", help="build folder")
    sp.add_argument(
        "--ip",
        choices=["rtl", "hls"],
        default="rtl",
        help="the accelerator IP: the RTL backend packaged by Vivado (default: its schedule is "
        "the one RTL simulation measures), or the HLS backend synthesised by Vitis HLS (its "
        "build stops if a loop misses II = 1); both have the same ports and registers",
    )
    sp.add_argument(
        "--test-inputs",
        metavar="X.npy",
        help="images for deploy/test_set.npz (default: 64 random inputs)",
    )
    sp.add_argument("--test-labels", metavar="Y.npy", help="their labels")
    sp.add_argument("--run", action="store_true", help="run build.sh (needs the Xilinx tools)")
    sp.add_argument("--force", action="store_true", help="replace a non-empty output folder")
    backend_options(sp)
    sharing_option(sp)
    sp.set_defaults(func=cmd_build)


def _add_sweep_command(sub: Any) -> None:
    sp = sub.add_parser(
        "sweep",
        help="design-space sweep: rates, sharing, ROM styles, budgets; Pareto fronts",
        description="Evaluate design points (the optimiser's folding for each target rate, "
        "sharing mode, ROM style and budget): cycles, images/s and the resource model, "
        "optionally Yosys and RTL-sim; print the table and the Pareto fronts (images/s vs LUT "
        "and vs BRAM). Runs in local processes, or on a Dask cluster with --cluster.",
    )
    sp.add_argument("model", help="ONNX or QONNX file")
    sp.add_argument("--json", action="store_true", help="machine-readable output")
    sp.add_argument(
        "--targets",
        metavar="R1,R2,...",
        help="images/s targets (default: the fastest design within the first budget, halved "
        "7 times)",
    )
    sp.add_argument(
        "--sharing", default="off", metavar="M1,M2", help="sharing modes: off, exact, auto"
    )
    sp.add_argument(
        "--rom",
        default="auto",
        metavar="S1,S2",
        help="weight ROMs: auto (the optimiser's per layer), lut, block (every MVTU)",
    )
    sp.add_argument("--budgets", metavar="B1,B2", help="fractions of the xc7z020 (default 0.7)")
    sp.add_argument("--yosys", action="store_true", help="also synthesise each point (slow)")
    sp.add_argument(
        "--rtlsim", type=job_count, metavar="N", help="also measure cycles in RTL-sim on N images"
    )
    sp.add_argument(
        "-j", "--jobs", type=job_count, metavar="N", help="local processes (default: the cores)"
    )
    sp.add_argument(
        "--cluster", metavar="ADDRESS", help="a Dask scheduler (tcp://host:8786) to run on"
    )
    sp.add_argument("-o", "--output", metavar="DIR", help="write sweep.json, sweep.md, pareto.png")
    sp.add_argument("--force", action="store_true", help="replace an output folder it wrote")
    sp.set_defaults(func=cmd_sweep)


def _add_update_command(sub: Any) -> None:
    sp = sub.add_parser(
        "update",
        help="new thresholds for a deployed accelerator, without a rebuild",
        description="Check that MODEL has the structure, folding and weights (signs) of the "
        "model the deploy folder DIR was built from, and write its thresholds to "
        "DIR/thresholds.json; the driver's load_thresholds() sends them to the accelerator "
        "(docs/thresholds.md). Exit 2 naming the first layer that differs.",
    )
    sp.add_argument("model", help="ONNX or QONNX file: the new model")
    sp.add_argument(
        "--deploy", required=True, metavar="DIR", help="the deploy/ folder of a bnn-hls build"
    )
    sp.add_argument("--json", action="store_true", help="machine-readable output")
    sp.set_defaults(func=cmd_update)


def _add_compile_command(sub: Any) -> None:
    sp = sub.add_parser(
        "compile",
        help="compile a model into an output folder: HLS project, RTL, IR, report",
        description="Compile the model and write the HLS project, the RTL, the IR and a "
        "report to DIR.",
    )
    _common_options(sp)
    sp.add_argument("-o", "--output", required=True, metavar="DIR", help="output folder")
    sp.add_argument("--force", action="store_true", help="replace a non-empty output folder")
    backend_options(sp)
    sp.set_defaults(func=cmd_compile)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bnn-hls",
        description="Compile a binarized neural network (ONNX/QONNX) into a streaming "
        "XNOR-popcount accelerator, and prove it computes what the model computes.",
    )
    p.add_argument("--version", action="version", version=f"bnn-hls {__version__}")
    p.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _add_inspect_command(sub)
    _add_verify_command(sub)
    _add_estimate_command(sub)
    _add_build_command(sub)
    _add_sweep_command(sub)
    _add_update_command(sub)
    _add_compile_command(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = (
        logging.WARNING
        if args.quiet
        else (
            logging.DEBUG if args.verbose > 1 else logging.INFO if args.verbose else logging.WARNING
        )
    )
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    progress.configure(enabled=not args.quiet)
    if getattr(args, "random", None) is not None and args.random < 1:
        parser.error("--random needs N >= 1")
    try:
        return int(args.func(args))
    except ModelError as exc:
        print(f"bnn-hls: error: {printable(str(exc))}", file=sys.stderr)
        return EXIT_USER_ERROR
    except ToolFailure as exc:  # the generated design failed in a tool: a bug here, not a user's
        print(f"bnn-hls: error: {printable(str(exc), 4000, lines=True)}", file=sys.stderr)
        print(
            "bnn-hls: this is a bug in bnn-hls or its tools; please report it with the model "
            "and the command (-vv shows more)",
            file=sys.stderr,
        )
        return EXIT_MISMATCH
    except KeyboardInterrupt:
        print("bnn-hls: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the output was piped into a program that stopped reading
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except MemoryError:
        print("bnn-hls: error: out of memory (try fewer inputs)", file=sys.stderr)
        return EXIT_USER_ERROR


def entry() -> None:
    np.seterr(all="ignore")
    sys.exit(main())


if __name__ == "__main__":
    entry()
