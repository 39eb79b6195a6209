"""Atomic file output: a reader sees the old file or the complete new one, never half of it."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path


def write_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write `text` (UTF-8) to `path` through a temporary file in the same directory + `os.replace`.

    On any error the temporary file is removed and an existing file at `path` is left untouched.
    The parent directory must exist (a missing one raises `FileNotFoundError`, an `OSError`).
    Returns the path written.
    """
    target = Path(path)
    directory = target.parent
    # mkstemp in the target's own directory: os.replace is only atomic within one filesystem.
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        # Name the file the user asked for, not our temporary one.
        reason = ("its directory does not exist" if isinstance(exc, FileNotFoundError)
                  else exc.strerror or type(exc).__name__)
        raise type(exc)(exc.errno, f"cannot write the file: {reason}", str(target)) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates 0600; give the file the mode an ordinary open() would (umask applies).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_name, 0o666 & ~umask)
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    return target


def write_output(text: str, path: str | os.PathLike[str] | None) -> None:
    """Print `text` to stdout, or write it atomically to `path` when one is given (`-o FILE`).

    A missing final newline is added so that the shell prompt starts on its own line.
    """
    if not text.endswith("\n"):
        text += "\n"
    if path is None or str(path) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        write_atomic(path, text)
