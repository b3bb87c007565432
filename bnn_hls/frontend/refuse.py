"""The one way the frontend refuses a node: a message naming the node and its op, and what to
do about it (exit status 2 at the command line, no traceback)."""

from __future__ import annotations

from typing import NoReturn

import onnx

from ..errors import ModelError


def refuse(node: onnx.NodeProto, message: str, hint: str | None = None) -> NoReturn:
    raise ModelError(message, node=node.name, op=node.op_type, hint=hint)
