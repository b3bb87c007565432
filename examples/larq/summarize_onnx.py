"""Print a compact op-sequence summary of ONNX graphs (used for examples/larq/README.md).

Needs only ``onnx`` and ``numpy`` (runs in the repo's own venv or in .venv-larq):
    python examples/larq/summarize_onnx.py examples/larq/*.onnx
    python examples/larq/summarize_onnx.py --raw examples/larq/larq_cnn1_pad1_op13.onnx

Default output folds Larq's ste_sign pattern ``Sign -> Add(0.1) -> Sign`` into ``SteSign`` and
annotates each node with what a compiler must read from it (constant scalars, Pad values,
Transpose perms, Reshape shapes, Conv pads/kernels, Cast types, weight value sets).
``--raw`` lists every node's op type only, in graph order.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

log = logging.getLogger("summarize_onnx")


def _weights(a: np.ndarray) -> str:
    """Describe a weight tensor: +-1, per-output-channel +-s (BN folded in), or general."""
    u = np.unique(np.abs(a))
    if u.size == 1 and u[0] == 1.0:
        return "W=+-1"
    if a.ndim == 4:
        per_out = np.unique(np.abs(a.reshape(a.shape[0], -1)), axis=1)
        if per_out.shape[1] == 1:
            return "W=+-s[o]"
    return "W=float"


def describe(model: onnx.ModelProto) -> list[str]:
    g = model.graph
    init = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    for n in g.node:  # Constant nodes (rare in tf2onnx output) count as initialisers
        if n.op_type == "Constant":
            init[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    out: list[str] = []
    nodes = [n for n in g.node if n.op_type != "Constant"]
    i = 0
    while i < len(nodes):
        n = nodes[i]
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        consts = [init[x] for x in n.input if x in init]
        # Larq ste_sign: Sign(Add(Sign(x), 0.1))
        if (
            n.op_type == "Sign"
            and i + 2 < len(nodes)
            and nodes[i + 1].op_type == "Add"
            and nodes[i + 2].op_type == "Sign"
            and n.output[0] in nodes[i + 1].input
            and any(np.allclose(init.get(x, np.nan), 0.1) for x in nodes[i + 1].input)
            and nodes[i + 2].input[0] == nodes[i + 1].output[0]
        ):
            out.append("SteSign")
            i += 3
            continue
        op = n.op_type
        if op in ("Mul", "Add", "Sub", "Div") and consts:
            c = consts[0]
            op += f"({c.item():g})" if c.size == 1 else f"(vec{c.size})"
        elif op == "Pad":
            pads = consts[0].tolist() if consts else attrs.get("pads")
            val = consts[1].item() if len(consts) > 1 else attrs.get("value", 0.0)
            op += f"(pads={pads},value={val:g})"
        elif op == "Transpose":
            op += f"({','.join(map(str, attrs['perm']))})"
        elif op == "Reshape":
            op += f"({','.join(map(str, consts[0].tolist()))})"
        elif op == "Cast":
            op += f"(to={onnx.TensorProto.DataType.Name(attrs['to']).lower()})"
        elif op == "Conv":
            w = consts[0]
            extra = [f"k{w.shape[2]}x{w.shape[3]}", f"{w.shape[1]}->{w.shape[0]}", _weights(w)]
            if "pads" in attrs and any(attrs["pads"]):
                extra.append(f"pads={attrs['pads']}")
            if "auto_pad" in attrs:
                extra.append(f"auto_pad={attrs['auto_pad'].decode()}")
            if len(n.input) > 2:
                extra.append("bias")
            op += f"({','.join(extra)})"
        elif op in ("MatMul", "Gemm"):
            w = consts[0]
            op += f"({w.shape[0]}->{w.shape[1]},{_weights(w)})"
        elif op == "MaxPool":
            op += f"(k{attrs['kernel_shape'][0]},s{attrs.get('strides', [1])[0]})"
        out.append(op)
        i += 1
    return out


def header(path: Path, model: onnx.ModelProto) -> str:
    inp = model.graph.input[0]
    t = inp.type.tensor_type
    dims = [d.dim_value or d.dim_param for d in t.shape.dim]
    dtype = onnx.TensorProto.DataType.Name(t.elem_type).lower()
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    return f"{path.name} ({path.stat().st_size} B, opset {opset}, input {inp.name} {dtype}{dims})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", type=Path, nargs="+")
    ap.add_argument("--raw", action="store_true", help="every node's op type, nothing folded")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for path in args.files:
        model = onnx.load(str(path))
        ops = [n.op_type for n in model.graph.node] if args.raw else describe(model)
        log.info("%s\n  %s", header(path, model), " > ".join(ops))


if __name__ == "__main__":
    main()
