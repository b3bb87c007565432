"""What one simulated batch measured, computed once for both testbenches (the native Verilator
harness and the cocotb bench): score mismatches, latency, cycles per image, and the message
naming the streams where a stalled simulation stopped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class RtlSimResult:
    runs: list[dict[str, Any]]  # batch_result() of each run, or {"error": ...} for a stall
    build_seconds: float
    sim_seconds: float
    scores: np.ndarray | None  # the integer scores of the run without backpressure
    harness: str = "cocotb"  # which testbench ran: "native" or "cocotb"
    build_cached: bool = False  # the simulator executable came from the cache

    @property
    def scores_ok(self) -> bool:
        return all("error" not in r and not r["mismatched_images"] for r in self.runs)


def batch_result(
    backpressure: bool,
    got: np.ndarray,
    expected: np.ndarray,
    ends: list[int],
    first_in: int | None,
    total_cycles: int,
    extra_bytes: int = 0,
) -> dict[str, Any]:
    """got, expected: (images, classes) scores; ends: the cycle of each image's last score
    (counted from the batch's start); first_in: the cycle the first input word was taken."""
    images = int(expected.shape[0])
    bad = np.nonzero(np.any(got.astype(np.int64) != expected, axis=1))[0]
    result: dict[str, Any] = {
        "backpressure": backpressure,
        "images": images,
        "mismatched_images": [int(i) for i in bad[:20]],
        "agree": int(images - len(bad)),
        "extra_bytes": extra_bytes,
        "latency_cycles": int(ends[0] - (first_in or 0)) if ends else None,
        "total_cycles": int(total_cycles),
    }
    if len(ends) >= 2:
        # steady state: the spacing of the later images (the first ones fill the pipeline);
        # with 2 or 3 images, the spacing of all of them
        tail = ends[len(ends) // 2 :] if len(ends) >= 4 else ends
        result["cycles_per_image"] = (tail[-1] - tail[0]) / (len(tail) - 1)
    return result


def stall_message(
    watchdog: int, scores: int, total: int, valid: int, ready: int, names: list[str]
) -> str:
    """valid, ready: the design's dbg_valid / dbg_ready (stream i in bit i) when it stalled."""
    blocked = [n for i, n in enumerate(names) if (valid >> i) & 1 and not (ready >> i) & 1]
    empty = [n for i, n in enumerate(names) if not (valid >> i) & 1]
    return (
        f"no data moved for {watchdog} cycles after {scores} of {total} scores; "
        f"streams holding data the next stage does not take: {blocked or 'none'}; "
        f"empty streams: {empty}"
    )
