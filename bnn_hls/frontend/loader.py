"""Read an ONNX file safely and check it (validate.py: the ONNX checker with strict type and
shape inference, tensor types, finite parameters, sizes): one input, one output, static shapes
(a symbolic batch dimension is allowed), external data only beside the model."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import numpy_helper

from ..errors import InputFileError, ModelError, quote_name
from .qonnx_ops import QONNX_DOMAINS
from .refuse import refuse
from .validate import check_one_output, validate_model

log = logging.getLogger(__name__)

MAX_MODEL_BYTES = 1 << 30


def load_onnx(path: str | Path) -> onnx.ModelProto:
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"model file {quote_name(str(path))} does not exist")
    if not path.is_file():
        raise InputFileError(f"model path {quote_name(str(path))} is not a file")
    size = path.stat().st_size
    if size == 0:
        raise InputFileError(f"model file {quote_name(str(path))} is empty")
    if size > MAX_MODEL_BYTES:
        raise InputFileError(f"model file {quote_name(str(path))} is larger than 1 GiB")
    try:
        data = path.read_bytes()
        model = onnx.ModelProto.FromString(data)
    except (DecodeError, RuntimeWarning, ValueError) as exc:
        raise InputFileError(
            f"{quote_name(str(path))} is not an ONNX model ({exc.__class__.__name__})",
            hint="pass a .onnx file written by torch.onnx / Brevitas export_qonnx / tf2onnx",
        ) from None
    if not model.HasField("graph") or not model.graph.node:
        raise InputFileError(f"{quote_name(str(path))} holds no ONNX graph (no nodes)")
    load_external_tensors(model, path)
    check_model(model)
    return model


def load_external_tensors(model: onnx.ModelProto, path: Path) -> None:
    """Tensors saved beside the model (torch.onnx's .onnx.data): only plain file names in the
    model's own folder are accepted, never absolute paths or paths leaving that folder."""
    external = [t for t in model.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    if not external:
        return
    folder = path.resolve().parent
    for tensor in external:
        location = next((e.value for e in tensor.external_data if e.key == "location"), "")
        target = (folder / location).resolve()
        if not location or Path(location).is_absolute() or target.parent != folder:
            raise InputFileError(
                f"initializer {quote_name(tensor.name)} points to external data "
                f"{quote_name(location)} outside the model's folder",
                hint="keep the .onnx.data file next to the model, or save one self-contained file",
            )
        if not target.is_file():
            raise InputFileError(
                f"initializer {quote_name(tensor.name)} needs the external data file "
                f"{quote_name(location)}, which is missing",
                hint="copy it next to the model",
            )
    try:
        from onnx.external_data_helper import load_external_data_for_model

        load_external_data_for_model(model, str(folder))
    except Exception as exc:
        raise InputFileError(
            f"cannot read the external data of {quote_name(path.name)}: {str(exc)[:200]}"
        ) from None


def check_model(model: onnx.ModelProto) -> None:
    """Everything the importer relies on, before it allocates or writes anything."""
    validate_model(model)
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx") and opset.version < 7:
            raise ModelError(
                f"ONNX opset {opset.version} is too old", hint="re-export with opset 11 or newer"
            )
    for node in model.graph.node:
        if node.domain not in ("", "ai.onnx", *QONNX_DOMAINS):
            refuse(
                node,
                f"operator domain {quote_name(node.domain)} is not supported",
                "supported: standard ONNX and QONNX (BipolarQuant, Quant)",
            )


def initializers(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def graph_io(model: onnx.ModelProto) -> tuple[onnx.ValueInfoProto, onnx.ValueInfoProto]:
    """The single real input (initializers listed as inputs are skipped) and the single output."""
    init_names = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in init_names]
    if len(inputs) != 1:
        names = ", ".join(quote_name(i.name) for i in inputs[:5])
        raise ModelError(
            f"the model has {len(inputs)} inputs ({names}); exactly one image input is supported",
            hint="export the model with a single input tensor",
        )
    check_one_output(model)
    return inputs[0], model.graph.output[0]


def static_input_shape(value: onnx.ValueInfoProto) -> tuple[int, ...]:
    """The input's shape without its batch dimension; every other dimension must be fixed."""
    ttype = value.type.tensor_type
    if not value.type.HasField("tensor_type"):
        raise ModelError(f"input {quote_name(value.name)} is not a tensor")
    if not ttype.HasField("shape"):
        raise ModelError(
            f"input {quote_name(value.name)} has no shape",
            hint="export with a fixed input shape, e.g. (1, C, H, W)",
        )
    dims = list(ttype.shape.dim)
    if len(dims) < 2:
        raise ModelError(
            f"input {quote_name(value.name)} has rank {len(dims)}; expected a batch "
            "dimension followed by the image shape"
        )
    out = []
    for i, d in enumerate(dims[1:], start=1):
        if d.HasField("dim_value") and d.dim_value <= 0:
            raise ModelError(
                f"input {quote_name(value.name)} has dimension {i} of size {d.dim_value}",
                hint="export with the image's real shape",
            )
        if not d.HasField("dim_value"):
            what = d.dim_param if d.HasField("dim_param") else "unknown"
            raise ModelError(
                f"input {quote_name(value.name)} has a dynamic dimension {i} "
                f"({quote_name(what)}); only the batch dimension may be dynamic",
                hint="export with a fixed image shape",
            )
        out.append(int(d.dim_value))
    batch = dims[0]
    if batch.HasField("dim_value") and batch.dim_value not in (0, 1):
        log.info(
            "input batch dimension is fixed at %d; verification feeds one image at a time",
            batch.dim_value,
        )
    return tuple(out)


def make_self_contained(path: str | Path) -> None:
    """Store every tensor inside the .onnx file and remove a <model>.onnx.data beside it (the
    dynamo exporter can leave a stale one next to a self-contained model)."""
    path = Path(path)
    model = onnx.load(str(path))
    onnx.save(model, str(path), save_as_external_data=False)
    extra = Path(str(path) + ".data")
    if extra.exists():
        extra.unlink()
