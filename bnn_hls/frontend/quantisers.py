"""Quantisers and binary activations: QONNX Quant (the input, and multi-level hidden
activations), QONNX MultiThreshold (hidden activations), BipolarQuant, Sign,
Where(GreaterOrEqual(x, c), a, -a)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import onnx

from .. import ir
from ..errors import printable
from ..floatops import FloatOp, compose_affine64
from .attrs import attr_float, attr_floats, attr_int, attr_str, attr_strs
from .qonnx_ops import ROUNDING_MODES, tie_distance_tensor
from .refuse import refuse
from .state import ImportState
from .values import Value
from .values import ValueKind as K

# the widest hidden activation: thresholds per channel grow as 2**bits - 1
MAX_ACT_BITS = 8


def uniform_quantiser(
    node: onnx.NodeProto,
    scale: np.ndarray,
    zeropt: np.ndarray,
    bits_arr: np.ndarray,
    what: str,
    max_bits: int,
) -> tuple[int, float, float, str]:
    """A QONNX Quant's (scalar) bit width, scale, zero point and rounding mode, checked: 2 to
    max_bits bits, a positive finite scale, an integer zero point, a known rounding mode."""
    bits = float(bits_arr.reshape(-1)[0])
    if bits != int(bits) or not 2 <= bits <= max_bits:
        refuse(
            node,
            f"{what} bit width {bits:g} is not supported (2..{max_bits})",
            "a 1-bit quantiser is a QONNX BipolarQuant (+-s) or a MultiThreshold with one "
            "threshold ({0, s})"
            if bits == 1
            else f"quantise to 2..{max_bits} bits",
        )
    s, z = float(scale.reshape(-1)[0]), float(zeropt.reshape(-1)[0])
    if not (np.isfinite(s) and s > 0) or z != round(z):
        refuse(
            node,
            f"the {what} scale must be positive and finite and the zero point an integer "
            f"(scale {s:g}, zero point {z:g})",
            "re-export the quantiser: a negative scale can be folded into the next layer's weights",
        )
    mode = attr_str(node, "rounding_mode", "ROUND")
    if mode not in ROUNDING_MODES:
        refuse(
            node,
            f"rounding mode {mode!r} is not supported",
            hint=f"use one of {', '.join(ROUNDING_MODES)}",
        )
    return int(bits), s, z, mode


def uniform_codes(v: Value, scale: float, code_range: tuple[int, int]) -> Value:
    """A multi-level activation's output: integer codes in code_range standing for
    scale * code, the scale pending for the next layer's float ops."""
    return Value(
        K.LEVELS,
        v.onnx_shape,
        v.ir_shape,
        chain=[FloatOp("mul", {"a": np.full(1, scale, np.float32)})],
        pending_flatten=v.pending_flatten,
        nhwc=v.nhwc,
        code_range=code_range,
    )


class QuantiserOps(ImportState):
    """Quant, BipolarQuant, Sign, GreaterOrEqual, Where."""

    def quant(self, node: onnx.NodeProto, v: Value) -> Value:
        scale = np.asarray(self.const(node, 1, "scale"), np.float32)
        zeropt = np.asarray(self.const(node, 2, "zero point"), np.float32)
        bits_arr = np.asarray(self.const(node, 3, "bit width"))
        if v.kind is K.RAW_INT:
            refuse(node, "Cast the integer input to float before Quant")
        if v.kind in (K.ACC, K.ACC_FLOAT):
            return self.hidden_quant(node, v, scale, zeropt, bits_arr)
        if v.kind is not K.RAW_FLOAT and v.kind is not K.CAST_INT:
            refuse(
                node,
                "a quantiser applied to quantised values (binary or multi-level) again",
                hint="quantise each pre-activation once",
            )
        if scale.size != 1 or zeropt.size != 1 or bits_arr.size != 1:
            refuse(
                node,
                "per-channel input quantisation is not supported",
                hint="use one scale and zero point for the input",
            )
        bits, s, z, mode = uniform_quantiser(node, scale, zeropt, bits_arr, "input", 16)
        out = self.make_input_layer(
            v,
            "int",
            bits=bits,
            signed=bool(attr_int(node, "signed", 1)),
            narrow=bool(attr_int(node, "narrow", 0)),
            scale=s,
            zero_point=z,
            rounding=mode,
        )
        return replace(out, chain=[FloatOp("mul", {"a": np.full(1, s, np.float32)})])

    def hidden_quant(
        self,
        node: onnx.NodeProto,
        v: Value,
        scale: np.ndarray,
        zeropt: np.ndarray,
        bits_arr: np.ndarray,
    ) -> Value:
        """A multi-level activation after a hidden layer (Brevitas QuantIdentity/QuantReLU with
        2..8 bits): its float ops and this quantiser become thresholds in BatchShift; the next
        layer takes the integer codes, the scale goes into its float ops."""
        if scale.size != 1 or zeropt.size != 1 or bits_arr.size != 1:
            refuse(
                node,
                "a multi-level activation with a per-channel scale, zero point or bit width",
                hint="use one scale per tensor (Brevitas' default for activations)",
            )
        bits, s, z, mode = uniform_quantiser(
            node, scale, zeropt, bits_arr, "activation", MAX_ACT_BITS
        )
        self.info.pre_activations.append((node.input[0], "round", (s, z, mode)))
        v = self.flush_chain(v, "activation")
        layer = ir.Quantise(
            self.name("quantise"),
            v.ir_shape,
            v.ir_shape,
            "quantise",
            scale=s,
            zero_point=int(z),
            bits=bits,
            signed=bool(attr_int(node, "signed", 1)),
            narrow=bool(attr_int(node, "narrow", 0)),
            rounding=mode,
        )
        lo, hi = layer.out_range()
        if lo == hi:
            refuse(node, "the quantiser has a single level")
        self.emit(layer)
        out = uniform_codes(v, s, (lo, hi))
        return out  # a pending flatten stays pending: the dense layer permutes for it

    def staircase(self, node: onnx.NodeProto, v: Value) -> Value:
        """A piecewise-approximation activation (staircase.py found it and made it one node):
        its float ops and the staircase become thresholds in BatchShift; the next layer takes
        the codes and maps them to the staircase's values in fixed point (linear.py)."""
        thresholds = np.asarray(attr_floats(node, "thresholds"), np.float32)
        coeffs = np.asarray(attr_floats(node, "coeffs"), np.float64)
        ties = tuple(attr_strs(node, "ties"))
        offset = attr_float(node, "offset", 0.0)
        if v.kind not in (K.ACC, K.ACC_FLOAT):
            refuse(
                node,
                "a piecewise-approximation activation must follow a linear layer (and its "
                "BatchNorm)",
                "the first layer's input takes an 8-bit or binary quantiser",
            )
        for name in attr_strs(node, "sign_inputs"):
            self.info.pre_activations.append((name, "sign", None))
        for t, tie in zip(thresholds, ties):  # a Where term decides at x = v
            if tie in ("gt", "ge"):
                self.info.pre_activations.append((node.input[0], "at", (float(t), 0.0, "")))
        v = self.flush_chain(v, "activation")
        n = thresholds.size
        # the value with k thresholds reached: the first k terms at +beta, the others at -beta
        values = np.array(
            [offset + coeffs[:k].sum() - coeffs[k:].sum() for k in range(n + 1)], np.float64
        )
        self.emit(
            ir.Staircase(
                self.name("staircase"),
                v.ir_shape,
                v.ir_shape,
                "staircase",
                thresholds=thresholds,
                ties=ties,
                values=values,
            )
        )
        out = Value(
            K.LEVELS,
            v.onnx_shape,
            v.ir_shape,
            pending_flatten=v.pending_flatten,
            nhwc=v.nhwc,
            code_range=(0, n),
            level_values=tuple(float(x) for x in values),
        )
        return out  # a pending flatten stays pending: the dense layer permutes for it

    def greater_or_equal(self, node: onnx.NodeProto, v: Value) -> Value:
        """x >= c: half of the Where(GreaterOrEqual(x, c), a, -a) activation."""
        if node.input[0] not in self.values:
            refuse(node, "only x >= constant is supported")
        c = self.const(node, 1, "comparison constant")
        if c.size != 1:
            refuse(node, "the comparison constant must be a scalar")
        return replace(v, cmp=True, cmp_offset=float(c.reshape(-1)[0]), cmp_source=node.input[0])

    def where(self, node: onnx.NodeProto, v: Value) -> Value:
        if not v.cmp or node.input[0] not in self.values:
            refuse(node, "only Where(GreaterOrEqual(x, c), a, -a) is supported")
        a = np.asarray(self.const(node, 1, "value if true"), np.float32)
        b = np.asarray(self.const(node, 2, "value if false"), np.float32)
        if (
            a.size != 1
            or b.size != 1
            or not (a.reshape(-1)[0] > 0 and b.reshape(-1)[0] == -a.reshape(-1)[0])
        ):
            refuse(node, "Where must choose between a and -a (a > 0), e.g. +1 and -1")
        inner = replace(v, cmp=False)
        if v.cmp_offset != 0.0:
            if inner.kind in (K.RAW_FLOAT, K.CAST_INT):
                self.host_ops.append(FloatOp("sub", {"a": np.float32(v.cmp_offset)}))
            else:
                inner.chain = [
                    *inner.chain,
                    FloatOp("sub", {"a": np.full(1, v.cmp_offset, np.float32)}),
                ]
        out = self.activation(node, inner, "ge", src=v.cmp_source)
        scale = float(a.reshape(-1)[0])
        if scale != 1.0:
            out.chain = [FloatOp("mul", {"a": np.full(1, scale, np.float32)})]
        return out

    def multithreshold(self, node: onnx.NodeProto, v: Value) -> Value:
        """QONNX MultiThreshold after a linear layer: out_scale * #{n : x >= T[c, n]} +
        out_bias. Bipolar (one threshold, out_bias = -out_scale / 2: values +-s) is a binary
        activation, the thresholds subtracted first (x >= T exactly when x - T >= 0 in
        float32), s into the next layer's float ops; otherwise out_bias / out_scale is an
        integer, the lowest code, and the codes are multi-level like a Quant's (value =
        out_scale * code; two levels too, e.g. {0, s}), at most MAX_ACT_BITS wide."""
        if v.kind not in (K.ACC, K.ACC_FLOAT):
            refuse(
                node,
                "a MultiThreshold is supported as the activation of a linear layer (after its "
                "BatchNorm), not on the input or on another activation",
                "quantise the input with an 8-bit Quant or a binary activation",
            )
        t = np.asarray(self.const(node, 1, "thresholds"), np.float64)
        if t.ndim != 2 or t.shape[1] < 1 or not np.all(np.isfinite(t)):
            refuse(node, f"thresholds of shape {t.shape}: expected (channels or 1, N), finite")
        scale = attr_float(node, "out_scale", 1.0)
        bias = attr_float(node, "out_bias", 0.0)
        if not (np.isfinite(scale) and np.isfinite(bias) and 1e-30 < scale < 1e30):
            refuse(
                node,
                f"out_scale {scale} / out_bias {bias}: the scale must be positive and finite, "
                "between 1e-30 and 1e30",
            )
        layout = attr_str(node, "data_layout", "NCHW")
        if layout not in ("NCHW", "NHWC"):
            refuse(node, f"data_layout {printable(layout, 20)!r} (NCHW or NHWC)")
        channels = v.ir_shape[-1]
        per_channel = t.shape[0] != 1
        axis_differs = self.multithreshold_axis(node, v) != self.channel_axis(v)
        if per_channel and (t.shape[0] != channels or axis_differs):
            refuse(
                node,
                f"{t.shape[0]} threshold rows for a tensor of shape {v.onnx_shape} "
                f"(data_layout {attr_str(node, 'data_layout', 'NCHW')})",
                "give one row per channel of the conv or dense layer before it, or one row for all",
            )
        t32 = np.broadcast_to(t.astype(np.float32), (channels, t.shape[1])).copy()
        self.info.tensor_ranks[node.input[0]] = len(v.onnx_shape)
        # where the source's output changes: inputs that put an element on a threshold are ties
        self.info.pre_activations.append((tie_distance_tensor(node), "sign", None))
        v = self.flush_chain(v, "activation")
        if t.shape[1] == 1 and 2 * bias == -scale:  # bipolar, +-scale/2: bits
            v = replace(v, chain=[FloatOp("sub", {"a": t32[:, 0]})])
            v = self.flush_chain(v, "activation")
            self.emit(ir.Sign(self.name("sign"), v.ir_shape, v.ir_shape))
            half = scale / 2
            chain = [FloatOp("mul", {"a": np.full(1, half, np.float32)})] if half != 1 else []
            return Value(
                K.BITS,
                v.onnx_shape,
                v.ir_shape,
                chain=chain,
                pending_flatten=v.pending_flatten,
                nhwc=v.nhwc,
            )
        ratio = float(np.float32(bias) / np.float32(scale))  # as the source computes it
        lo = round(ratio)
        if abs(ratio - lo) > 1e-6 * max(1.0, abs(ratio)):
            refuse(
                node,
                f"out_bias {bias} is not a whole multiple of out_scale {scale}",
                "the levels must be out_scale x integers (FINN's signed outputs: out_bias = "
                "-2**(bits-1) x out_scale), or bipolar (one threshold, out_bias = -out_scale/2)",
            )
        limit = 1 << MAX_ACT_BITS
        if t.shape[1] >= limit or not -limit <= lo <= lo + t.shape[1] < limit:
            refuse(
                node,
                f"{t.shape[1]} thresholds with the lowest code {lo}: codes beyond "
                f"{MAX_ACT_BITS} bits",
                f"at most {limit - 1} thresholds, codes within -{limit} .. {limit - 1}",
            )
        layer = ir.ChannelThresholds(
            self.name("thresholds"), v.ir_shape, v.ir_shape, "multithreshold",
            thresholds=t32, code_lo=lo,
        )  # fmt: skip
        self.emit(layer)
        out = uniform_codes(v, scale, layer.out_range())
        return out  # a pending flatten stays pending: the dense layer permutes for it

    @staticmethod
    def multithreshold_axis(node: onnx.NodeProto, v: Value) -> int:
        """The axis of the ONNX tensor a MultiThreshold takes as its channels (QONNX: axis 1
        of a 2-D or NCHW tensor, axis 3 of NHWC, the last axis otherwise)."""
        rank = len(v.onnx_shape)
        if rank == 4:
            return 3 if attr_str(node, "data_layout", "NCHW") == "NHWC" else 1
        return 1 if rank == 2 else rank - 1

    @staticmethod
    def channel_axis(v: Value) -> int | None:
        """The axis of the ONNX tensor that holds the IR's channels (None: a flattened
        feature map, whose features mix channels and pixels)."""
        rank = len(v.onnx_shape)
        if rank == 4:
            return 3 if v.nhwc else 1
        if rank == 2 and not v.pending_flatten:
            return 1
        return None

    def activation(self, node: onnx.NodeProto, v: Value, how: str, src: str = "") -> Value:
        """Sign / BipolarQuant / Where(GreaterOrEqual): the value becomes bipolar bits."""
        scale_chain: list[FloatOp] = []
        if how == "bipolar":
            scale = np.asarray(self.const(node, 1, "scale"), np.float32)
            if np.any(scale <= 0):
                refuse(node, "BipolarQuant scale must be positive")
            if not np.all(scale == 1):
                scale_chain = [FloatOp("mul", {"a": self.channel_vector(node, v, scale)})]
        src = src or node.input[0]
        if v.kind in (K.RAW_FLOAT, K.CAST_INT):
            self.info.pre_activations.append((src, "sign" if how == "sign" else "ge", None))
            return replace(self.make_input_layer(v, "bipolar"), chain=scale_chain)
        if v.kind is K.BITS:
            # sign(a * v + b) of bipolar v keeps the bits when a > |b|: a positive multiple,
            # or Larq's ste_sign as tf2onnx writes it, Sign(Add(Sign(x), 0.1)) (whose b > 0
            # also maps the inner Sign's 0 to +1: sign(0) = +1, as here)
            a, b = compose_affine64(v.chain, v.ir_shape[-1])
            if np.all(a > np.abs(b)):
                return replace(v, chain=scale_chain)
            refuse(
                node,
                "this quantiser changes binary values (its input is a * x + b of the bits with "
                "a <= |b| or a negative scale)",
                "binarise each pre-activation once; a Sign of a Sign plus a small positive "
                "offset (Larq's ste_sign) is fine",
            )
        if v.kind is K.LEVELS:
            refuse(
                node,
                "binarising a multi-level activation again is not supported",
                "quantise each pre-activation once",
            )
        if v.kind in (K.QUANTISED, K.RAW_INT):
            refuse(
                node,
                "binarising the quantised input again is not supported",
                "quantise the input once (8-bit Quant or a binary activation)",
            )
        if v.kind not in (K.ACC, K.ACC_FLOAT):
            refuse(node, "unexpected activation here")
        self.info.pre_activations.append((src, "sign" if how == "sign" else "ge", None))
        v = self.flush_chain(v, "activation")
        self.emit(ir.Sign(self.name("sign"), v.ir_shape, v.ir_shape))
        out = Value(
            K.BITS,
            v.onnx_shape,
            v.ir_shape,
            chain=scale_chain,
            pending_flatten=v.pending_flatten,
            nhwc=v.nhwc,
        )
        return out
