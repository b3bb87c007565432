"""Normalisation and pooling: BatchNormalization, elementwise ops by constants (scales,
biases; on the raw input they run on the host), MaxPool."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import onnx

from .. import ir
from ..floatops import FloatOp, compose_affine64
from .attrs import attr_float, attr_int, attr_ints, attr_str
from .refuse import refuse
from .state import ImportState
from .values import Value
from .values import ValueKind as K


class NormalisationOps(ImportState):
    """Mul/Add/Sub/Div by constants, BatchNormalization, MaxPool."""

    def elementwise(self, node: onnx.NodeProto, v: Value) -> Value:
        op = node.op_type
        const_first = node.input[0] not in self.values
        c = self.const(node, 0 if const_first else 1, "constant operand")
        if v.kind in (K.RAW_FLOAT, K.CAST_INT):
            return self.host_op(node, v, c, const_first)
        if v.kind is K.RAW_INT:
            refuse(node, "integer input must be Cast to float first")
        if v.cmp or v.kind is K.ACC_FLOAT:
            refuse(node, "unexpected elementwise op here")
        vec = self.channel_vector(node, v, c)
        kind = {"Mul": "mul", "Add": "add", "Sub": "sub", "Div": "div"}[op]
        if const_first:
            if op == "Div":
                refuse(node, "constant / tensor is not supported")
            kind = "rsub" if op == "Sub" else kind
        if kind == "div" and np.any(vec == 0):
            refuse(node, "division by zero", "the divisor constant has a 0; check the export")
        return replace(v, chain=[*v.chain, FloatOp(kind, {"a": vec})])

    def host_op(self, node: onnx.NodeProto, v: Value, c: np.ndarray, const_first: bool) -> Value:
        """A float op on the raw input: run on the host before quantisation (ONNX layout)."""
        op = node.op_type
        if const_first and op == "Div":
            refuse(node, "constant / input is not supported")
        kind = {"Mul": "mul", "Add": "add", "Sub": "sub", "Div": "div"}[op]
        if const_first and op == "Sub":
            kind = "rsub"
        c = np.asarray(c, np.float32)
        try:
            shape = np.broadcast_shapes(c.shape, v.onnx_shape)
        except ValueError:
            refuse(node, f"constant of shape {c.shape} does not broadcast to the input")
        if shape != v.onnx_shape:
            refuse(node, "constant would grow the input tensor")
        # keep the constant broadcastable against (N, ...) in ONNX layout
        a = c.reshape((1,) * (len(v.onnx_shape) - c.ndim) + c.shape) if c.ndim else c
        self.host_ops.append(FloatOp(kind, {"a": a}))
        return v

    def batchnorm(self, node: onnx.NodeProto, v: Value) -> Value:
        self.require_nchw(node, v)
        if attr_int(node, "training_mode", 0):
            refuse(node, "training-mode BatchNormalization", hint="export the model in eval() mode")
        if len([o for o in node.output if o]) > 1:
            refuse(
                node,
                "BatchNormalization with running-stat outputs",
                hint="export the model in eval() mode",
            )
        if v.kind in (K.RAW_FLOAT, K.CAST_INT, K.RAW_INT) or v.cmp:
            refuse(node, "BatchNormalization on the raw input is not supported")
        params = {}
        for i, key in enumerate(("scale", "bias", "mean", "var"), start=1):
            vec = np.asarray(self.const(node, i, f"BatchNorm {key}"), np.float32).reshape(-1)
            params[key] = self.channel_vector(
                node,
                v,
                vec.reshape(1, -1, *([1] * (len(v.onnx_shape) - 2)))
                if len(v.onnx_shape) >= 2
                else vec,
            )
        if np.any(params["var"] < 0):
            refuse(node, "negative running variance")
        eps = float(np.float32(attr_float(node, "epsilon", 1e-5)))
        return replace(v, chain=[*v.chain, FloatOp("bn", params, eps)])

    def maxpool(self, node: onnx.NodeProto, v: Value) -> Value:
        self.require_nchw(node, v)
        if len([o for o in node.output if o]) > 1:
            refuse(node, "MaxPool with an Indices output is not supported")
        if len(v.onnx_shape) != 4 or v.pending_flatten:
            refuse(node, "MaxPool needs a (N, C, H, W) tensor")
        if v.kind in (K.RAW_FLOAT, K.CAST_INT, K.RAW_INT, K.QUANTISED):
            refuse(node, "MaxPool on the input image is not supported")
        k = attr_ints(node, "kernel_shape", [])
        s = attr_ints(node, "strides", [1] * len(k))
        pads = attr_ints(node, "pads", [0, 0, 0, 0])
        if len(k) != 2 or any(pads) or attr_ints(node, "dilations", [1, 1]) != [1, 1]:
            refuse(node, "only 2-D MaxPool without padding or dilation is supported")
        if attr_str(node, "auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
            refuse(node, "MaxPool auto_pad is not supported")
        _, c, h, w = v.onnx_shape
        oh, ow = (h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1
        if attr_int(node, "ceil_mode", 0) and ((h - k[0]) % s[0] or (w - k[1]) % s[1]):
            refuse(node, "MaxPool ceil_mode=1 with a partial last window is not supported")
        if oh < 1 or ow < 1:
            refuse(node, "MaxPool window larger than its input")
        if v.kind in (K.BITS, K.LEVELS):
            if v.chain:
                a, b = compose_affine64(v.chain, c)
                if not (np.all(a > 0) and np.all(b == 0)):
                    refuse(node, "MaxPool of quantised values with a negative scale")
            value_type = "bit" if v.kind is K.BITS else "int"
        else:
            v = self.flush_chain(v, "pool")
            value_type = "float" if v.kind is K.ACC_FLOAT else "int"
        self.emit(
            ir.MaxPool(
                self.name("maxpool"),
                v.ir_shape,
                (oh, ow, c),
                "maxpool",
                kernel=(k[0], k[1]),
                stride=(s[0], s[1]),
                value_type=value_type,
                and_channels=np.zeros(c, bool),
            )
        )
        return replace(v, onnx_shape=(1, c, oh, ow), ir_shape=(oh, ow, c))

    def softmax(self, node: onnx.NodeProto, v: Value) -> Value:
        """A final Softmax / LogSoftmax over the classes (Keras and tf2onnx keep it): a host
        op on the scores; it keeps their order, so the device's top-1 is unchanged."""
        if node.output[0] != self.info.output_name or v.kind is not K.ACC:
            refuse(
                node,
                "Softmax is supported only as the model's last op, on the class scores",
                "remove it, or keep it last",
            )
        rank = len(v.onnx_shape)
        axis = attr_int(node, "axis", -1 if self.opset >= 13 else 1)
        if axis % rank != rank - 1 or (int(np.prod(v.onnx_shape[1:-1])) != 1):
            refuse(node, f"Softmax over axis {axis} of {v.onnx_shape}: only over the classes")
        kind = "softmax" if node.op_type == "Softmax" else "logsoftmax"
        return replace(v, chain=[*v.chain, FloatOp(kind)])
