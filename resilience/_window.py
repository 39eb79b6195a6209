"""Sliding windows of call outcomes with O(1) running totals (subtract on evict).

Both windows answer `counts(now) -> (calls, failures, slow)` in O(1) and record an outcome in O(1)
(the time window is amortised: after an idle gap, advancing costs at most `size` bucket resets).
"""

from __future__ import annotations


class CountWindow:
    """The last `size` outcomes, as a ring of 2-bit codes (bit 0 failure, bit 1 slow)."""

    __slots__ = ("_codes", "_head", "calls", "failures", "size", "slow")

    def __init__(self, size: int) -> None:
        self.size = size
        self._codes = bytearray(size)
        self._head = 0
        self.calls = 0
        self.failures = 0
        self.slow = 0

    def record(self, failed: bool, slow: bool, now: float) -> None:
        """Add one outcome, evicting the oldest when the window is full."""
        head = self._head
        codes = self._codes
        if self.calls == self.size:
            old = codes[head]
            self.failures -= old & 1
            self.slow -= old >> 1
        else:
            self.calls += 1
        codes[head] = failed | (slow << 1)
        self.failures += failed
        self.slow += slow
        head += 1
        self._head = 0 if head == self.size else head

    def counts(self, now: float) -> tuple[int, int, int]:
        """(calls, failures, slow calls) in the window."""
        return self.calls, self.failures, self.slow

    def reset(self) -> None:
        """Forget every outcome."""
        self._codes = bytearray(self.size)
        self._head = self.calls = self.failures = self.slow = 0

    def resized(self, size: int) -> CountWindow:
        """A window of `size` holding the last `size` outcomes of this one, in order."""
        codes = self._codes
        ordered = (
            codes[: self.calls]
            if self.calls < self.size
            else codes[self._head :] + codes[: self._head]
        )
        window = CountWindow(size)
        for code in ordered[-size:]:
            window.record(bool(code & 1), bool(code >> 1), 0.0)
        return window


class TimeWindow:
    """Outcomes of the last `size` seconds, in one bucket per whole second of the clock."""

    __slots__ = ("_calls", "_failures", "_latest", "_slow", "calls", "failures", "size", "slow")

    def __init__(self, size: int) -> None:
        self.size = size
        self._calls = [0] * size
        self._failures = [0] * size
        self._slow = [0] * size
        self._latest: int | None = None
        self.calls = 0
        self.failures = 0
        self.slow = 0

    def _advance(self, second: int) -> int:
        latest = self._latest
        if latest is None:
            self._latest = second
            return second
        if second <= latest:
            return latest  # same second (or a clock that went back: keep the newest bucket)
        size = self.size
        if second - latest >= size:
            self._calls = [0] * size
            self._failures = [0] * size
            self._slow = [0] * size
            self.calls = self.failures = self.slow = 0
        else:
            for s in range(latest + 1, second + 1):
                i = s % size
                self.calls -= self._calls[i]
                self.failures -= self._failures[i]
                self.slow -= self._slow[i]
                self._calls[i] = self._failures[i] = self._slow[i] = 0
        self._latest = second
        return second

    def record(self, failed: bool, slow: bool, now: float) -> None:
        """Add one outcome at time `now`, expiring buckets older than `size` seconds."""
        i = self._advance(int(now // 1)) % self.size
        self._calls[i] += 1
        self.calls += 1
        if failed:
            self._failures[i] += 1
            self.failures += 1
        if slow:
            self._slow[i] += 1
            self.slow += 1

    def counts(self, now: float) -> tuple[int, int, int]:
        """(calls, failures, slow calls) in the `size` seconds up to `now`."""
        self._advance(int(now // 1))
        return self.calls, self.failures, self.slow

    def resized(self, size: int) -> TimeWindow:
        """A window of `size` seconds holding this one's outcomes of the last `size` seconds."""
        window = TimeWindow(size)
        latest = self._latest
        if latest is None:
            return window
        window._latest = latest
        for second in range(latest - min(size, self.size) + 1, latest + 1):
            old, new = second % self.size, second % size
            window._calls[new] = self._calls[old]
            window._failures[new] = self._failures[old]
            window._slow[new] = self._slow[old]
        window.calls = sum(window._calls)
        window.failures = sum(window._failures)
        window.slow = sum(window._slow)
        return window

    def reset(self) -> None:
        """Forget every outcome."""
        self._calls = [0] * self.size
        self._failures = [0] * self.size
        self._slow = [0] * self.size
        self._latest = None
        self.calls = self.failures = self.slow = 0


Window = CountWindow | TimeWindow
