"""Validation of a loaded ONNX model before anything is imported or written: everything
onnxruntime would reject, and everything that would make a compiled model silently wrong.

- the ONNX checker with strict shape and type inference (types that do not match, unknown
  opsets, malformed nodes);
- initializers of a type the compiler reads as float32 or int64 (a string tensor once became
  all +1 weights);
- unique node names, nodes in an order where every input exists before it is used (no
  cycles), one input and one output, a batch dimension that is not 0, a declared input size
  the machine can hold;
- finite values in every float initializer (a NaN bias or scale makes every score NaN).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

from ..errors import ModelError, printable, quote_name
from .refuse import refuse

# the tensor types the importer reads (float parameters, integer shapes and axes)
ACCEPTED_TYPES = {
    onnx.TensorProto.FLOAT: "float32",
    onnx.TensorProto.INT64: "int64",
    onnx.TensorProto.INT32: "int32",
}
# elements of the image input the compiler will allocate for (about 256 MB of float32 per
# image in the golden model and the simulators)
MAX_INPUT_ELEMENTS = 1 << 26
MAX_OPSET = 23  # the newest standard opset tested


def validate_model(model: onnx.ModelProto) -> None:
    check_opsets(model)
    check_initializer_types(model)
    check_node_names(model)
    check_graph_order(model)
    check_one_output(model)
    check_input_size(model)
    check_finite(model)
    run_checker(model)


def check_opsets(model: onnx.ModelProto) -> None:
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx") and opset.version > MAX_OPSET:
            raise ModelError(
                f"ONNX opset {opset.version} is newer than this compiler knows ({MAX_OPSET})",
                hint=f"export with opset {MAX_OPSET} or older (13 and 17 are tested)",
            )


QCDQ_OPS = ("QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear")


def check_initializer_types(model: onnx.ModelProto) -> None:
    qcdq = next((n for n in model.graph.node if n.op_type in QCDQ_OPS), None)
    if qcdq is not None:  # the QCDQ form's int8 constants would be refused below, less clearly
        refuse(
            qcdq,
            "QuantizeLinear/DequantizeLinear (QCDQ) models are not supported",
            "export with brevitas.export.export_qonnx (QONNX Quant / BipolarQuant nodes)",
        )
    for t in model.graph.initializer:
        if t.data_type not in ACCEPTED_TYPES:
            name = onnx.TensorProto.DataType.Name(t.data_type).lower()
            raise ModelError(
                f"initializer {quote_name(t.name)} is {name}; weights and parameters must be "
                "float32 (shapes and axes int64)",
                hint="export the model in float32",
            )


def check_node_names(model: onnx.ModelProto) -> None:
    seen: set[str] = set()
    for node in model.graph.node:
        if node.name and node.name in seen:
            refuse(
                node,
                "two nodes have this name",
                "node names must be unique (onnxruntime refuses the model too)",
            )
        seen.add(node.name)


def check_graph_order(model: onnx.ModelProto) -> None:
    """Every node input is a graph input, an initializer or an earlier node's output: this
    names the node of a cycle or a dangling edge, which the checker reports without it."""
    known = {v.name for v in model.graph.input} | {t.name for t in model.graph.initializer}
    known.add("")  # an omitted optional input
    for node in model.graph.node:
        missing = [name for name in node.input if name not in known]
        if missing:
            producer = next((n for n in model.graph.node if missing[0] in n.output), None)
            why = (
                "produced by no node and is no initializer"
                if producer is None
                else f"the output of node {quote_name(producer.name)} "
                f"({printable(producer.op_type, 40)}), which comes later (a cycle, or nodes "
                "out of order)"
            )
            refuse(
                node,
                f"input {quote_name(missing[0])} is {why}",
                "re-export the model (ONNX graphs are acyclic and topologically sorted)",
            )
        known.update(node.output)


def check_one_output(model: onnx.ModelProto) -> None:
    outputs = list(model.graph.output)
    if len(outputs) != 1:
        names = ", ".join(quote_name(o.name) for o in outputs[:5])
        raise ModelError(
            f"the model has {len(outputs)} outputs ({names}); exactly one score "
            "output is supported",
            hint="export only the class scores as output",
        )


def check_input_size(model: onnx.ModelProto) -> None:
    inits = {t.name for t in model.graph.initializer}
    for value in model.graph.input:
        if value.name in inits or not value.type.HasField("tensor_type"):
            continue
        dims = list(value.type.tensor_type.shape.dim)
        if dims and dims[0].HasField("dim_value") and dims[0].dim_value == 0:
            raise ModelError(
                f"input {quote_name(value.name)} has a batch dimension of 0",
                hint="export with batch size 1 or a dynamic batch dimension",
            )
        size = 1
        for d in dims[1:]:
            if d.HasField("dim_value") and d.dim_value > 0:
                size *= d.dim_value
        if size > MAX_INPUT_ELEMENTS:
            raise ModelError(
                f"input {quote_name(value.name)} declares {size:,} elements per image; at "
                f"most {MAX_INPUT_ELEMENTS:,} are supported",
                hint="check the exported input shape",
            )


def check_finite(model: onnx.ModelProto) -> None:
    for t in model.graph.initializer:
        if t.data_type != onnx.TensorProto.FLOAT:
            continue
        values = numpy_helper.to_array(t)
        if values.size and not np.all(np.isfinite(values)):
            bad = int(np.count_nonzero(~np.isfinite(values)))
            raise ModelError(
                f"initializer {quote_name(t.name)} holds {bad} NaN or infinite value(s)",
                hint="check the trained parameters (a diverged training, a zero variance)",
            )


def run_checker(model: onnx.ModelProto) -> None:
    """The ONNX checker with strict shape and type inference."""
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:  # ValidationError, InferenceError, or worse on hostile files
        text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        raise ModelError(
            f"the model is not valid ONNX: {printable(text or exc.__class__.__name__, 300)}",
            hint="re-export it; onnxruntime refuses it too",
        ) from None
