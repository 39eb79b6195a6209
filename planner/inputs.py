"""Reading what the user gives: a file path, or `-` for standard input (read once per process,
since a command may read its spec more than once)."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

from planner.errors import SpecError

__all__ = ["STDIN", "read_stdin", "read_text"]


#: `-` as a spec path: standard input, read once per process (a command may load the spec twice).
STDIN = "-"


@functools.cache
def read_stdin() -> bytes:
    """Standard input, read once; later calls return the same bytes."""
    return sys.stdin.buffer.read()


def read_text(path: str | Path, what: str = "the spec") -> str:
    """The UTF-8 text at `path` (`-`: standard input); SpecError naming the file otherwise."""
    source = "<stdin>" if str(path) == STDIN else str(path)
    try:
        raw = read_stdin() if str(path) == STDIN else Path(path).read_bytes()
        return raw.decode("utf-8")
    except OSError as exc:
        raise SpecError(f"{source}: cannot read {what} ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise SpecError(f"{source}: {what} is not UTF-8 text") from None
