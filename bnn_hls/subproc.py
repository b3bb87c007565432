"""Running an external tool (Verilator, its make, the simulators) while following its output
line by line, so that long steps can show progress."""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from .errors import ToolFailure


def run_following(
    args: list[str],
    on_line: Callable[[str], bool],
    what: str,
    timeout_s: float,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> tuple[int, str]:
    """Run `args`; each stdout line goes to on_line, which returns True when it consumed it
    (a progress line). Returns (exit code, the tail of the other output and stderr)."""
    with tempfile.TemporaryFile(mode="w+") as err:
        proc = subprocess.Popen(
            args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=err, text=True
        )
        assert proc.stdout is not None
        other: list[str] = []
        deadline = time.monotonic() + timeout_s
        for line in proc.stdout:
            if not on_line(line):
                other.append(line)
                del other[:-40]
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise ToolFailure(f"{what} ran longer than {timeout_s:.0f} s and was stopped")
        code = proc.wait()
        err.seek(0)
        return code, ("".join(other) + err.read())[-4000:]
