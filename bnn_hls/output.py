"""The one writer of output folders (`compile`, `build`). A folder is built beside its target
and moved into place only when complete, so a failed run never leaves one that looks valid;
it carries a manifest of the files bnn-hls wrote, and `--force` replaces only such a folder,
holding nothing else: it never deletes a file bnn-hls did not write, least of all the model."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from .errors import InputFileError, quote_name

MANIFEST = ".bnn-hls-output.json"


def output_path(text: str) -> Path:
    """The -o argument as a path; an empty one is refused (it would mean the current folder)."""
    if not text.strip():
        raise InputFileError("the output folder is an empty path", hint="give -o DIR")
    return Path(text)


def written_files(folder: Path) -> set[str] | None:
    """The files the manifest of a folder bnn-hls wrote lists, or None without a manifest."""
    try:
        doc = json.loads((folder / MANIFEST).read_text())
        return {str(p) for p in doc["files"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _files(folder: Path) -> list[str]:
    return sorted(
        p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() or p.is_symlink()
    )


def check_output_dir(path: Path, force: bool, inputs: Sequence[Path] = ()) -> None:
    """Refuse, before any work, an output folder that cannot or must not be written."""
    target = path.resolve()
    for parent in [target, *target.parents]:
        if parent.exists() and not parent.is_dir():
            raise InputFileError(
                f"output path {quote_name(str(path))}: {quote_name(str(parent))} is a file, "
                "not a folder",
                hint="choose another output folder",
            )
    for given in inputs:
        source = Path(given).resolve()
        if source == target or target in source.parents:
            raise InputFileError(
                f"the output folder {quote_name(str(path))} holds the input "
                f"{quote_name(str(given))}; writing it would replace the input",
                hint="choose another output folder",
            )
    if not path.is_dir() or not any(path.iterdir()):
        return
    if not force:
        raise InputFileError(
            f"output folder {quote_name(str(path))} is not empty",
            hint="choose another folder or pass --force to replace it",
        )
    listed = written_files(path)
    if listed is None:
        raise InputFileError(
            f"--force replaces only a folder bnn-hls wrote, and {quote_name(str(path))} has no "
            f"{MANIFEST}",
            hint="choose another output folder, or empty this one yourself",
        )
    foreign = [f for f in _files(path) if f not in listed and f != MANIFEST]
    if foreign:
        raise InputFileError(
            f"--force would delete {quote_name(str(path / foreign[0]))}, which bnn-hls did not "
            f"write ({len(foreign)} such file(s) in the folder)",
            hint="move it out of the output folder, or choose another folder",
        )


def write_folder(
    path: Path, force: bool, fill: Callable[[Path], None], inputs: Sequence[Path] = ()
) -> None:
    """Build the folder's content in a temporary sibling, list it in the manifest, then move
    it into place (replacing the old one only when `force` and check_output_dir allow it)."""
    check_output_dir(path, force, inputs)
    parent = path.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.resolve().name}.partial-", dir=parent))
    except OSError as exc:
        raise InputFileError(
            f"cannot create the output folder {quote_name(str(path))}: {exc.strerror}",
            hint="choose a folder you can write to",
        ) from None
    try:
        fill(tmp)
        manifest = {"generator": "bnn-hls", "files": _files(tmp)}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.resolve().name}.old-", dir=parent))
            os.replace(path, old / "content")
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise InputFileError(
            f"cannot write the output folder {quote_name(str(path))}: {exc.strerror}",
            hint="check the free space and the permissions",
        ) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
