"""Reading what the user gives: a file path, or `-` for standard input (read once per process,
since a command may read its spec more than once). Every read is bounded (`resilience.files`)."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

from planner.errors import SpecError
from resilience.files import (
    MAX_BYTES_ENV,
    DocumentError,
    Limits,
    decode,
    parse_document,
    read_bytes,
)

__all__ = ["STDIN", "read_document", "read_stdin", "read_text", "shown"]


#: `-` as a spec path: standard input, read once per process (a command may load the spec twice).
STDIN = "-"


def shown(path: str | Path) -> str:
    """A file name for messages: `-` is standard input."""
    return "<stdin>" if str(path) == STDIN else str(path)


@functools.cache
def read_stdin(max_bytes: int) -> bytes:
    """Standard input, read once (at most `max_bytes` + 1 bytes); later calls return the same."""
    return sys.stdin.buffer.read(max_bytes + 1)


def _bytes(path: str | Path, limits: Limits) -> bytes:
    if str(path) != STDIN:
        return read_bytes(path, limits)
    data = read_stdin(limits.max_bytes)
    if len(data) > limits.max_bytes:
        raise DocumentError(
            f"standard input is over the {limits.max_bytes:,}-byte limit "
            f"(set {MAX_BYTES_ENV} to read more)"
        )
    return data


def read_text(path: str | Path, what: str = "the spec") -> str:
    """The UTF-8 text at `path` (`-`: standard input), bounded; SpecError naming the file."""
    try:
        return decode(_bytes(path, Limits.from_env()))
    except OSError as exc:
        raise SpecError(f"{shown(path)}: cannot read {what} ({exc.strerror or exc})") from None
    except DocumentError as exc:
        raise SpecError(f"{shown(path)}: {exc}") from None


def read_document(path: str | Path, what: str = "the spec") -> object:
    """The YAML or JSON document at `path` (`-`: standard input; JSON by a `.json` suffix),
    parsed within the size, depth and alias limits; SpecError naming the file otherwise."""
    text = read_text(path, what)
    try:
        return parse_document(text, json_format=Path(str(path)).suffix.lower() == ".json")
    except DocumentError as exc:
        raise SpecError(f"{shown(path)}: {exc}") from None
