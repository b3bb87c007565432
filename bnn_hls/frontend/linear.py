"""Linear layers: Conv, MatMul, Gemm with binary (+-s) weights."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import onnx

from .. import ir
from ..floatops import FloatOp, compose_affine64
from ..packing import host_preprocess
from .attrs import attr_float, attr_int, attr_ints, attr_str
from .fixedpoint import MAX_STAIRCASE_LEVELS, rounding_report, to_fixed_point
from .refuse import refuse
from .state import ImportState
from .values import Value
from .values import ValueKind as K


class LinearOps(ImportState):
    """Conv, MatMul, Gemm."""

    def linear(self, node: onnx.NodeProto, v: Value) -> Value:
        op = node.op_type
        self.pending_fixed_point.clear()
        if node.input[0] not in self.values:
            refuse(node, "the weights must be the second operand")
        host_scale = 1.0
        if v.kind is K.CAST_INT:  # an integer image cast to float (and scaled) into the layer
            host_scale = self.integer_input_scale(node)
            v = replace(v, kind=K.RAW_INT)
        if v.kind is K.RAW_INT:  # integer image input straight into the first layer
            signed = self.in_elem in (onnx.TensorProto.INT8, onnx.TensorProto.INT16)
            in_bits = 8 if self.in_elem in (onnx.TensorProto.INT8, onnx.TensorProto.UINT8) else 16
            v = self.make_input_layer(v, "int", bits=in_bits, signed=signed, scale=1.0)
        in_scale, in_range = self.linear_input(node, v)
        in_scale *= host_scale
        input_kind = "bit" if v.kind is K.BITS else "int"
        input_levels, in_step = self.mapped_input(node, v)
        in_scale *= in_step
        if input_levels.size:
            in_range = (int(input_levels.min()), int(input_levels.max()))
        bias: np.ndarray | None = None
        alpha = 1.0
        layer_w: ir.Linear
        if op == "Conv":
            out, layer_w, scale = self.conv(node, v)
            if len(node.input) > 2 and node.input[2]:
                bias = np.asarray(self.const(node, 2, "bias"), np.float32).reshape(-1)
        else:
            if len(v.onnx_shape) != 2:
                refuse(
                    node,
                    f"{op} input has rank {len(v.onnx_shape)}; flatten it to (N, features) first",
                )
            w = np.asarray(self.const(node, 1, "weight"))
            if w.ndim != 2:
                refuse(node, f"{op} weight has rank {w.ndim}; expected 2")
            if op == "Gemm":
                if attr_int(node, "transA", 0):
                    refuse(node, "Gemm with transA=1 is not supported")
                w = w if attr_int(node, "transB", 0) else w.T
                alpha = attr_float(node, "alpha", 1.0)
                if len(node.input) > 2 and node.input[2]:
                    bias = (
                        attr_float(node, "beta", 1.0)
                        * np.asarray(self.const(node, 2, "bias"), np.float32)
                    ).reshape(-1)
            else:
                w = w.T
            features = v.onnx_shape[1]
            if w.shape[1] != features:
                refuse(node, f"weight shape {w.shape} does not match {features} inputs")
            bits, levels, scale = self.weight_levels(node, w)
            v, perm = self.emit_flatten_for_dense(v, input_kind)
            if perm is not None:
                bits = np.ascontiguousarray(bits[:, perm])
                levels = np.ascontiguousarray(levels[:, perm]) if levels.size else levels
            n_out = bits.shape[0]
            layer_w = ir.Dense(
                self.name("dense"),
                v.ir_shape,
                (n_out,),
                "dense",
                weights=bits,
                input_kind=input_kind,
                input_range=in_range,
                weight_levels=levels,
            )
            out = Value(K.ACC, (1, n_out), (n_out,))
        if input_levels.size:
            layer_w = replace(
                layer_w,
                input_levels=input_levels,
                input_code_lo=v.code_range[0],
                input_range=in_range,
            )
        if self.pending_fixed_point:
            layer_w = replace(layer_w, fixed_point=dict(self.pending_fixed_point))
            self.pending_fixed_point.clear()
        self.emit(layer_w)
        mul = in_scale * alpha * scale
        chain: list[FloatOp] = []
        if np.any(mul != 1.0):
            m = mul.astype(np.float32)
            chain.append(FloatOp("mul", {"a": m if np.any(m != m[0]) else m[:1]}))
        if bias is not None:
            if bias.size not in (1, layer_w.out_channels):
                refuse(node, f"bias of size {bias.size} for {layer_w.out_channels} outputs")
            if np.any(bias != 0):
                chain.append(FloatOp("add", {"a": bias}))
        out.chain = chain
        return out

    def integer_input_scale(self, node: onnx.NodeProto) -> float:
        """The float ops between an integer image's Cast and the first layer, when they are one
        positive scale s: the device takes the integers and the layer's accumulator is scaled
        by s (an offset would not survive the zero padding of a conv: refused)."""
        shape = self.in_shape
        probe = np.stack([np.zeros(shape), np.ones(shape)]).astype(np.float32)
        ops = [op.to_json() for op in self.host_ops]
        spec = {"host_ops": ops, "layout_steps": self.host_layout}
        y = host_preprocess(probe, spec).astype(np.float64)
        b, a = y[0].reshape(-1), (y[1] - y[0]).reshape(-1)
        if not (np.all(b == 0) and np.all(a == a[0]) and a[0] > 0):
            refuse(
                node,
                "the integer input reaches this layer through float ops that are not one "
                "positive scale (an offset, or a scale per element)",
                "quantise the input (an 8-bit Quant, or a binary activation), or feed the "
                "integers to the first layer with at most a positive scale",
            )
        self.host_ops.clear()
        # the layout steps keep their order; with no float ops left they all come first
        self.host_layout[:] = [(0, kind, arg) for _, kind, arg in self.host_layout]
        return float(a[0])

    def linear_input(self, node: onnx.NodeProto, v: Value) -> tuple[float, tuple[int, int]]:
        """Check the linear layer's input; return its float scale and integer range."""
        if v.kind in (K.RAW_FLOAT, K.CAST_INT):
            refuse(
                node,
                "the first layer's input is not quantised (a full-precision first layer)",
                hint="quantise the input: a QONNX Quant / BipolarQuant, a Sign (Larq: "
                "input_quantizer='ste_sign' on the first layer), or an 8-bit integer input "
                "tensor",
            )
        if v.kind in (K.ACC, K.ACC_FLOAT):
            refuse(
                node,
                "two linear layers follow each other without a binary activation between them",
                hint="insert a sign/BipolarQuant activation",
            )
        if v.kind not in (K.BITS, K.QUANTISED, K.RAW_INT, K.LEVELS):
            refuse(node, "unexpected input to a linear layer")
        a, b = compose_affine64(v.chain, v.ir_shape[-1])
        if np.any(b != 0) or np.any(a != a[0]) or a[0] == 0:
            values = (
                "binary inputs must be +-s with one s"
                if v.kind is K.BITS
                else "the levels of a quantised input must be s times its codes, with one s"
            )
            refuse(
                node,
                f"the layer's input has a per-channel scale or an offset; {values}",
                "remove the Add/Mul/Sub between the activation and this layer, or fold it "
                "into the quantiser (its zero point) or the layer's weights",
            )
        return float(a[0]), self.input_range(v)

    def mapped_input(self, node: onnx.NodeProto, v: Value) -> tuple[np.ndarray, float]:
        """A staircase activation's values in fixed point (the integer of each code, and the
        step); (empty, 1.0) for every other input."""
        if v.kind is not K.LEVELS or v.level_values is None:
            return np.zeros(0, np.int64), 1.0
        values = np.asarray(v.level_values, np.float64)
        ints, step = to_fixed_point(values, self.coeff_bits)
        if np.any(np.diff(ints) <= 0):
            refuse(
                node,
                f"the input activation's levels {', '.join(f'{x:.6g}' for x in values)} are "
                f"not distinct at {self.coeff_bits} coefficient bits",
                "raise --coeff-bits",
            )
        self.pending_fixed_point["input"] = rounding_report(values, ints, step, self.coeff_bits)
        return ints, step

    def input_range(self, v: Value) -> tuple[int, int]:
        """The integer range of a linear layer's input values."""
        if v.kind is K.LEVELS:
            return v.code_range
        return self.input_layer.out_range() if self.input_layer else (0, 1)

    def weight_levels(
        self, node: onnx.NodeProto, w: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(sign bits, integer levels or an empty array, per-output scale) of weights that are
        +-s per output channel (binary), or s times small integers (a multi-bit Quant)."""
        w = np.asarray(w, dtype=np.float64)
        flat = w.reshape(w.shape[0], -1)
        mag = np.abs(flat)
        s = mag[:, 0].copy() if flat.shape[1] else np.ones(flat.shape[0])
        if np.all(np.isfinite(flat)) and np.all(s > 0) and np.all(mag == s[:, None]):
            return (flat > 0).astype(np.uint8).reshape(w.shape), np.zeros(0, np.int16), s
        found = integer_levels(flat) if np.all(np.isfinite(flat)) else None
        if found is not None:
            levels, step = found
            bits = (levels >= 0).astype(np.uint8).reshape(w.shape)
            return bits, levels.astype(np.int16).reshape(w.shape), step
        values = np.unique(flat)
        # a piecewise approximation: few real levels, in a model with staircase activations
        # (in a binary model a stray value is an export mistake, refused below)
        if self.staircases and np.all(np.isfinite(flat)) and values.size <= MAX_STAIRCASE_LEVELS:
            return self.staircase_weights(node, w, values)
        # full precision: a weight one ulp off +-1 must not print as "1"
        shown = ", ".join(f"{x:.9g}" for x in values[:6]) + (", ..." if values.size > 6 else "")
        refuse(
            node,
            f"weights are not binary: {values.size} distinct values ({shown}); "
            "each output channel needs weights +s or -s, or s times integers of at most "
            f"{MAX_WEIGHT_BITS} bits (or, in a model with piecewise-approximation activations, "
            f"at most {MAX_STAIRCASE_LEVELS} distinct values)",
            "binarise the weights (BipolarQuant, or sign() before export), or quantise "
            "them (a QONNX Quant of 2..8 bits)",
        )

    def staircase_weights(
        self, node: onnx.NodeProto, w: np.ndarray, values: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Weights with a few real levels (a piecewise approximation, docs/pa.md): integers
        in fixed point with one step for the tensor (fixedpoint.py)."""
        ints, step = to_fixed_point(w, self.coeff_bits)
        if np.unique(ints).size != values.size:
            shown = ", ".join(f"{x:.9g}" for x in values[:6]) + (", ..." if values.size > 6 else "")
            refuse(
                node,
                f"the weights' {values.size} levels ({shown}) are not distinct at "
                f"{self.coeff_bits} coefficient bits",
                "raise --coeff-bits",
            )
        levels = np.rint(values / step).astype(np.int64)
        self.pending_fixed_point["weights"] = rounding_report(values, levels, step, self.coeff_bits)
        bits = (ints >= 0).astype(np.uint8)
        return bits, ints.astype(np.int16), np.full(w.shape[0], step)

    def emit_flatten_for_dense(self, v: Value, input_kind: str) -> tuple[Value, np.ndarray | None]:
        """Emit a pending Flatten; return the column permutation for the dense weights."""
        if not v.pending_flatten:
            return v, None
        if v.nhwc:  # flattened channels-last: already the stream order
            return self.emit_flatten(v, input_kind), None
        h, w, c = v.ir_shape
        # stream index j = (y * W + x) * C + ch  <-  ONNX flatten index ch * H * W + y * W + x
        ys, xs, cs = np.meshgrid(np.arange(h), np.arange(w), np.arange(c), indexing="ij")
        perm = (cs * h * w + ys * w + xs).reshape(-1)
        return self.emit_flatten(v, input_kind), perm

    def conv(self, node: onnx.NodeProto, v: Value) -> tuple[Value, ir.Conv, np.ndarray]:
        self.require_nchw(node, v)
        if len(v.onnx_shape) != 4 or v.pending_flatten:
            refuse(
                node,
                f"Conv input has shape {v.onnx_shape}; only 2-D convolutions on "
                "(N, C, H, W) are supported",
            )
        w = np.asarray(self.const(node, 1, "weight"))
        h, wd, c = v.ir_shape  # the unpadded size (a Pad node only adds to v.pad)
        if w.ndim != 4:
            refuse(node, "only 2-D convolutions are supported")
        if attr_int(node, "group", 1) != 1:  # type: ignore[arg-type]
            refuse(node, "grouped/depthwise convolution is not supported", hint="use group=1")
        if w.shape[1] != c:
            refuse(node, f"weight shape {w.shape} does not match {c} input channels")
        kh, kw = w.shape[2], w.shape[3]
        dil = attr_ints(node, "dilations", [1, 1])
        if dil != [1, 1]:
            refuse(node, "dilated convolution is not supported")
        sh, sw = attr_ints(node, "strides", [1, 1])
        auto_pad = attr_str(node, "auto_pad", "NOTSET")
        if auto_pad in ("NOTSET", "VALID"):
            pads = attr_ints(node, "pads", [0, 0, 0, 0]) if auto_pad == "NOTSET" else [0] * 4
            top, left, bottom, right = pads[0], pads[1], pads[2], pads[3]
        elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            outs = [-(-h // sh), -(-wd // sw)]
            tot = [max(0, (outs[0] - 1) * sh + kh - h), max(0, (outs[1] - 1) * sw + kw - wd)]
            small = [t // 2 for t in tot]
            big = [t - s for t, s in zip(tot, small)]
            (top, left), (bottom, right) = (
                (small, big) if auto_pad == "SAME_UPPER" else (big, small)
            )
        else:
            refuse(node, f"auto_pad {auto_pad!r} is not supported")
        pad_value = 0
        if v.pad is not None:
            (pt, pl, pb, pr), pad_value = v.pad
            if pad_value != 0 and any((top, left, bottom, right)):
                refuse(node, "a Pad node with a non-zero value followed by a padded Conv")
            top, left, bottom, right = top + pt, left + pl, bottom + pb, right + pr
        if min(top, left, bottom, right) < 0 or max(top, bottom) >= kh or max(left, right) >= kw:
            refuse(
                node,
                f"padding {(top, left, bottom, right)} must be smaller than the kernel {kh}x{kw}",
            )
        oh = (h + top + bottom - kh) // sh + 1
        ow = (wd + left + right - kw) // sw + 1
        if oh < 1 or ow < 1:
            refuse(node, f"the kernel {kh}x{kw} does not fit the {h}x{wd} input")
        bits, levels, scale = self.weight_levels(node, w)
        layer = ir.Conv(
            self.name("conv"),
            v.ir_shape,
            (oh, ow, w.shape[0]),
            "conv",
            weights=np.ascontiguousarray(bits.transpose(0, 2, 3, 1)),
            weight_levels=np.ascontiguousarray(levels.transpose(0, 2, 3, 1))
            if levels.size
            else levels,
            input_kind="bit" if v.kind is K.BITS else "int",
            input_range=self.input_range(v),
            kernel=(kh, kw),
            stride=(sh, sw),
            pads=(top, left, bottom, right),
            pad_value=pad_value,
        )
        return Value(K.ACC, (1, w.shape[0], oh, ow), (oh, ow, w.shape[0])), layer, scale


MAX_WEIGHT_BITS = 8


def integer_levels(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Per output channel (rows), a step d and integers n with float32(d * n) equal to every
    weight, the product taken in float32 or in exact arithmetic from one real step (exporters
    compute s * n in float64 or float32 and store float32), |n| < 2**(MAX_WEIGHT_BITS - 1): the
    levels of a uniform weight quantiser.
    The step is the smallest magnitude divided by 1..16 (a channel need not hold the level
    +-1) or the smallest gap between two of its values divided by 1..4 (a channel whose codes
    are all large, e.g. 100..127). None when a channel has no such step (full-precision or
    irregular weights)."""
    limit = 1 << (MAX_WEIGHT_BITS - 1)
    levels = np.zeros(flat.shape, np.int64)
    steps = np.ones(flat.shape[0])
    w32 = flat.astype(np.float32)
    if not np.array_equal(w32.astype(np.float64), flat):
        return None
    for c, row in enumerate(flat):
        found = channel_step(row, w32[c], limit)
        if found is None:
            return None
        if found[0].any():
            levels[c], steps[c] = found
    return levels, steps


def one_real_step(row32: np.ndarray, n: np.ndarray) -> bool:
    """Whether one real step D rounds to every weight as float32(D * n): the intervals of D
    that round to each weight (its float32 rounding interval over |n|) share a point. Two
    distinct float32 weights with the same n never do (a weight one ulp off +-1 stays
    refused); 0.3 and 0.9 = float32(0.3 * 3), computed in float64, do."""
    mask = n != 0
    if np.any(row32[~mask] != 0):
        return False  # a weight rounded to level 0 must be 0
    w = np.abs(row32[mask]).astype(np.float64)
    k = np.abs(n[mask]).astype(np.float64)
    w32 = np.abs(row32[mask])
    down = w - np.nextafter(w32, np.float32(0)).astype(np.float64)
    up = np.nextafter(w32, np.float32(np.inf)).astype(np.float64) - w
    # strictly inside: a D on an interval's end rounds to one side only (half to even)
    return bool(np.max((w - down / 2) / k) < np.min((w + up / 2) / k))


def channel_step(row: np.ndarray, row32: np.ndarray, limit: int) -> tuple[np.ndarray, float] | None:
    """(integers, step) of one output channel, or None; an all-zero channel: zeros, step 1."""
    nonzero = np.abs(row[row != 0])
    if nonzero.size == 0:
        return np.zeros(row.shape, np.int64), 1.0
    smallest = float(nonzero.min())
    gaps = np.diff(np.unique(row))
    candidates = [smallest / k for k in range(1, 17)]
    if gaps.size:
        candidates += [float(gaps.min()) / k for k in range(1, 5)]
    for d in candidates:
        n = np.round(row / d)
        if np.abs(n).max() >= limit:
            continue
        in32 = np.float32(d) * n.astype(np.float32)
        if np.array_equal(in32, row32) or one_real_step(row32, n):
            return n.astype(np.int64), float(np.float32(d))
    return None
