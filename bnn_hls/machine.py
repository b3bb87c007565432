"""What the machine offers the parallel steps (estimate --jobs, sweeps, Verilator builds)."""

from __future__ import annotations

import os


def available_cores() -> int:
    """The cores this process may run on (a container's or taskset's limit, not the host's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
