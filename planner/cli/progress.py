"""A progress bar on stderr for long plans: only on a terminal, only past a couple of seconds.

`Progress.step(stage)` is `build_plan`'s progress callback; `Progress.writing(chunks)` passes the
output's chunks through while the bar says it is writing; `close()` clears the bar's line. When
stderr is not a terminal (a pipe, a file, CI logs) nothing is ever printed, so scripts that read
stderr see only warnings and errors. `RELIABILITY_PROGRESS_AFTER` (seconds, default 2) is how
long a plan runs before the bar appears.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TextIO

__all__ = ["Progress"]

#: Seconds before the bar appears, unless RELIABILITY_PROGRESS_AFTER says otherwise.
DEFAULT_AFTER = 2.0
_WIDTH = 24
_REDRAW = 0.25  # seconds between redraws while writing


class Progress:
    """Counts `total` steps and draws `[#####-----] 3/9 blast radius 4.1 s` once it is late."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self.started = time.monotonic()
        self.shown = False
        self._last = 0.0
        try:
            self.after = float(os.environ.get("RELIABILITY_PROGRESS_AFTER", DEFAULT_AFTER))
        except ValueError:
            self.after = DEFAULT_AFTER
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = bool(isatty is not None and isatty())

    def step(self, stage: str) -> None:
        """One more step done: `stage`."""
        self.done = min(self.total, self.done + 1)
        self._draw(stage)

    def writing(self, chunks: Iterable[str], what: str = "writing") -> Iterator[str]:
        """`chunks` unchanged, the bar redrawn now and then while they are written."""
        for chunk in chunks:
            now = time.monotonic()
            if now - self._last >= _REDRAW:
                self._draw(what)
            yield chunk
        self.step(what)

    def close(self) -> None:
        """Clear the bar's line, if it was drawn."""
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False

    def _draw(self, stage: str) -> None:
        now = time.monotonic()
        elapsed = now - self.started
        if not self.enabled or elapsed < self.after:
            return
        self._last = now
        filled = round(_WIDTH * self.done / self.total) if self.total else _WIDTH
        bar = "#" * filled + "-" * (_WIDTH - filled)
        self.stream.write(f"\r\x1b[K[{bar}] {self.done}/{self.total} {stage} {elapsed:.1f} s")
        self.stream.flush()
        self.shown = True
