"""Layout and shape chains: Reshape/Flatten/Squeeze/Unsqueeze, Transpose, Pad, and the ops
that change nothing here (Identity, Dropout, Cast)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import onnx

from ..floatops import compose_affine64
from .attrs import attr_int, attr_ints, attr_str
from .refuse import refuse
from .state import ImportState
from .values import Value
from .values import ValueKind as K


class LayoutOps(ImportState):
    """Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Pad, Identity, Dropout, Cast."""

    def passthrough(self, node: onnx.NodeProto, v: Value) -> Value:
        """Identity, Dropout (inference): nothing changes."""
        return v

    def cast(self, node: onnx.NodeProto, v: Value) -> Value:
        """A Cast of the integer image input to float marks it; other casts change nothing
        the IR sees."""
        return replace(v, kind=K.CAST_INT) if v.kind is K.RAW_INT else v

    def reshape(self, node: onnx.NodeProto, v: Value) -> Value:
        op = node.op_type
        target: tuple[int, ...]
        if op == "Flatten":
            axis = attr_int(node, "axis", 1)
            if axis < 0:
                axis += len(v.onnx_shape)
            target = (int(np.prod(v.onnx_shape[:axis])), int(np.prod(v.onnx_shape[axis:])))
        elif op == "Reshape":
            shape = [int(x) for x in self.const(node, 1, "shape").reshape(-1)]
            allowzero = attr_int(node, "allowzero", 0)
            shape = [
                v.onnx_shape[i] if (x == 0 and not allowzero) else x for i, x in enumerate(shape)
            ]
            try:
                target = np.empty(v.onnx_shape, dtype=np.uint8).reshape(shape).shape
            except ValueError:
                refuse(node, f"cannot reshape {v.onnx_shape} to {shape}")
        else:
            axes = node.input[1] if len(node.input) > 1 else None
            ax = (
                self.const(node, 1, "axes").reshape(-1).tolist()
                if axes
                else attr_ints(node, "axes", [])
            )
            arr = np.empty(v.onnx_shape, dtype=np.uint8)
            try:
                res = (
                    np.squeeze(arr, axis=tuple(ax))
                    if op == "Squeeze"
                    else np.expand_dims(arr, axis=tuple(ax))
                )
            except (ValueError, np.exceptions.AxisError):
                refuse(node, f"bad axes {ax}")
            target = res.shape
        target = tuple(int(t) for t in target)
        if target == v.onnx_shape:
            return v
        if v.kind in (K.RAW_FLOAT, K.CAST_INT):
            if target[0] != 1:
                refuse(node, "reshapes must keep the batch dimension")
            self.host_layout.append((len(self.host_ops), "reshape", target[1:]))
            return replace(v, onnx_shape=target, ir_shape=target[1:])
        if target[0] != 1:
            refuse(node, f"reshape to {target} mixes the batch dimension")
        if len(target) == 4 and len(v.onnx_shape) == 4 and not v.pending_flatten:
            # moving a size-1 axis is a transpose (tf2onnx writes NHWC -> NCHW of a
            # one-channel tensor as Reshape (N, H, W, 1) -> (N, 1, H, W))
            for perm in ([0, 3, 1, 2], [0, 2, 3, 1]):
                if tuple(v.onnx_shape[p] for p in perm) == target:
                    return self.relayout(node, v, perm)
        rest = target[1:]
        if len(rest) == 1 and len(v.onnx_shape) == 4 and not v.pending_flatten:
            if v.cmp:
                refuse(node, "unexpected reshape")
            return replace(v, onnx_shape=target, pending_flatten=True)
        if len(rest) == 1 and len(v.onnx_shape) == 2:
            return v
        refuse(
            node,
            f"reshape from {v.onnx_shape} to {target} is not a flatten; only "
            "(N, C, H, W) -> (N, C*H*W) is supported",
        )

    def transpose(self, node: onnx.NodeProto, v: Value) -> Value:
        rank = len(v.onnx_shape)
        perm = attr_ints(node, "perm", list(range(rank))[::-1])
        if sorted(perm) != list(range(rank)) or perm[0] != 0:
            refuse(node, f"Transpose {perm} moves the batch axis")
        shape = tuple(v.onnx_shape[p] for p in perm)
        if v.kind in (K.RAW_FLOAT, K.CAST_INT):
            self.host_layout.append(
                (len(self.host_ops), "transpose", tuple(p - 1 for p in perm[1:]))
            )
            return replace(v, onnx_shape=shape, ir_shape=shape[1:])
        return self.relayout(node, v, perm)

    def relayout(self, node: onnx.NodeProto, v: Value, perm: list[int]) -> Value:
        """NCHW <-> NHWC of a device tensor: the IR layout stays, the ONNX view changes."""
        rank = len(v.onnx_shape)
        shape = tuple(v.onnx_shape[p] for p in perm)
        if rank == 4 and not v.pending_flatten:
            if perm == [0, 3, 1, 2] and v.layout_open:
                v = self.input_was_nhwc(v)
            if perm == [0, 2, 3, 1] and not v.nhwc:
                return replace(v, onnx_shape=shape, nhwc=True, layout_open=False)
            if perm == [0, 3, 1, 2] and v.nhwc:
                return replace(v, onnx_shape=shape, nhwc=False)
        if perm == list(range(rank)):
            return v
        refuse(
            node,
            f"Transpose {perm} is supported only on the input, or as NCHW <-> NHWC before a "
            "flatten",
        )

    def pad(self, node: onnx.NodeProto, v: Value) -> Value:
        quantised = (K.BITS, K.QUANTISED, K.LEVELS)
        if v.kind not in quantised or len(v.onnx_shape) != 4 or v.pad is not None:
            refuse(
                node,
                "Pad is supported only on 4-D quantised tensors right before a Conv",
            )
        mode = attr_str(node, "mode", "constant")
        if mode != "constant":
            refuse(node, f"Pad mode {mode!r} is not supported")
        pads = [int(p) for p in self.const(node, 1, "pads").reshape(-1)]
        if len(pads) != 8 or min(pads) < 0:
            refuse(node, f"pads {pads}: expected 8 non-negative values (4-D begin and end)")
        # the spatial axes: 2 and 3 (NCHW), or 1 and 2 (NHWC: a tf2onnx export, which pads
        # its channels-last tensors before transposing them for the Conv)
        if v.layout_open and (pads[1] or pads[5]) and not (pads[3] or pads[7]):
            v = self.input_was_nhwc(v)  # axis 1 padded, axis 3 not: (N, H, W, C)
        hw = (1, 2) if v.nhwc else (2, 3)
        other = [i for i in range(4) if i not in hw]
        if any(pads[i] or pads[i + 4] for i in other):
            refuse(
                node,
                f"pads {pads} pad the batch or channel axis of a "
                f"{'NHWC' if v.nhwc else 'NCHW'} tensor; only spatial padding is supported",
            )
        value = 0.0
        if len(node.input) > 2 and node.input[2]:
            value = float(np.asarray(self.const(node, 2, "pad value")).reshape(-1)[0])
        a, _ = compose_affine64(v.chain, v.ir_shape[-1])
        if v.kind is K.BITS and value != 0:
            unit = value / a[0]
            if unit not in (1.0, -1.0):
                refuse(node, f"pad value {value:g} is neither 0 nor +-1 times the activation scale")
            pad_value = int(unit)
        elif value != 0:
            refuse(node, "non-zero padding of integer values is not supported")
        else:
            pad_value = 0
        t, left, b, r = pads[hw[0]], pads[hw[1]], pads[hw[0] + 4], pads[hw[1] + 4]
        shape = list(v.onnx_shape)
        shape[hw[0]] += t + b
        shape[hw[1]] += left + r
        return replace(v, onnx_shape=tuple(shape), pad=((t, left, b, r), pad_value))
