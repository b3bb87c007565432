"""How an HLS library kernel's pipelined loop touches its array arguments, as data: each stage
class declares the rules of the kernels it calls (Stage.hls_kernels) next to everything else
it says about its kind, and backends/hls_check.py applies them to a generated project (the
accesses per iteration must fit the ports its pragmas give each array, so the loop can
reach II = 1)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Access:
    reads: int  # per iteration, per reader
    writes: int = 0
    # template parameter (or a product "A*B" of them): that many readers, each on its own index
    # of dimension 1 and all on the same index of the other dimensions
    parallel: str | None = None
    # the kernel touches the array only when this holds for its template parameters (e.g.
    # without a border correction the correction table is never read)
    when: Callable[[dict[str, int]], bool] | None = None


@dataclass(frozen=True)
class KernelRule:
    template_params: tuple[str, ...]  # the kernel's template parameters, in order
    args: tuple[str, ...]  # its arguments, in order
    arrays: dict[str, Access]  # what its pipelined loop does to each array argument


def has_border(p: dict[str, int]) -> bool:
    """The kernel corrects zero padding with its border tables (template parameter BORDER)."""
    return bool(p["BORDER"])


def border_arrays() -> dict[str, Access]:
    """The border tables of a padded conv (docs/hls.md): one class lookup per pixel, one
    correction per PE."""
    return {
        "row_class": Access(1, when=has_border),
        "col_class": Access(1, when=has_border),
        "correction": Access(1, parallel="PE", when=has_border),
    }


# the threshold loader (writable thresholds): one element of one bank per iteration
LOAD_TABLE = KernelRule(("LANES", "DEPTH"), ("in", "table"), {"table": Access(0, 1)})
