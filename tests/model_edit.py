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
