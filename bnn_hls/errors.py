"""User-facing errors: one clear message, exit status 2, no traceback."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str, limit: int = 2000, lines: bool = False) -> str:
    """Text safe to print on a terminal: control characters (escape sequences, newlines from a
    model's names or attributes) shown as \\xNN, the length bounded. lines: keep the line
    breaks (a tool's log)."""
    if lines:
        return "\n".join(printable(line, limit) for line in str(text).splitlines())[:limit]
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def quote_name(name: str, limit: int = 80) -> str:
    """A node or tensor name (or a file path) from a model or the command line, made safe to
    print: escaped, and shortened in the middle so that both its start and its end (a file's
    own name) stay readable."""
    text = repr(str(name))
    if len(text) <= limit:
        return text
    tail = (limit - 3) * 2 // 3
    return text[: limit - 3 - tail] + "..." + text[-tail:]


class ModelError(Exception):
    """The input model (or an option) cannot be compiled; the message says why and what to do."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        node: str | None = None,
        op: str | None = None,
        hint: str | None = None,
    ) -> None:
        parts = []
        if node is not None or op is not None:
            where = "node"
            if node is not None:
                where += f" {quote_name(node)}"
            if op is not None:
                where += f" ({printable(op, 40)})"
            parts.append(where + ":")
        parts.append(message)
        text = " ".join(parts)
        if hint:
            text += f" -- {hint}"
        super().__init__(text)
        self.node = node
        self.op = op


class InputFileError(ModelError):
    """A file given on the command line is missing, unreadable or malformed."""


class ToolFailure(Exception):
    """A simulator or synthesis tool failed on what bnn-hls generated (a compile error, a
    stalled simulation, wrong scores under backpressure): not the user's mistake. The CLI
    prints the message (its last lines) and exits 1, without a traceback."""
