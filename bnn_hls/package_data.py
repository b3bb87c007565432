"""Where the templates and the kernel library are, in a source checkout or an installed wheel."""

from __future__ import annotations

import os
from pathlib import Path

import jinja2

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


def template_env(subdir: str) -> jinja2.Environment:
    """The Jinja environment for templates/<subdir>: strict (a missing value is an error),
    no HTML escaping, block tags leave no blank lines."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(resource_dir("templates") / subdir),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )


def cache_dir(kind: str) -> Path:
    """Where results that are costly to recompute are kept between runs (Yosys estimates,
    Verilator builds): $BNN_HLS_CACHE, else $XDG_CACHE_HOME/bnn-hls, else ~/.cache/bnn-hls."""
    base = os.environ.get("BNN_HLS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "bnn-hls"
    )
    return Path(base) / kind
