"""C simulation without Xilinx tools: compile the generated HLS project with g++ against the
open-source Xilinx arbitrary-precision headers (from the hls4ml wheel, or the tool's own
include folder when one is installed) and the project's strict hls::stream, then run batches."""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from .errors import ModelError, ToolFailure
from .package_data import resource_dir
from .packing import unpack_scores
from .progress import progress

log = logging.getLogger(__name__)

CXXFLAGS = [
    "-O2",
    "-Wall",
    "-Wextra",
    "-Wno-unknown-pragmas",
    "-Wno-uninitialized",
    "-Wno-maybe-uninitialized",
]
BUILD_TIMEOUT_S = 900
RUN_TIMEOUT_S = 1800


def ap_types_dir() -> Path:
    """Where ap_int.h is: $BNN_HLS_AP_TYPES, $XILINX_HLS/include, or the hls4ml wheel."""
    env = os.environ.get("BNN_HLS_AP_TYPES")
    if env and (Path(env) / "ap_int.h").is_file():
        return Path(env)
    tool = os.environ.get("XILINX_HLS")
    if tool and (Path(tool) / "include" / "ap_int.h").is_file():
        return Path(tool) / "include"
    spec = importlib.util.find_spec("hls4ml")  # located, never imported
    if spec and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            path = Path(loc) / "templates" / "vivado" / "ap_types"
            if (path / "ap_int.h").is_file():
                return path
    raise ModelError(
        "the ap_int.h headers for C simulation were not found",
        hint="pip install --no-deps hls4ml==1.3.0 (it ships Xilinx's Apache-2.0 "
        "ap_types), or set BNN_HLS_AP_TYPES to a folder holding ap_int.h",
    )


def compiler() -> str:
    cxx = os.environ.get("CXX", "g++")
    if shutil.which(cxx) is None:
        raise ModelError(f"C++ compiler {cxx!r} not found", hint="install g++ (Debian: g++)")
    return cxx


class CSim:
    """A compiled C simulation of one HLS project folder."""

    def __init__(self, hls_dir: Path, build_dir: Path | None = None) -> None:
        self.hls_dir = hls_dir
        self.build_dir = build_dir or hls_dir
        self.exe = self.build_dir / "csim"
        self.build_seconds = 0.0

    def cxx_standard(self) -> str:
        """The C++ standard the project's hls.tcl gives the tool (Vivado HLS: C++11)."""
        tcl = self.hls_dir / "hls.tcl"
        found = re.search(r"-std=(\S+?)[\s\"]", tcl.read_text()) if tcl.exists() else None
        return f"-std={found.group(1)}" if found else "-std=c++14"

    def build(self) -> None:
        cmd = [
            compiler(),
            *CXXFLAGS,
            self.cxx_standard(),
            "-I",
            str(resource_dir("sim") / "include"),
            "-isystem",
            str(ap_types_dir()),
            "-I",
            str(self.hls_dir),
            str(self.hls_dir / "top.cpp"),
            str(self.hls_dir / "tb.cpp"),
            "-o",
            str(self.exe),
        ]
        log.info("compiling the C simulation (g++)...")
        t0 = time.perf_counter()
        with progress("C-sim build (g++)", 1, "builds") as bar:
            res = subprocess.run(
                cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False
            )
            bar.advance()
        self.build_seconds = time.perf_counter() - t0
        self.warnings = res.stderr
        if res.returncode != 0:
            raise ToolFailure(f"C-sim build failed:\n{res.stderr[-4000:]}")
        log.info("C simulation built in %.1f s", self.build_seconds)

    def run(self, words: np.ndarray, images: int, classes: int) -> np.ndarray:
        """Packed input words (images * words_per_image, bytes) -> (images, classes) scores."""
        with tempfile.TemporaryDirectory(prefix="bnn-csim-") as tmp:
            fin, fout = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
            fin.write_bytes(np.ascontiguousarray(words).tobytes())
            res = subprocess.run(
                [str(self.exe), str(fin), str(fout), str(images)],
                capture_output=True,
                text=True,
                timeout=RUN_TIMEOUT_S,
                check=False,
            )
            if res.returncode != 0:
                raise ToolFailure(
                    f"C simulation failed (exit {res.returncode}):\n{res.stderr[-4000:]}"
                )
            return unpack_scores(fout.read_bytes(), images, classes)
