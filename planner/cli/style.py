"""Colour for statuses on a terminal: only on a TTY, never when `NO_COLOR` is set (no-color.org)
or `TERM=dumb`, never in files (`-o`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TextIO

__all__ = ["STATUS_COLOURS", "painter", "use_colour"]

#: SGR colour per status word (the SLA report's statuses).
STATUS_COLOURS: dict[str, str] = {"OK": "32", "Risk": "33", "Breached": "1;31", "No data": "2"}


def use_colour(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """Whether to colour what is written to `stream`."""
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR") or env.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def painter(enabled: bool) -> Callable[[str], str]:
    """A function colouring a status cell (padding kept outside the colour), or the identity."""

    def paint(cell: str) -> str:
        word = cell.rstrip()
        code = STATUS_COLOURS.get(word)
        if not enabled or code is None:
            return cell
        return f"\033[{code}m{word}\033[0m{cell[len(word) :]}"

    return paint
