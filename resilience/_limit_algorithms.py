"""The limit algorithms of `resilience.adaptive.AdaptiveLimiter` (Netflix concurrency-limits'
Vegas, Gradient2 and AIMD); their parameters and defaults are tabled in that module's docstring,
which re-exports them. Added in 0.2.0."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Literal, Protocol

from resilience._errors import ConfigError

__all__ = [
    "AIMD",
    "ALGORITHMS",
    "AlgorithmName",
    "Gradient2",
    "LimitAlgorithm",
    "Vegas",
    "positive",
]


class LimitAlgorithm(Protocol):
    """Turns one sample into a limit: the RTT in seconds, the in-flight calls when it started,
    whether it was dropped, and whether the limiter refused a request since the last sample."""

    name: str

    def update(
        self, limit: float, rtt: float, in_flight: int, dropped: bool, saturated: bool = False
    ) -> float:
        """The new limit (before clamping) after one sample."""

    def describe(self) -> str:
        """Every parameter as ``name(k=v, ...)``."""


def positive(owner: str, name: str, value: float, *, upper: float | None = None) -> float:
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value <= 0
        or (upper is not None and value > upper)
    ):
        bound = f" and <= {upper:g}" if upper is not None else ""
        raise ConfigError(f"{owner}.{name}: expected a number > 0{bound}, got {value!r}")
    return float(value)


class Vegas:
    """TCP Vegas-style delay-based limit (Netflix `VegasLimit`); the default algorithm."""

    name = "vegas"

    def __init__(
        self,
        *,
        alpha: float = 3.0,
        beta: float = 6.0,
        probe_multiplier: float = 30.0,
        smoothing: float = 1.0,
        rng: random.Random | None = None,
    ) -> None:
        self.alpha = positive("Vegas", "alpha", alpha)
        self.beta = positive("Vegas", "beta", beta)
        if self.beta < self.alpha:
            raise ConfigError(f"Vegas.beta ({beta!r}) must be >= Vegas.alpha ({alpha!r})")
        self.probe_multiplier = positive("Vegas", "probe_multiplier", probe_multiplier)
        self.smoothing = positive("Vegas", "smoothing", smoothing, upper=1.0)
        self._rng = rng or random.Random()
        self.rtt_noload = 0.0
        self._samples = 0
        self._probe_at = 0.0

    def describe(self) -> str:
        """Every parameter as one string."""
        return (
            f"Vegas(alpha={self.alpha:g}, beta={self.beta:g}, "
            f"probe_multiplier={self.probe_multiplier:g}, smoothing={self.smoothing:g})"
        )

    def update(
        self, limit: float, rtt: float, in_flight: int, dropped: bool, saturated: bool = False
    ) -> float:
        """One Vegas step (see the module table)."""
        self._samples += 1
        if self.rtt_noload <= 0:
            self._probe_at = self._samples + self.probe_multiplier * limit * self._rng.uniform(
                0.5, 1.0
            )
            self.rtt_noload = rtt
            return limit
        if self._samples >= self._probe_at and not saturated and in_flight * 2 <= limit:
            # Re-measure the no-load RTT now and then, so a backend that really got slower (or
            # faster) is relearned; jittered so that instances do not probe together. Only while at
            # most half the limit is used and nothing was refused: an RTT taken nearer the limit
            # holds our own queue, and taking it as the no-load RTT ratchets the limit upwards
            # (upstream issue #165). A backend that got slower while saturated makes the limit
            # shrink (safe) until load drops and a probe relearns its RTT.
            self._probe_at = self._samples + self.probe_multiplier * limit * self._rng.uniform(
                0.5, 1.0
            )
            self.rtt_noload = rtt
            return limit
        if rtt < self.rtt_noload:
            self.rtt_noload = rtt
            return limit
        log = max(1.0, math.log10(limit))
        if dropped:
            new = limit - log
        elif in_flight * 2 < limit:
            return limit  # app-limited
        else:
            queue = math.ceil(limit * (1 - self.rtt_noload / rtt)) if rtt > 0 else 0
            if queue <= log:
                new = limit + self.beta * log
            elif queue < self.alpha * log:
                new = limit + log
            elif queue > self.beta * log:
                new = limit - log
            else:
                return limit
        return (1 - self.smoothing) * limit + self.smoothing * new


class Gradient2:
    """Gradient of a short-term over a long-term RTT average (Netflix `Gradient2Limit`), without
    the upward creep: the long-term RTT only rises from samples taken while the limit does not
    bind, and the queue allowance is added only while no queue is seen (gradient 1)."""

    name = "gradient2"

    def __init__(
        self,
        *,
        tolerance: float = 1.1,
        queue_size: float = 4.0,
        long_window: int = 600,
        short_window: int = 10,
        smoothing: float = 0.2,
    ) -> None:
        self.tolerance = positive("Gradient2", "tolerance", tolerance)
        if self.tolerance < 1:
            raise ConfigError(f"Gradient2.tolerance: expected a number >= 1, got {tolerance!r}")
        self.queue_size = positive("Gradient2", "queue_size", queue_size)
        self.long_window = int(positive("Gradient2", "long_window", long_window))
        self.short_window = int(positive("Gradient2", "short_window", short_window))
        self.smoothing = positive("Gradient2", "smoothing", smoothing, upper=1.0)
        self.long_rtt = 0.0
        self.short_rtt = 0.0

    def describe(self) -> str:
        """Every parameter as one string."""
        return (
            f"Gradient2(tolerance={self.tolerance:g}, queue_size={self.queue_size:g}, "
            f"long_window={self.long_window}, short_window={self.short_window}, "
            f"smoothing={self.smoothing:g})"
        )

    def update(
        self, limit: float, rtt: float, in_flight: int, dropped: bool, saturated: bool = False
    ) -> float:
        """One Gradient2 step (see the module table)."""
        if self.long_rtt <= 0:
            self.long_rtt = self.short_rtt = rtt
            return limit
        self.short_rtt += (rtt - self.short_rtt) * (2.0 / (self.short_window + 1))
        binding = saturated or in_flight >= 0.9 * limit
        if not binding or self.short_rtt < self.long_rtt:
            self.long_rtt += (self.short_rtt - self.long_rtt) * (2.0 / (self.long_window + 1))
        if self.long_rtt / self.short_rtt > 2:
            self.long_rtt *= 0.95  # recovering from a slow spell: forget it faster
        if in_flight * 2 < limit and not dropped:
            return limit  # app-limited
        gradient = max(0.5, min(1.0, self.tolerance * self.long_rtt / self.short_rtt))
        if dropped:
            gradient = min(gradient, 0.9)
        new = limit * gradient + (self.queue_size if gradient >= 1.0 else 0.0)
        return (1 - self.smoothing) * limit + self.smoothing * new


class AIMD:
    """Additive increase, multiplicative decrease on drops or slow calls (Netflix `AIMDLimit`);
    the loss-based algorithm Netflix recommends for clients."""

    name = "aimd"

    def __init__(self, *, backoff_ratio: float = 0.9, latency_threshold: float = 5.0) -> None:
        self.backoff_ratio = positive("AIMD", "backoff_ratio", backoff_ratio, upper=1.0)
        if not 0.5 <= self.backoff_ratio < 1:
            raise ConfigError(f"AIMD.backoff_ratio: expected [0.5, 1), got {backoff_ratio!r}")
        self.latency_threshold = positive("AIMD", "latency_threshold", latency_threshold)

    def describe(self) -> str:
        """Every parameter as one string."""
        return (
            f"AIMD(backoff_ratio={self.backoff_ratio:g}, "
            f"latency_threshold={self.latency_threshold:g})"
        )

    def update(
        self, limit: float, rtt: float, in_flight: int, dropped: bool, saturated: bool = False
    ) -> float:
        """One AIMD step."""
        if dropped or rtt > self.latency_threshold:
            return limit * self.backoff_ratio
        if in_flight * 2 >= limit:
            return limit + 1
        return limit


AlgorithmName = Literal["vegas", "gradient2", "aimd"]
ALGORITHMS: dict[str, Callable[[], LimitAlgorithm]] = {
    "vegas": Vegas,
    "gradient2": Gradient2,
    "aimd": AIMD,
}
