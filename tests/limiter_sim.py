"""A discrete-event simulation of a backend behind an `AdaptiveLimiter`, in virtual time.

The backend has `servers` workers and an unbounded FIFO queue; a request's service time is
``service × U(0.9, 1.1)``, so the knee (the concurrency past which latency grows) is `servers`.
Requests arrive as a Poisson process; each carries a criticality. The limiter is driven through
its by-hand API (`try_acquire` / `release` with the measured RTT), the same code the policy layer
runs, so a minute of traffic at 2 000 requests/s simulates in about a second.
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from dataclasses import dataclass, field

from resilience.adaptive import AdaptiveLimiter
from resilience.shedding import Criticality


@dataclass
class Window:
    """What happened to the requests that arrived in one interval."""

    start: float
    admitted: dict[Criticality, int] = field(default_factory=lambda: dict.fromkeys(Criticality, 0))
    refused: dict[Criticality, int] = field(default_factory=lambda: dict.fromkeys(Criticality, 0))
    latencies: list[float] = field(default_factory=list)

    def p99(self) -> float:
        """The 99th percentile latency of the admitted requests that finished."""
        values = sorted(self.latencies)
        return values[min(len(values) - 1, int(0.99 * len(values)))] if values else 0.0


@dataclass
class Result:
    """Limit samples every `step` seconds and per-window request outcomes."""

    step: float
    limits: list[tuple[float, int]]
    windows: list[Window]

    def limits_between(self, start: float, end: float) -> list[int]:
        return [limit for t, limit in self.limits if start <= t < end]

    def between(self, start: float, end: float) -> list[Window]:
        return [w for w in self.windows if start <= w.start < end]


def simulate(
    limiter: AdaptiveLimiter,
    *,
    duration: float,
    rate: float,
    servers: list[tuple[float, int]],
    service: float = 0.1,
    mix: dict[Criticality, float] | None = None,
    step: float = 0.1,
    window: float = 1.0,
    seed: int = 1,
) -> Result:
    """Run `duration` virtual seconds; `servers` is [(from time, workers), ...] in time order."""
    rng = random.Random(seed)
    mix = mix or {Criticality.DEFAULT: 1.0}
    levels, weights = list(mix), list(mix.values())
    events: list[tuple[float, int, str, float]] = []  # (time, seq, kind, arrival time)
    seq = 0

    def push(t: float, kind: str, arrived: float = 0.0) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (t, seq, kind, arrived))

    push(rng.expovariate(rate), "arrive")
    for t, _ in servers[1:]:
        push(t, "capacity")
    t = 0.0
    while t < duration:
        push(t, "sample")
        t += step
    capacity = servers[0][1]
    changes = deque(servers[1:])
    busy = 0
    queue: deque[tuple[float, int]] = deque()
    windows = [Window(i * window) for i in range(int(duration / window) + 1)]
    limits: list[tuple[float, int]] = []

    def start_work(now: float, arrived: float) -> None:
        nonlocal busy
        busy += 1
        push(now + service * rng.uniform(0.9, 1.1), "done", arrived)

    while events:
        now, _, kind, arrived = heapq.heappop(events)
        if now >= duration:
            break
        if kind == "arrive":
            push(now + rng.expovariate(rate), "arrive")
            level = rng.choices(levels, weights)[0]
            w = windows[int(now / window)]
            if limiter.try_acquire(level):
                w.admitted[level] += 1
                if busy < capacity:
                    start_work(now, now)
                else:
                    queue.append((now, 0))
            else:
                w.refused[level] += 1
        elif kind == "done":
            busy -= 1
            rtt = now - arrived
            windows[int(arrived / window)].latencies.append(rtt)
            limiter.release(rtt)
            while queue and busy < capacity:
                start_work(now, queue.popleft()[0])
        elif kind == "capacity":
            capacity = changes.popleft()[1]
            while queue and busy < capacity:
                start_work(now, queue.popleft()[0])
        else:
            limits.append((now, limiter.limit))
    return Result(step, limits, windows)
