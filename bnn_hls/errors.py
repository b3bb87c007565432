"""User-facing errors: one clear message, exit status 2, no traceback."""

from __future__ import annotations


def quote_name(name: str, limit: int = 80) -> str:
    """A node or tensor name from a model, made safe to print (escaped, shortened)."""
    text = repr(str(name))
    return text if len(text) <= limit else text[: limit - 4] + "...'"


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
                where += f" ({op})"
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
