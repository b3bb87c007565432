"""Folding: PE (output channels computed in parallel) and SIMD (inputs per cycle) per layer.

Legal when PE divides the layer's outputs, SIMD divides its inputs (the input channels for a
conv: a window is read one pixel's SIMD channels at a time), and neighbouring streams can be
converted: a producer's word (PE) and its consumer's SIMD must divide one another. Each layer
also says where its weights live: "lut" (distributed ROM) or "block" (block RAM), and which
kernel computes it: "mvtu" (the matrix-vector-threshold unit), "bases" (the same unit over
binary bases: docs/pa.md) or "shared" (the result-sharing conv unit, for a binary conv with a
sharing plan: PE outputs per step, SIMD the channels of a window word; its weights are logic,
so "rom" does not apply). A layer's thresholds are
"writable" (loaded at run time: docs/thresholds.md) or "const" (fixed in the design, the
smallest form).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .. import ir
from ..errors import InputFileError, ModelError, quote_name
from .kernels import KERNELS, legal_kernels
from .pairing import linear_steps
from .signgen import generator_refusal

DEFAULT_MAX_PE = 16
DEFAULT_MAX_SIMD_BIT = 64
DEFAULT_MAX_SIMD_INT = 8


ROM_STYLES = ("lut", "block", "gen")  # "gen": the fixed-sign generator (docs/fsb.md)
THRESHOLD_STYLES = ("writable", "const")


@dataclass(frozen=True)
class Fold:
    pe: int
    simd: int
    rom: str = "lut"  # where the weights live: "lut" or "block" (RAM)
    kernel: str = "mvtu"  # "mvtu", "bases" (over binary bases) or "shared" (result sharing)
    thresholds: str = "writable"  # "writable" (loaded at run time) or "const"

    @property
    def writable(self) -> bool:
        return self.thresholds == "writable"


Folding = dict[str, Fold]


def simd_domain(layer: ir.Linear) -> int:
    """What SIMD must divide: the input channels of a conv, the fan-in of a dense layer."""
    return layer.in_shape[-1] if isinstance(layer, ir.Conv) else layer.fan_in


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def compatible(a: int, b: int) -> bool:
    return a % b == 0 or b % a == 0


def refusals(model: ir.Model, kernel: str) -> dict[str, str | None]:
    """Per linear layer: why `kernel` cannot compute it, or None when it can."""
    return {layer.name: KERNELS[kernel].refusal(layer, th) for layer, th in linear_steps(model)}


def default_folding(model: ir.Model) -> Folding:
    """Moderate parallelism that is always legal: PE up to 16, SIMD up to 64 (binary) or 8
    (integer inputs), chosen among divisors compatible with the neighbouring word size; the
    result-sharing kernel for every layer that has a sharing plan and can take it."""
    folding: Folding = {}
    prev_pe: int | None = None
    for layer, threshold in linear_steps(model):
        cap = DEFAULT_MAX_SIMD_INT if layer.input_kind == "int" else DEFAULT_MAX_SIMD_BIT
        options = [d for d in divisors(simd_domain(layer)) if d <= cap]
        if prev_pe is not None:
            options = [d for d in options if compatible(d, prev_pe)]
        simd = max(options)
        pe = max(d for d in divisors(layer.out_channels) if d <= DEFAULT_MAX_PE)
        kernel = legal_kernels(layer, threshold)[0]  # every layer has one (lowering refuses)
        folding[layer.name] = Fold(pe, simd, kernel=kernel)
        prev_pe = pe
    return folding


def with_thresholds(folding: Folding, style: str) -> Folding:
    """The folding with every layer's thresholds `style` ("writable" or "const")."""
    return {name: replace(fold, thresholds=style) for name, fold in folding.items()}


def check_folding(model: ir.Model, folding: Folding) -> None:
    thresholds = {layer.name: th for layer, th in linear_steps(model)}
    prev_pe: int | None = None
    prev_name = ""
    for layer in model.linear_layers():
        if layer.name not in folding:
            raise ModelError(
                f"the folding gives no PE/SIMD for layer {layer.name}",
                hint=f'add "{layer.name}": {{"pe": P, "simd": S}}',
            )
        fold = folding[layer.name]
        domain = simd_domain(layer)
        if fold.pe < 1 or layer.out_channels % fold.pe:
            raise ModelError(
                f"layer {layer.name}: PE {fold.pe} does not divide its "
                f"{layer.out_channels} outputs",
                hint=f"use one of {divisors(layer.out_channels)}",
            )
        if fold.simd < 1 or domain % fold.simd:
            what = "input channels" if isinstance(layer, ir.Conv) else "inputs"
            raise ModelError(
                f"layer {layer.name}: SIMD {fold.simd} does not divide its {domain} {what}",
                hint=f"use one of {divisors(domain)}",
            )
        if fold.rom not in ROM_STYLES:
            raise ModelError(
                f"layer {layer.name}: unknown ROM style {quote_name(str(fold.rom))}",
                hint=f"use one of {', '.join(ROM_STYLES)}",
            )
        if fold.rom == "gen":
            kernel = KERNELS.get(fold.kernel)
            reason = (
                generator_refusal(layer)
                if kernel is not None and kernel.generates_weights
                else "its kernel takes no weights from the generator"
            )
            if reason is not None:
                raise ModelError(
                    f'layer {layer.name}: rom "gen" (weights from the fixed-sign generator) '
                    f"cannot compute it: {reason}",
                    hint='give it "rom": "lut" or "block"',
                )
        if fold.thresholds not in THRESHOLD_STYLES:
            raise ModelError(
                f"layer {layer.name}: unknown threshold style {quote_name(str(fold.thresholds))}",
                hint=f"use one of {', '.join(THRESHOLD_STYLES)}",
            )
        if fold.kernel not in KERNELS:
            raise ModelError(
                f"layer {layer.name}: unknown kernel {quote_name(str(fold.kernel))}",
                hint=f"use one of {', '.join(KERNELS)}",
            )
        reason = KERNELS[fold.kernel].refusal(layer, thresholds[layer.name])
        if reason is not None:
            able = [
                k
                for k, cls in KERNELS.items()
                if cls.refusal(layer, thresholds[layer.name]) is None
            ]
            raise ModelError(
                f"layer {layer.name}: the {KERNELS[fold.kernel].title} cannot compute it: {reason}",
                hint=f'give it "kernel": {" or ".join(repr(k) for k in able)}'.replace("'", '"'),
            )
        if prev_pe is not None and not compatible(fold.simd, prev_pe):
            raise ModelError(
                f"layer {layer.name}: SIMD {fold.simd} and the PE {prev_pe} of "
                f"{prev_name} must divide one another (stream width conversion)"
            )
        prev_pe, prev_name = fold.pe, layer.name
    unknown = set(folding) - {layer.name for layer in model.linear_layers()}
    if unknown:
        names = ", ".join(sorted(quote_name(n) for n in unknown))
        raise ModelError(
            f"the folding names layers the model does not have: {names}",
            hint="see `bnn-hls inspect` for the layer names",
        )


FOLD_KEYS = ("pe", "simd", "rom", "kernel", "thresholds")
MAX_FOLD = 1 << 20
FOLDING_EXAMPLE = '{"layers": {"l1_conv": {"pe": 4, "simd": 3, "rom": "lut"}}}'


def load_folding(path: Path, model: ir.Model) -> Folding:
    """Read {"layers": {"l1_conv": {"pe": 4, "simd": 3, "rom": "block", "kernel": "mvtu",
    "thresholds": "const"}, ...}} ("rom", "kernel" and "thresholds" are optional: the default
    folding's); layers not named keep the default folding. Anything else is refused, naming
    the file and the entry."""
    where = quote_name(str(path))
    if path.is_dir():
        raise InputFileError(f"folding file {where} is a folder", hint=f"write {FOLDING_EXAMPLE}")
    if not path.is_file():
        raise InputFileError(f"folding file {where} does not exist")
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        detail = exc.__class__.__name__ if isinstance(exc, RecursionError) else str(exc)[:120]
        raise InputFileError(
            f"cannot read folding file {where}: {detail}", hint=f"write {FOLDING_EXAMPLE}"
        ) from None
    return parse_folding(doc, model, where)


def parse_folding(doc: Any, model: ir.Model, where: str = "the folding") -> Folding:
    """A folding from its JSON form, every value checked against the schema."""

    def refuse(message: str) -> InputFileError:
        return InputFileError(f"folding file {where}: {message}", hint=f"write {FOLDING_EXAMPLE}")

    if isinstance(doc, dict) and "layers" in doc:
        extra = sorted(k for k in doc if k != "layers")
        if extra:
            raise refuse(f'unknown key {quote_name(extra[0])} (only "layers")')
        doc = doc["layers"]
    if not isinstance(doc, dict):
        raise refuse(f"expected an object of layers, not {_json_kind(doc)}")
    folding = default_folding(model)
    for name, value in doc.items():
        layer = quote_name(str(name))
        if not isinstance(value, dict):
            raise refuse(f"layer {layer}: expected an object with pe and simd, not "
                         f"{_json_kind(value)}")  # fmt: skip
        unknown = sorted(k for k in value if k not in FOLD_KEYS)
        if unknown:
            raise refuse(f"layer {layer}: unknown key {quote_name(unknown[0])} (use "
                         f"{', '.join(FOLD_KEYS)})")  # fmt: skip
        numbers = {}
        for key in ("pe", "simd"):
            v = value.get(key)
            if type(v) is not int or not 1 <= v <= MAX_FOLD:
                raise refuse(f"layer {layer}: {key} must be a whole number from 1, not "
                             f"{_json_kind(v)}")  # fmt: skip
            numbers[key] = v
        default = folding.get(str(name), Fold(1, 1))
        rom, kernel = value.get("rom", default.rom), value.get("kernel", default.kernel)
        if not isinstance(rom, str) or rom not in ROM_STYLES:
            raise refuse(f"layer {layer}: rom must be one of {', '.join(ROM_STYLES)}")
        if not isinstance(kernel, str) or kernel not in KERNELS:
            raise refuse(f"layer {layer}: kernel must be one of {', '.join(KERNELS)}")
        thresholds = value.get("thresholds", default.thresholds)
        if not isinstance(thresholds, str) or thresholds not in THRESHOLD_STYLES:
            styles = ", ".join(THRESHOLD_STYLES)
            raise refuse(f"layer {layer}: thresholds must be one of {styles}")
        folding[str(name)] = Fold(numbers["pe"], numbers["simd"], rom, kernel, thresholds)
    try:
        check_folding(model, folding)
    except ModelError as exc:  # name the file the bad entry came from
        raise InputFileError(f"folding file {where}: {exc}") from None
    return folding


def _json_kind(value: Any) -> str:
    """A short, printable account of a JSON value in a message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)[:24]
    if isinstance(value, str):
        return quote_name(value, 24)
    return "a list" if isinstance(value, list) else "an object"


def folding_to_json(folding: Folding) -> dict[str, Any]:
    return {
        "layers": {
            k: {
                "pe": v.pe,
                "simd": v.simd,
                "rom": v.rom,
                "kernel": v.kernel,
                "thresholds": v.thresholds,
            }
            for k, v in folding.items()
        }
    }
