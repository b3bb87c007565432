"""Edits of ONNX models for tests: new BatchNorm statistics with the same weights, so two
models share an accelerator's weights and differ only in thresholds."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper


def with_new_batchnorm(model: onnx.ModelProto, seed: int) -> onnx.ModelProto:
    """A copy whose every BatchNormalization has new mean, bias and |scale| (the sign of each
    scale kept: a flipped sign negates the channel's weights, which is another accelerator)."""
    rng = np.random.default_rng(seed)
    out = onnx.ModelProto()
    out.CopyFrom(model)
    inits = {t.name: t for t in out.graph.initializer}
    for node in out.graph.node:
        if node.op_type != "BatchNormalization":
            continue
        scale, bias, mean, var = (numpy_helper.to_array(inits[n]) for n in node.input[1:5])
        std = np.sqrt(var + 1e-5)
        new = {
            node.input[1]: scale * rng.uniform(0.5, 2.0, scale.shape),
            node.input[2]: bias + rng.normal(0, 0.5, bias.shape) * np.abs(scale),
            node.input[3]: mean + rng.normal(0, 1.0, mean.shape) * std,
        }
        for name, value in new.items():
            inits[name].CopyFrom(numpy_helper.from_array(value.astype(np.float32), name))
    return out


def with_fixed_signs(model: onnx.ModelProto, seeds: dict[int, int]) -> onnx.ModelProto:
    """A copy whose linear layers `seeds` names (index among Conv/MatMul/Gemm in graph order)
    have the fixed-sign generator's signs (packing.fsb_signs, docs/fsb.md) and the metadata
    that says so. Handles the weight forms bnn_hls.modelgen writes: a Conv's (O, C, KH, KW)
    initializer, a MatMul's (O, K) initializer behind a Transpose; a dense layer must take a
    1-D input (after a conv the flatten would reorder its fan-in)."""
    import json

    from bnn_hls.packing import FSB_GENERATOR, fsb_signs

    out = onnx.ModelProto()
    out.CopyFrom(model)
    producers = {o: n for n in out.graph.node for o in n.output}
    inits = {t.name: t for t in out.graph.initializer}
    linear = [n for n in out.graph.node if n.op_type in ("Conv", "MatMul", "Gemm")]
    for index, seed in seeds.items():
        node = linear[index]
        name = node.input[1]
        while name not in inits:  # through the weight quantiser and transposes
            name = producers[name].input[0]
        w = numpy_helper.to_array(inits[name])
        if node.op_type == "Conv":
            o, c, kh, kw = w.shape
            bits = fsb_signs(seed, o, kh * kw * c).reshape(o, kh, kw, c).transpose(0, 3, 1, 2)
        else:
            o, k = w.shape
            bits = fsb_signs(seed, o, k)
        signs = np.where(bits == 1, 1.0, -1.0) * np.abs(w).mean()
        inits[name].CopyFrom(numpy_helper.from_array(signs.astype(np.float32), name))
    entry = out.metadata_props.add()
    entry.key = "bnn_hls.fsb"
    layers = [{"index": i, "seed": s} for i, s in sorted(seeds.items())]
    entry.value = json.dumps({"generator": FSB_GENERATOR, "version": 1, "layers": layers})
    return out
