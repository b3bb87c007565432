"""Every bad input of the corpus (tests/bad_inputs.py): exit status 2, one message that names
the node, the file or the option, no traceback, no hang, and no file changed outside the
output folder the command was given."""

from __future__ import annotations

import hashlib
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bnn_hls.cli import main

from .bad_inputs import CASES, all_cases

TIMEOUT_S = 120


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    def stop(signum: int, frame: object) -> None:
        raise TimeoutError(f"no answer in {seconds} s")

    old = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def snapshot(folder: Path, skip: Path | None) -> dict[str, str]:
    """Every file under `folder` (outside `skip`) with a hash of its content."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if skip is not None and (p == skip or skip in p.parents):
            continue
        if p.is_file():
            out[str(p.relative_to(folder))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def test_the_corpus_is_large() -> None:
    assert len(CASES) >= 85


@pytest.mark.parametrize("name", all_cases())
def test_bad_input(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    work = tmp_path / "case"
    work.mkdir()
    case = CASES[name](work)
    capsys.readouterr()
    out_dir = work / case.output if case.output else None
    outside_before = snapshot(tmp_path, out_dir)
    output_before = snapshot(out_dir, None) if out_dir is not None and out_dir.exists() else {}
    with deadline(TIMEOUT_S):
        try:
            code = main(case.argv)
        except SystemExit as exc:  # argparse refusing an option
            code = int(exc.code or 0)
    out, err = capsys.readouterr()
    assert code == 2, (name, out, err)
    assert "Traceback" not in err + out
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line]
    assert len(errors) == 1, err
    for needle in case.needles:
        assert needle in errors[0], (needle, errors[0])
    # nothing from the model reaches the terminal raw
    assert "\x1b" not in err and "\x07" not in err
    # nothing changed outside the output folder, and a refused output folder is untouched
    assert snapshot(tmp_path, out_dir) == outside_before
    if out_dir is not None and output_before:
        assert snapshot(out_dir, None) == output_before
    leftovers = [p.name for p in work.rglob(".*partial-*")]
    assert not leftovers + [p.name for p in work.rglob(".*old-*")]
