"""The one way the frontend refuses a node: a message naming the node and its op, and what to
do about it (exit status 2 at the command line, no traceback)."""

from __future__ import annotations

from typing import NoReturn

import onnx

from ..errors import ModelError

SUPPORTED_QONNX = "supported QONNX ops: BipolarQuant, Quant, MultiThreshold"


def refuse(node: onnx.NodeProto, message: str, hint: str | None = None) -> NoReturn:
    # an unnamed node (ONNX allows it) is named by its op alone
    raise ModelError(message, node=node.name or None, op=node.op_type, hint=hint)
