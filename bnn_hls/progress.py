"""Progress of long steps (Verilator builds and simulations, Yosys runs, C-sim builds, sweeps):
a tqdm bar with counts and elapsed time when stderr is a terminal, plain log lines otherwise
(logger "bnn_hls.progress": for a step longer than PLAIN_INTERVAL_S, a line that often and one
at its end), nothing when the CLI runs with -q. One place decides; the steps only say what
they count."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger("bnn_hls.progress")

_enabled = True
PLAIN_INTERVAL_S = 5.0  # plain mode: a line at most this often (and at the end)


def configure(enabled: bool) -> None:
    """The CLI's -q turns progress off; otherwise plain lines are shown at the default level."""
    global _enabled
    _enabled = enabled
    log.setLevel(logging.INFO if enabled else logging.WARNING)


class Progress:
    """Counts `done` of `total` (None: unknown) units of one step."""

    def __init__(self, what: str, total: int | None, unit: str) -> None:
        self.what = what
        self.total = total
        self.unit = unit
        self.done = 0
        self.start = time.perf_counter()
        self._last_line = self.start  # plain lines: the first one after PLAIN_INTERVAL_S
        self._bar: Any = None
        if _enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=what, unit=f" {unit}", leave=False, file=sys.stderr)

    def advance(self, n: int = 1, note: str = "") -> None:
        self.set(self.done + n, note)

    def set(self, done: int, note: str = "") -> None:
        step = done - self.done
        self.done = done
        if not _enabled:
            return
        if self._bar is not None:
            if note:
                self._bar.set_postfix_str(note, refresh=False)
            self._bar.update(step)
            return
        now = time.perf_counter()
        # a short step says nothing; a long one a line every PLAIN_INTERVAL_S and at its end
        long_step = now - self.start >= PLAIN_INTERVAL_S
        finished = self.total is not None and done >= self.total
        if now - self._last_line >= PLAIN_INTERVAL_S or (finished and long_step):
            self._last_line = now
            of = f"/{self.total}" if self.total is not None else ""
            extra = f" ({note})" if note else ""
            log.info(
                "%s: %d%s %s, %.0f s%s", self.what, done, of, self.unit, now - self.start, extra
            )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            return
        elapsed = time.perf_counter() - self.start
        finished = self.total is not None and self.done >= self.total  # its line was shown
        if _enabled and not finished and elapsed >= PLAIN_INTERVAL_S:
            log.info("%s: %d %s in %.0f s", self.what, self.done, self.unit, elapsed)


@contextmanager
def progress(what: str, total: int | None, unit: str) -> Iterator[Progress]:
    bar = Progress(what, total, unit)
    try:
        yield bar
    finally:
        bar.close()
