"""C simulation without Xilinx tools: compile the generated HLS project with g++ against the
open-source Xilinx arbitrary-precision headers (from the hls4ml wheel, or the tool's own
include folder when one is installed) and the project's strict hls::stream, then run batches."""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import platform
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from .errors import ModelError, ToolFailure
from .machine import available_cores
from .package_data import cache_dir, resource_dir
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
MIN_SHARD_IMAGES = 8  # fewer images per process are not worth a process


def machine_flags() -> list[str]:
    """-mpopcnt where this x86 processor has the instruction (C-sim counts bits all the time:
    about 15 % of CNV's C-sim time otherwise goes to libgcc's software popcount). The flag is
    part of the build cache's key, so an executable is only reused with the same flags."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return []
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = next((line for line in cpuinfo.splitlines() if line.startswith("flags")), "")
    return ["-mpopcnt"] if "popcnt" in flags.split() else []


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
        self.build_cached = False

    def cxx_standard(self) -> str:
        """The C++ standard the project's hls.tcl gives the tool (Vivado HLS: C++11)."""
        tcl = self.hls_dir / "hls.tcl"
        found = re.search(r"-std=(\S+?)[\s\"]", tcl.read_text()) if tcl.exists() else None
        return f"-std={found.group(1)}" if found else "-std=c++14"

    def build(self) -> None:
        cmd = [
            compiler(),
            *CXXFLAGS,
            *machine_flags(),
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
        key = self._build_key(cmd)
        cached = cache_dir("csim") / key
        if (cached / "csim").exists():  # the same sources, flags and compiler: built before
            shutil.copy2(cached / "csim", self.exe)
            self.warnings = (cached / "warnings.txt").read_text()
            self.build_seconds = 0.0
            self.build_cached = True
            log.info("C simulation from the build cache")
            return
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
        # into the cache whole, then renamed: a half-written entry never looks valid
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=cached.parent))
        shutil.copy2(self.exe, partial / "csim")
        (partial / "warnings.txt").write_text(self.warnings)
        try:
            os.replace(partial, cached)
        except OSError:  # another process cached the same build meanwhile
            shutil.rmtree(partial, ignore_errors=True)

    def _build_key(self, cmd: list[str]) -> str:
        """A hash of the compiler's version, the flags and every source the build reads."""
        h = hashlib.sha256()
        version = subprocess.run(
            [cmd[0], "--version"], capture_output=True, text=True, check=False
        ).stdout
        h.update(version.encode())
        h.update(" ".join(a for a in cmd if not a.startswith("/")).encode())
        folders = (self.hls_dir, resource_dir("sim") / "include", ap_types_dir())
        for folder in folders:
            for path in sorted(folder.rglob("*")):
                if path.suffix in (".h", ".cpp", ".hpp") and path.is_file():
                    h.update(str(path.relative_to(folder)).encode() + b"\0")
                    h.update(path.read_bytes() + b"\0")
        return h.hexdigest()[:24]

    def run(
        self,
        words: np.ndarray,
        images: int,
        classes: int,
        jobs: int | None = None,
        load: np.ndarray | None = None,
    ) -> np.ndarray:
        """Packed input words (images * words_per_image, bytes) -> (images, classes) scores.
        The images are split into `jobs` shards (default: the cores available) that run as
        separate processes: each image's scores depend on that image only. `load`: the
        threshold load stream's words (packing.pack_load_values), sent in a load call before
        the images in every process."""
        shards = max(1, min(jobs or available_cores(), images // MIN_SHARD_IMAGES))
        bounds = [images * i // shards for i in range(shards + 1)]
        per_image = len(words) // images
        with tempfile.TemporaryDirectory(prefix="bnn-csim-") as tmp:
            load_args = []
            if load is not None:
                load_file = Path(tmp) / "load.bin"
                load_file.write_bytes(np.ascontiguousarray(load).tobytes())
                load_args = ["-", str(load_file)]
            procs = []
            for i in range(shards):
                lo, hi = bounds[i], bounds[i + 1]
                fin, fout = Path(tmp) / f"in{i}.bin", Path(tmp) / f"out{i}.bin"
                fin.write_bytes(
                    np.ascontiguousarray(words[lo * per_image : hi * per_image]).tobytes()
                )
                err = open(Path(tmp) / f"err{i}.txt", "w")  # noqa: SIM115 (closed below)
                procs.append(
                    (
                        subprocess.Popen(
                            [str(self.exe), str(fin), str(fout), str(hi - lo), *load_args],
                            stdout=subprocess.DEVNULL,
                            stderr=err,
                        ),
                        err,
                        fout,
                        hi - lo,
                    )
                )
            outputs = []
            failure = None
            for proc, err, fout, n in procs:
                try:
                    code = proc.wait(timeout=RUN_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    code = -9
                err.close()
                if code != 0 and failure is None:
                    failure = (
                        f"C simulation failed (exit {code}):\n" + Path(err.name).read_text()[-4000:]
                    )
                elif code == 0:
                    outputs.append(unpack_scores(fout.read_bytes(), n, classes))
            if failure is not None:
                raise ToolFailure(failure)
            return np.concatenate(outputs, axis=0)
