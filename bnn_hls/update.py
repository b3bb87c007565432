"""`bnn-hls update NEW_MODEL --deploy DIR`: new thresholds for a deployed accelerator, without
a rebuild. The deploy folder's model.json records the accelerator's hardware fingerprint
(dataflow/tables.py), its folding and the compile options; NEW_MODEL is compiled the same way
at the same folding, and if its fingerprint equals the deployed one (same structure, folding,
weights and constant tables) its thresholds are written to DIR/thresholds.json, which the
driver's `load_thresholds` sends to the accelerator (docs/thresholds.md)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import ir
from .dataflow.folding import Folding, parse_folding
from .dataflow.plan import Plan
from .dataflow.tables import first_difference, hardware_fingerprint, load_tables, load_values
from .errors import InputFileError, ModelError, quote_name
from .frontend.fixedpoint import DEFAULT_COEFF_BITS

if TYPE_CHECKING:
    from .compiler import Compiled

THRESHOLDS_FILE = "thresholds.json"
THRESHOLDS_FORMAT = "bnn-hls-thresholds"


def hardware_id(fingerprint: list[dict[str, Any]]) -> str:
    """One hash of a hardware fingerprint: what model.json and a thresholds file must share."""
    return hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()[:32]


def thresholds_doc(model: ir.Model, plan: Plan) -> dict[str, Any]:
    """The thresholds file of a compiled model on its accelerator: the load stream's values,
    the host-side parts that may change with them (input quantiser, score ops) and the
    hardware it is for."""
    values = load_values(plan)
    for t in load_tables(plan):
        lo, hi = t.value_range()
        part = values[t.offset : t.offset + t.values]
        if part.size and (part.min() < lo or part.max() > hi):
            raise ModelError(
                f"layer {t.layer}: a threshold does not fit its {t.bits}-bit table",
                hint="please report this model",
            )
    return {
        "format": THRESHOLDS_FORMAT,
        "version": 1,
        "source_file": model.source_file,
        "hardware_id": hardware_id(hardware_fingerprint(plan)),
        "values": [int(v) for v in values],
        "input": model.input.host_spec(),
        "score_ops": [op.to_json() for op in model.scores.ops],
    }


def write_json_atomic(path: Path, doc: dict[str, Any]) -> None:
    """Written whole to a temporary file beside it, then renamed over it."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class Deployed:
    folder: Path
    spec: dict[str, Any]

    @property
    def sharing(self) -> str:
        return str(self.spec.get("compile", {}).get("sharing", "off"))

    @property
    def coeff_bits(self) -> int:
        """The --coeff-bits the accelerator was built with (the default when exact)."""
        bits = self.spec.get("compile", {}).get("coeff_bits")
        return int(bits) if isinstance(bits, int) else DEFAULT_COEFF_BITS


def read_deployed(folder: Path) -> Deployed:
    where = quote_name(str(folder))
    spec_file = folder / "model.json"
    if not folder.is_dir():
        raise InputFileError(f"deploy folder {where} does not exist or is not a folder")
    if not spec_file.is_file():
        raise InputFileError(
            f"{where} has no model.json",
            hint="give the deploy/ folder of a `bnn-hls build` output",
        )
    try:
        spec = json.loads(spec_file.read_text())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        raise InputFileError(f"{where}/model.json is not readable JSON") from None
    if not isinstance(spec, dict) or spec.get("format") != "bnn-hls-deploy":
        raise InputFileError(f"{where}/model.json is not a bnn-hls deploy description")
    if not isinstance(spec.get("hardware"), list) or not isinstance(spec.get("folding"), dict):
        raise InputFileError(
            f"{where}/model.json has no hardware fingerprint (an older bnn-hls build)",
            hint="rebuild with this version of bnn-hls",
        )
    return Deployed(folder, spec)


def deployed_folding(c: Compiled, deployed: Deployed) -> Folding:
    """The deployed design's folding, for the new model: its layers must be the deployed
    model's (the compiler names them by position and kind)."""
    layers = deployed.spec["folding"].get("layers")
    deployed_names = sorted(str(n) for n in layers) if isinstance(layers, dict) else []
    new_names = sorted(layer.name for layer in c.model.linear_layers())
    if deployed_names != new_names:
        shown = ", ".join(quote_name(n, 24) for n in deployed_names[:6])
        raise ModelError(
            f"the new model's structure differs from the deployed design's: its linear layers "
            f"are {', '.join(new_names[:6])}, the deployed design's {shown}",
            hint="update changes thresholds only; rebuild with `bnn-hls build`",
        )
    try:
        return parse_folding(deployed.spec["folding"], c.model, "of the deployed design")
    except (InputFileError, ModelError) as exc:
        raise ModelError(
            f"the new model does not fit the deployed design's folding: {exc}",
            hint="update needs a model of the same structure; otherwise rebuild",
        ) from None


def update_from_model(model_path: Path, deploy_dir: Path) -> tuple[Path, int]:
    """`bnn-hls update`: compile the new model at the deployed design's sharing, precision and
    folding, check it against the deployed hardware and write its thresholds file; returns
    the file and the number of threshold values it holds."""
    from .compiler import compile_file
    from .dataflow.lowering import build_plan
    from .passes import PassOptions, parse_sharing

    deployed = read_deployed(deploy_dir)
    options = PassOptions(sharing=parse_sharing(deployed.sharing), coeff_bits=deployed.coeff_bits)
    c = compile_file(model_path, options)
    plan = build_plan(c.model, deployed_folding(c, deployed))
    target = update_deploy(c, deployed, plan)
    return target, sum(t.values for t in load_tables(plan))


def update_deploy(c: Compiled, deployed: Deployed, plan: Plan) -> Path:
    """Check the new model's plan against the deployed hardware and write its thresholds
    file; returns the file."""
    difference = first_difference(deployed.spec["hardware"], hardware_fingerprint(plan))
    if difference is not None:
        raise ModelError(
            f"the new model does not run on the deployed accelerator: {difference}",
            hint="only thresholds (BatchNorm, scales) can change without a rebuild; rebuild "
            "with `bnn-hls build` for other changes",
        )
    if not load_tables(plan):
        raise ModelError(
            "the deployed accelerator has no writable thresholds (built with --thresholds "
            "const, or a model without threshold layers)",
            hint="rebuild with writable thresholds (the default)",
        )
    target = deployed.folder / THRESHOLDS_FILE
    if target.exists():
        try:
            ours = json.loads(target.read_text()).get("format") == THRESHOLDS_FORMAT
        except (OSError, UnicodeDecodeError, ValueError, AttributeError, RecursionError):
            ours = False
        if not ours:
            raise InputFileError(
                f"{quote_name(str(target))} exists and was not written by bnn-hls",
                hint="move it away; update does not overwrite files it did not write",
            )
    write_json_atomic(target, thresholds_doc(c.model, plan))
    return target
