"""What the runner shows while it runs: a progress bar and a live steady-state line on a terminal,
one line per finished activity elsewhere (CI logs, files). Added in 0.1.0."""

from __future__ import annotations

from typing import TextIO


class Display:
    """Progress bar and live steady-state line on a terminal; one line per activity elsewhere."""

    BAR = 24

    def __init__(self, stream: TextIO | None, total: int, live: bool | None = None) -> None:
        self.stream = stream
        self.tty = bool(stream is not None and stream.isatty())
        self.live = self.tty if live is None else live
        self.total = max(total, 1)
        self.done = 0
        self.current = ""
        self.steady = ""
        self._drawn = 0

    def _draw(self) -> None:
        if self.stream is None or not self.tty:
            return
        filled = round(self.BAR * self.done / self.total)
        bar = "█" * filled + "░" * (self.BAR - filled)
        lines = [f"[{bar}] {self.done}/{self.total}  {self.current}"]
        if self.steady:
            lines.append(f"steady state: {self.steady}")
        erase = "\r\x1b[2K" + "\x1b[1A\r\x1b[2K" * max(self._drawn - 1, 0)
        self.stream.write(erase + "\n".join(lines))
        self.stream.flush()
        self._drawn = len(lines)

    def start(self, label: str) -> None:
        """An activity starts."""
        self.current = label
        self._draw()

    def finish(self, label: str, outcome: str) -> None:
        """An activity finished with `outcome`."""
        self.done += 1
        if self.tty:
            self.current = f"{label}: {outcome}"
            self._draw()
        elif self.stream is not None:
            self.stream.write(f"[{self.done}/{self.total}] {label}: {outcome}\n")
            self.stream.flush()

    def steady_state(self, text: str) -> None:
        """New live steady-state readings."""
        self.steady = text
        self._draw()

    def close(self) -> None:
        """Leave the terminal on a fresh line."""
        if self.stream is not None and self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
