"""Where the templates and the kernel library are, in a source checkout or an installed wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """name: "templates" or "hw". Installed: bnn_hls/_<name>; checkout: <repo>/<name>."""
    installed = _PACKAGE / f"_{name}"
    if installed.is_dir():
        return installed
    checkout = _PACKAGE.parent / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"bnn-hls resource folder {name!r} is missing from the installation")
