"""A non-editable `pip install .` in a fresh venv gives a working `bnn-hls` that finds its
templates and kernel library."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from .conftest import DIGITS, ROOT


@pytest.mark.install
def test_pip_install_non_editable(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env_dir)
    py = env_dir / "bin" / "python"
    # build from a copy so the checkout gets no build/ or egg-info litter
    src = tmp_path / "src"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(src)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}

    def run(*cmd: str) -> subprocess.CompletedProcess[str]:
        """A command of the fresh venv, outside the checkout; it must succeed."""
        res = subprocess.run(
            list(cmd), capture_output=True, text=True, env=env, cwd=tmp_path, check=False
        )
        assert res.returncode == 0, res.stderr[-2000:]
        return res

    run(str(py), "-m", "pip", "install", "-q", str(src))
    exe = str(env_dir / "bin" / "bnn-hls")
    res = run(exe, "inspect", str(DIGITS / "digits_mlp.onnx"), "--json")
    assert '"integer_only": true' in res.stdout
    run(exe, "compile", str(DIGITS / "digits_cnn.onnx"), "-o", str(tmp_path / "out"))
    for rel in ("hls/top.cpp", "hls/bnn_mvtu.h", "rtl/bnn_mvtu.sv"):
        assert (tmp_path / "out" / rel).is_file(), rel
    run(exe, "build", str(DIGITS / "digits_mlp.onnx"), "-o", str(tmp_path / "board"))
    for rel in (
        "deploy/bnn_driver.py",
        "deploy/packing.py",
        "deploy/bnn_pynq.ipynb",
        "vivado/build_bd.tcl",
    ):
        assert (tmp_path / "board" / rel).is_file(), rel
    code = (
        "from bnn_hls.package_data import resource_dir; import bnn_hls; "
        "print(bnn_hls.__file__); "
        "print(sorted(p.name for p in resource_dir('templates').iterdir())); "
        "print(sorted(p.name for p in resource_dir('hw').iterdir())); "
        "print((resource_dir('sim') / 'include' / 'hls_stream.h').is_file())"
    )
    lines = run(str(py), "-c", code).stdout.splitlines()
    assert "site-packages" in lines[0]
    assert "README.md" in lines[1] and "hls" in lines[1]
    assert "README.md" in lines[2] and "hls" in lines[2]
    assert lines[3] == "True"
    assert sys.version_info >= (3, 10)
