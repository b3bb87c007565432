"""Write every file `bnn-hls compile` and `bnn-hls build` produce for a fixed set of models,
sharing modes and foldings into one tree, and compare two such trees.

A refactoring that must not change behaviour is checked by writing the tree before and after
it and comparing the two byte for byte:

    python tools/output_tree.py write before/        # on the old commit
    python tools/output_tree.py write after/         # on the new one
    python tools/output_tree.py compare before/ after/

Cases: every shipped example model (examples/**/*.onnx), the reference topologies (TFC, SFC,
LFC, CNV) and `--random N` seeded random models (modelgen; every third one multi-bit, with
QONNX Quant or MultiThreshold activations, or piecewise-approximated), each at the
optimiser's default folding, at a target rate (a quarter of the default design's images/s)
and from a folding file (the default folding with every ROM style flipped); models with a
binary conv also with --sharing exact and auto. The outputs come from the CLI only; the
random models come from the tree's own modelgen, so an older tree must have the spec classes
imported below (MultiThresholdSpec: commit 5f412f7 and later) for the trees to match.

Two kinds of content are compared by meaning instead of bytes, because they hold no design
data and differ between any two runs: .npz archives (zip timestamps; compared array by array)
and the "compile_seconds" field of report.json.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import random
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnx

from bnn_hls.cli import main as cli_main
from bnn_hls.modelgen import (
    ActQuant,
    BnStats,
    ConvSpec,
    DenseSpec,
    MultiThresholdSpec,
    PaSpec,
    WeightQuant,
    build_bnn,
    reference_topology,
)

ROOT = Path(__file__).resolve().parents[1]
VOLATILE_JSON_KEYS = ("compile_seconds",)


def random_model(seed: int) -> tuple[onnx.ModelProto, bool]:
    """A seeded random binarized model (the test suite's shapes), and whether it has a conv."""
    r = random.Random(seed)
    style = r.choice(["qonnx", "plain", "plain_where"])
    use_conv = r.random() < 0.6
    mode = r.choice(["bipolar", "quant8"] if style == "qonnx" else ["bipolar"])
    layers: list[ConvSpec | DenseSpec] = []
    if use_conv:
        c, h, w = r.randint(1, 3), r.randint(4, 9), r.randint(4, 9)
        shape: tuple[int, ...] = (c, h, w)
        for _ in range(r.randint(1, 3)):
            k = r.randint(1, 3)
            pad, stride = r.randint(0, k - 1), r.randint(1, 2)
            oh, ow = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
            if oh < 1 or ow < 1:
                continue
            pool = 2 if oh >= 2 and ow >= 2 and r.random() < 0.5 else 0
            layers.append(ConvSpec(r.randint(1, 12), k, stride, pad, pool, r.random() < 0.5))
            h, w = (oh // pool, ow // pool) if pool else (oh, ow)
    else:
        shape = (r.randint(2, 40),)
        if r.random() < 0.5:
            shape = (1, r.randint(2, 6), r.randint(2, 6))
            mode = "flat_" + mode
    for _ in range(r.randint(0 if use_conv else 1, 2)):
        layers.append(DenseSpec(r.randint(1, 24)))
    bn = BnStats(r.choice([0.0, 0.3, 0.6]), r.choice([0.0, 0.1]), r.choice([0.0, 0.1, 0.3]))
    # every third model has more than two levels somewhere: multi-bit weights and activations
    # (QONNX only) or a piecewise approximation (plain ONNX)
    act, weights, pa, mt = None, None, None, None
    if seed % 3 == 2:
        if style == "qonnx" and r.random() < 0.5:
            levels = r.randint(2, 5)
            mt = MultiThresholdSpec(levels, r.random() < 0.5, 0.5, -0.5 * r.randint(0, levels - 1))
            weights = WeightQuant(bits=r.randint(2, 3), per_channel=r.random() < 0.5)
        elif style == "qonnx":
            act = ActQuant(bits=r.randint(2, 3), signed=r.random() < 0.5, narrow=r.random() < 0.5)
            weights = WeightQuant(bits=r.randint(2, 3), per_channel=r.random() < 0.5)
        else:
            pa = PaSpec(r.randint(1, 4), r.randint(2, 5), "sign" if style == "plain" else "where")
    model = build_bnn(
        shape,
        layers,
        r.randint(2, 10),
        style=style,
        input_mode=mode,
        weight_form=r.choice(["matmul", "gemm"]),
        flatten=r.choice(["shape_chain", "flatten", "reshape_const"]),
        seed=r.randint(0, 2**20),
        bn=bn,
        final_bias=r.random() < 0.5,
        channels_last=r.random() < 0.5,
        act=act,
        weights=weights,
        pa=pa,
        mt=mt,
    )
    convs = [la for la in layers if isinstance(la, ConvSpec)]
    binary_conv = len(convs) >= 2 or (len(convs) == 1 and mode == "bipolar")
    return model, binary_conv


def cli(args: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli_main([str(a) for a in args])
    return code, out.getvalue()


def models(work: Path, n_random: int) -> list[tuple[str, Path, bool]]:
    """(case name, file, has a binary conv)."""
    found: list[tuple[str, Path, bool]] = []
    for path in sorted((ROOT / "examples").rglob("*.onnx")):
        name = f"{path.parent.name}.{path.stem}"
        found.append((name, path, any(k in path.stem for k in ("cnn", "cnv", "conv"))))
    for name in ("tfc", "sfc", "lfc", "cnv"):
        path = work / f"{name}.onnx"
        onnx.save(reference_topology(name, seed=0), path)
        found.append((name, path, name == "cnv"))
    for seed in range(n_random):
        model, conv = random_model(seed)
        path = work / f"random{seed:02d}.onnx"
        onnx.save(model, path)
        found.append((path.stem, path, conv))
    return found


def write_tree(out: Path, n_random: int) -> int:
    out.mkdir(parents=True, exist_ok=False)
    work = out / "_models"
    work.mkdir()
    failures = 0
    for name, path, conv in models(work, n_random):
        for sharing in ("off", "exact", "auto") if conv else ("off",):
            base = ["--sharing", sharing]
            code, text = cli(["inspect", path, "--json", *base])
            if code != 0:
                logging.warning("%s --sharing %s: inspect exit %d", name, sharing, code)
                failures += 1
                continue
            fold = json.loads(text)["folding"]
            if fold is None:  # no folding fits the default budget: nothing to generate
                logging.warning("%s --sharing %s: no folding within the budget", name, sharing)
                continue
            target = 0.25 * fold["images_per_second_at_100MHz"]
            default_dir = out / name / sharing / "default"
            foldings: list[tuple[str, list[str]]] = [
                ("default", []),
                ("target", ["--target-fps", f"{target:.0f}"]),
                ("file", ["--folding", out / name / sharing / "folding_file.json"]),
            ]
            for label, extra in foldings:
                for command in ("compile", "build"):
                    dest = out / name / sharing / label / command
                    folding_file = out / name / sharing / "folding_file.json"
                    if label == "file" and not folding_file.exists():
                        layers = json.loads((default_dir / "compile" / "folding.json").read_text())
                        for v in layers["layers"].values():
                            v["rom"] = "block" if v["rom"] == "lut" else "lut"
                        folding_file.write_text(json.dumps(layers, indent=2) + "\n")
                    code, _ = cli([command, path, "-o", dest, *base, *extra])
                    status = "ok" if code == 0 else f"exit {code}"
                    logging.info("%s %s %s %s: %s", name, sharing, label, command, status)
                    if code != 0:
                        failures += 1
    return failures


def _same_npz(a: Path, b: Path) -> bool:
    with np.load(a) as x, np.load(b) as y:
        if sorted(x.files) != sorted(y.files):
            return False
        return all(
            x[k].dtype == y[k].dtype and x[k].shape == y[k].shape and np.array_equal(x[k], y[k])
            for k in x.files
        )


def _strip(doc: object) -> object:
    if isinstance(doc, dict):
        return {k: _strip(v) for k, v in doc.items() if k not in VOLATILE_JSON_KEYS}
    if isinstance(doc, list):
        return [_strip(v) for v in doc]
    return doc


def same_file(a: Path, b: Path) -> bool:
    if a.read_bytes() == b.read_bytes():
        return True
    if a.suffix == ".npz" and zipfile.is_zipfile(a) and zipfile.is_zipfile(b):
        return _same_npz(a, b)
    if a.name == "report.json":
        return _strip(json.loads(a.read_text())) == _strip(json.loads(b.read_text()))
    return False


def compare_trees(a: Path, b: Path) -> int:
    files_a = {p.relative_to(a) for p in a.rglob("*") if p.is_file()}
    files_b = {p.relative_to(b) for p in b.rglob("*") if p.is_file()}
    only_a, only_b = sorted(files_a - files_b), sorted(files_b - files_a)
    differ = sorted(p for p in files_a & files_b if not same_file(a / p, b / p))
    for p in only_a:
        print(f"only in {a}: {p}")
    for p in only_b:
        print(f"only in {b}: {p}")
    for p in differ:
        print(f"differs: {p}")
    by_name: dict[str, int] = {}
    for p in differ:
        by_name[p.name] = by_name.get(p.name, 0) + 1
    for name, count in sorted(by_name.items()):
        print(f"  {count:5d} x {name}")
    print(
        f"{len(files_a & files_b)} files in both, {len(differ)} differ, {len(only_a)} only in "
        f"the first, {len(only_b)} only in the second"
    )
    return 0 if not (only_a or only_b or differ) else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write", help="write the output tree into a new folder")
    w.add_argument("out", type=Path)
    w.add_argument("--random", type=int, default=20, help="random models (default 20)")
    c = sub.add_parser("compare", help="compare two trees; exit 1 if any file differs")
    c.add_argument("a", type=Path)
    c.add_argument("b", type=Path)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    if args.cmd == "write":
        failures = write_tree(args.out, args.random)
        print(f"wrote {args.out} ({failures} commands failed)")
        return 0
    return compare_trees(args.a, args.b)


if __name__ == "__main__":
    sys.exit(main())
