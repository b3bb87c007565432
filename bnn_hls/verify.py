"""Verification: the compiled model, at any level (the golden model, the HLS C++ in C-sim, the
RTL in Verilator), against the source model run by onnxruntime. `verify` is the one call: it
prepares the inputs, runs the device, compares and returns a typed summary."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import golden, ir
from .errors import InputFileError, quote_name

if TYPE_CHECKING:
    from .compiler import Compiled
    from .dataflow.folding import Folding
    from .simulate import RtlSummary

log = logging.getLogger(__name__)

SCORE_RTOL = 1e-5
SCORE_ATOL = 1e-5
# a pre-activation this close to 0 (relative to 1) counts as a tie: float32 rounding in the
# source runtime may put it on either side of the threshold
TIE_TOL = 1e-5


@dataclass
class VerifyReport:
    images: int
    label_agreement: int
    score_agreement: int
    exact_ties: int  # inputs with a pre-activation exactly 0 in the source model
    near_ties: int  # inputs with one within TIE_TOL of 0
    disagreements_at_ties: int
    max_score_error: float
    first_mismatches: list[int] = field(default_factory=list)
    accuracy_golden: float | None = None
    accuracy_source: float | None = None
    level: str = "golden"
    device_vs_golden: int | None = None  # images whose integer scores equal the golden model's
    # a piecewise approximation rounded to fixed point at this many bits (docs/pa.md): its
    # scores differ from the source's by the rounding; the top-1 must still agree
    coeff_bits: int | None = None
    label_disagreements_off_ties: int = 0  # top-1 disagreements on inputs without a near tie
    first_label_mismatches: list[int] = field(default_factory=list)
    # of the inputs whose top-1 differs, how many agree when the approximated values are
    # rounded to the most bits (None: not tried)
    mismatches_agreeing_at_max_bits: int | None = None

    @property
    def all_agree(self) -> bool:
        device_ok = self.device_vs_golden is None or self.device_vs_golden == self.images
        return (
            self.score_agreement == self.images
            and self.label_agreement == self.images
            and device_ok
        )

    def passed(self, allow_ties: bool = False) -> bool:
        if self.device_vs_golden is not None and self.device_vs_golden != self.images:
            return False  # a backend must equal the golden model exactly, ties or not
        if self.coeff_bits is not None:
            if allow_ties:
                return self.label_disagreements_off_ties == 0
            return self.label_agreement == self.images
        if allow_ties:
            return self.images - self.score_agreement <= self.disagreements_at_ties
        return self.all_agree

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["all_agree"] = self.all_agree
        return d


# the share of input elements put exactly where conventions meet: a bare sign's 0, an integer
# quantiser's rounding midpoint
EXACT_FRACTION = 0.25  # of the elements of an input with ties


def random_inputs(layer: ir.InputQuant, n: int, seed: int, dtype: str = "float32") -> np.ndarray:
    """Inputs that exercise the model: uniform over the input quantiser's range (a little
    beyond, to hit clipping), or standard normal in front of a bare sign; mapped back through
    the host-side input ops. In every second input (odd indices) a quarter of the elements
    land exactly on a sign's 0 or on a rounding midpoint of the quantiser (where ONNX Sign(0)
    = 0 and half-to-even rounding show), as far as float32 inputs can reach them exactly; the
    other inputs have no such points, so that --allow-ties, which excuses the inputs with a
    tie, still leaves half of them compared strictly."""
    rng = np.random.default_rng(seed)
    shape = (n, *layer.onnx_shape)
    if dtype.startswith(("uint", "int")):
        info = np.iinfo(np.dtype(dtype))
        return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    size = int(np.prod(layer.onnx_shape))
    # the host ops are elementwise affine: find a and b of x' = a * x + b per element
    probe = np.stack([np.zeros(layer.onnx_shape), np.ones(layer.onnx_shape)]).astype(np.float32)
    y = layer.host_float(probe).astype(np.float64).reshape(2, size)
    b, a = y[0], y[1] - y[0]
    a = np.where(a == 0, 1.0, a)
    source_index = layer.host_layout_index().astype(np.int64)
    if layer.mode == "bipolar":
        target = rng.standard_normal((n, size))
    else:
        lo, hi = layer.qrange()
        z = layer.zero_point
        step = layer.scale
        target = rng.uniform(
            layer.scale * (lo - z) - step, layer.scale * (hi - z) + step, (n, size)
        )
    x = np.empty((n, size), np.float32)
    x[:, source_index] = (target - b) / a  # back to the model's input order
    exact = exact_points(layer, a, b, rng)  # post-host order, NaN where none is reachable
    with_ties = (np.arange(n) % 2 == 1)[:, None]
    pick = (rng.random((n, size)) < EXACT_FRACTION) & np.isfinite(exact)[None, :] & with_ties
    rows, cols = np.nonzero(pick)
    x[rows, source_index[cols]] = exact[cols]
    return x.reshape(shape)


def exact_points(
    layer: ir.InputQuant, a: np.ndarray, b: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Per element (in the order after the host ops), a float32 model input that the host ops
    map exactly to 0 (a bipolar quantiser) or to a rounding midpoint q + 1/2 of the integer
    quantiser; NaN where no input within 8 ulps of the affine inverse does."""
    size = a.size
    target: np.ndarray
    want: np.ndarray
    if layer.mode == "bipolar":
        target = np.zeros(size)
        want = np.zeros(size)
    else:
        lo, hi = layer.qrange()
        q = rng.integers(lo, max(lo + 1, hi), size) + 0.5  # midpoints between levels
        want = q
        target = (q - layer.zero_point) * layer.scale
    base = ((target - b) / a).astype(np.float32)
    steps = np.arange(-8, 9)
    candidates = (base[None, :] + steps[:, None] * np.spacing(base)[None, :]).astype(np.float32)
    index = layer.host_layout_index().astype(np.int64)
    images = np.empty((len(steps), size), np.float32)
    images[:, index] = candidates
    y = layer.host_float(images.reshape(len(steps), *layer.onnx_shape)).reshape(len(steps), size)
    y = np.asarray(y, np.float32)
    if layer.mode == "bipolar":
        hit = y == 0
    else:
        scaled = (y / np.float32(layer.scale) + np.float32(layer.zero_point)).astype(np.float32)
        hit = scaled == want[None, :].astype(np.float32)
    first = np.argmax(hit, axis=0)
    found = hit[first, np.arange(size)]
    return np.where(found, candidates[first, np.arange(size)], np.nan)


def load_npy(path: Path, what: str) -> np.ndarray:
    """A user's .npy file (no pickles), with a clear error when it is missing or unreadable."""
    if not path.is_file():
        raise InputFileError(f"{what} file {quote_name(str(path))} does not exist")
    try:
        return np.load(path, allow_pickle=False)
    except Exception as exc:
        raise InputFileError(
            f"cannot read {quote_name(str(path))} as .npy: {exc.__class__.__name__}"
        ) from None


def load_inputs(path: Path, layer: ir.InputQuant) -> np.ndarray:
    x = load_npy(path, "input")
    want = tuple(layer.onnx_shape)
    if x.ndim == len(want):
        x = x[None]
    if x.ndim == 2 and len(want) > 1 and x.shape[1] == int(np.prod(want)):
        # flat images (N, C*H*W), as scikit-learn and MLP scripts keep them
        x = x.reshape((len(x), *want))
    if tuple(x.shape[1:]) != want:
        raise InputFileError(
            f"{quote_name(str(path))} has shape {x.shape}; expected (N, "
            f"{', '.join(map(str, want))})",
            hint="the first axis is the image "
            "index, the rest the model's input shape without the batch axis",
        )
    if x.dtype.kind not in "fiu":
        raise InputFileError(f"{quote_name(str(path))} holds {x.dtype}; expected numbers")
    if len(x) == 0:
        raise InputFileError(f"{quote_name(str(path))} holds no images (its first axis is 0)")
    if x.dtype.kind == "f":
        bad = ~np.isfinite(x.reshape(len(x), -1)).all(axis=1)
        if bad.any():
            raise InputFileError(
                f"{quote_name(str(path))} holds NaN or infinite values (image "
                f"{int(np.argmax(bad))} first, {int(bad.sum())} in all)",
                hint="images must be finite numbers",
            )
    return x


def compare(
    scores_dev: np.ndarray,
    labels_dev: np.ndarray,
    src: np.ndarray,
    min_abs_pre: np.ndarray,
    labels: np.ndarray | None = None,
    level: str = "golden",
) -> VerifyReport:
    src = src.reshape(len(src), -1)
    scale = np.maximum(1.0, np.abs(src).max(axis=1, keepdims=True))
    close = np.all(
        np.abs(scores_dev - src) <= SCORE_ATOL * scale + SCORE_RTOL * np.abs(src), axis=1
    )
    src_label = np.argmax(src, axis=1)
    # top-1 agrees when the device picks the source's class, or when the device's scores tie
    # exactly between its pick and the source's (which the source's float rounding broke,
    # e.g. s * sum(codes) vs sum(s * codes))
    rows = np.arange(len(src))
    dev = np.asarray(scores_dev).reshape(len(src), -1)
    tied = dev[rows, src_label] == dev[rows, labels_dev] if len(src) else np.zeros(0, bool)
    # or when the source's own scores tie (to float rounding) between the two picks: whole
    # levels often give equal top scores, and a fixed-point rounding breaks such a tie either way
    top = src[rows, src_label]
    src_tied = np.abs(src[rows, labels_dev] - top) <= SCORE_ATOL * scale[
        :, 0
    ] + SCORE_RTOL * np.abs(top)
    label_ok = (labels_dev == src_label) | tied | src_tied
    exact = min_abs_pre == 0
    near = min_abs_pre <= TIE_TOL
    bad = ~(close & label_ok)
    report = VerifyReport(
        images=len(src),
        label_agreement=int(label_ok.sum()),
        score_agreement=int(close.sum()),
        exact_ties=int(exact.sum()),
        near_ties=int(near.sum()),
        disagreements_at_ties=int((bad & near).sum()),
        max_score_error=float(np.abs(scores_dev - src).max()) if len(src) else 0.0,
        first_mismatches=[int(i) for i in np.nonzero(bad)[0][:10]],
        level=level,
        label_disagreements_off_ties=int((~label_ok & ~near).sum()),
        first_label_mismatches=[int(i) for i in np.nonzero(~label_ok)[0][:10]],
    )
    if labels is not None:
        report.accuracy_golden = float((labels_dev == labels).mean())
        report.accuracy_source = float((np.argmax(src, axis=1) == labels).mean())
    return report


def verify_golden(
    model: ir.Model, source: Any, x: np.ndarray, labels: np.ndarray | None = None
) -> VerifyReport:
    """Golden model on the compiled IR vs onnxruntime on the source file."""
    result = golden.run(model, x)
    src = source.run(x)
    return compare(result.scores, result.labels, src.outputs, src.min_abs_pre_activation, labels)


def load_labels(path: Path, n: int) -> np.ndarray:
    y = load_npy(path, "label")
    if y.shape != (n,) or y.dtype.kind not in "iu":
        raise InputFileError(
            f"{quote_name(str(path))} has shape {y.shape} ({y.dtype}); expected "
            f"({n},) integer labels"
        )
    return y.astype(np.int64)


def build_test_set(
    c: Compiled, inputs: str | Path | None, labels: str | Path | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """The images (and labels) a build ships for its on-board check: the user's files, or 64
    seeded random images in the model's input type."""
    if inputs:
        images = load_inputs(Path(inputs), c.model.input)
    else:
        images = random_inputs(c.model.input, 64, seed=0, dtype=c.info.input_dtype)
    return images, load_labels(Path(labels), len(images)) if labels else None


def verify_device(
    model: ir.Model,
    source: Any,
    x: np.ndarray,
    device_acc: np.ndarray,
    level: str,
    labels: np.ndarray | None = None,
) -> VerifyReport:
    """A backend's integer scores: equal to the golden model's, and, through the host-side
    affine, to the source model's outputs."""
    expected = golden.run(model, x).acc
    scores = golden.scores(model.scores, device_acc).reshape(len(x), -1)
    src = source.run(x)
    rep = compare(
        scores, np.argmax(scores, axis=1), src.outputs, src.min_abs_pre_activation, labels, level
    )
    rep.device_vs_golden = int(np.all(device_acc == expected, axis=1).sum())
    return rep


LEVELS = ("golden", "csim", "rtlsim")


@dataclass
class VerifySummary:
    report: VerifyReport
    inputs: str  # what was verified, for the user
    passed: bool
    rtl: RtlSummary | None = None  # cycle figures of an RTL simulation

    def to_json(self) -> dict[str, Any]:
        doc = {**self.report.to_json(), "passed": self.passed, "inputs": self.inputs}
        if self.rtl is not None:
            doc["rtl"] = self.rtl.to_json()
        return doc


def verify(
    c: Compiled,
    *,
    level: str = "golden",
    inputs: Path | None = None,
    random: int = 100,
    seed: int = 0,
    labels: Path | None = None,
    folding: Folding | None = None,
    hls_flavor: str = "vitis",
    allow_ties: bool = False,
) -> VerifySummary:
    """Verify the compiled model at `level` on the images of `inputs` (an .npy file) or on
    `random` random inputs; `folding` is needed for csim and rtlsim."""
    from .reference import SourceModel

    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}")
    if inputs is not None:
        x = load_inputs(inputs, c.model.input)
        what = f"{len(x)} images from {quote_name(inputs.name)}"
    else:
        x = random_inputs(c.model.input, random, seed, c.info.input_dtype)
        what = f"{len(x)} random inputs (seed {seed})"
    y = load_labels(labels, len(x)) if labels is not None else None
    log.info("verifying on %s", what)
    source = SourceModel(c.onnx_model, c.info)
    rtl = None
    if level == "golden":
        rep = verify_golden(c.model, source, x, y)
    else:
        from .simulate import csim_scores, rtlsim_scores

        assert folding is not None, "csim and rtlsim need a folding"
        if level == "csim":
            scores = csim_scores(c.model, folding, x, hls_flavor)
        else:
            scores, rtl = rtlsim_scores(c.model, folding, x, seed)
        rep = verify_device(c.model, source, x, scores, level, y)
    rep.coeff_bits = c.model.coeff_bits()
    if rep.coeff_bits is not None and rep.label_agreement < rep.images:
        rep.mismatches_agreeing_at_max_bits = _agreeing_at_max_bits(c, source, x)
    return VerifySummary(rep, what, rep.passed(allow_ties), rtl)


def _agreeing_at_max_bits(c: Compiled, source: Any, x: np.ndarray) -> int | None:
    """Of the inputs whose golden top-1 differs from the source's, how many agree once the
    piecewise approximation's values are rounded to MAX_COEFF_BITS: the rounding at the
    chosen precision moved a hidden pre-activation across a split point. None when that
    precision is the chosen one or cannot be compiled."""
    from dataclasses import replace

    from .compiler import compile_model
    from .errors import ModelError
    from .frontend.fixedpoint import MAX_COEFF_BITS

    if c.options.coeff_bits >= MAX_COEFF_BITS:
        return None
    src = np.argmax(source.run(x).outputs.reshape(len(x), -1), axis=1)
    differ = golden.run(c.model, x).labels != src
    try:
        precise = compile_model(
            c.onnx_model, c.model.source_file, replace(c.options, coeff_bits=MAX_COEFF_BITS)
        )
    except ModelError:
        return None
    return int((golden.run(precise.model, x[differ]).labels == src[differ]).sum())
