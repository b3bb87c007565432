"""Writing output folders so that a failed run never leaves a folder that looks complete."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from .errors import InputFileError, quote_name


def check_output_dir(path: Path, force: bool) -> None:
    if path.exists() and not path.is_dir():
        raise InputFileError(f"output path {quote_name(str(path))} exists and is not a folder")
    if path.is_dir() and any(path.iterdir()) and not force:
        raise InputFileError(
            f"output folder {quote_name(str(path))} is not empty",
            hint="choose another folder or pass --force to replace it",
        )


def write_folder(path: Path, force: bool, fill: Callable[[Path], None]) -> None:
    """Build the folder's content in a temporary sibling, then move it into place."""
    check_output_dir(path, force)
    parent = path.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.partial-", dir=parent))
    try:
        fill(tmp)
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=parent))
            os.replace(path, old / "content")
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
