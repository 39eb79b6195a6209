"""Hedge: slow attempts get a second chance, the first success wins, losers are cancelled."""

from __future__ import annotations

import asyncio
import random

import pytest

from resilience import ConfigError
from resilience.events import Event, HedgeStarted, HedgeWon
from resilience.hedge import Hedge
from resilience.policy import Policy


class Backend:
    """A dependency whose attempts take the latencies (or raise the errors) given in order."""

    def __init__(self, *outcomes: float | Exception) -> None:
        self.outcomes = list(outcomes)
        self.started = 0
        self.cancelled = 0
        self.finished: list[int] = []

    async def call(self) -> str:
        n = self.started
        self.started += 1
        outcome = self.outcomes[n]
        if isinstance(outcome, Exception):
            await asyncio.sleep(0.01)
            raise outcome
        try:
            await asyncio.sleep(outcome)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        self.finished.append(n)
        return f"attempt {n}"


def _policy(hedge: Hedge, seen: list[Event]) -> Policy:
    return Policy("llm", hedge=hedge, hooks=[seen.append])


async def test_slow_primary_is_hedged_and_the_fast_hedge_wins() -> None:
    seen: list[Event] = []
    backend = Backend(1.0, 0.05)
    call = _policy(Hedge(delay=0.1), seen)(backend.call)
    loop = asyncio.get_running_loop()
    assert await call() == "attempt 1"
    assert loop.time() == pytest.approx(0.15)
    assert backend.cancelled == 1  # the primary lost and was cancelled
    assert [e for e in seen if isinstance(e, HedgeStarted | HedgeWon)] == [
        HedgeStarted("llm", 1),
        HedgeWon("llm", 1),
    ]


async def test_fast_primary_is_not_hedged() -> None:
    seen: list[Event] = []
    backend = Backend(0.05, 0.05)
    call = _policy(Hedge(delay=0.1), seen)(backend.call)
    assert await call() == "attempt 0"
    assert backend.started == 1
    assert not [e for e in seen if isinstance(e, HedgeStarted | HedgeWon)]


async def test_a_failed_attempt_ends_the_call_without_hedging() -> None:
    # Hedging is for slowness: a fast failure is not an invitation to call again (that is
    # Retry's job, under its budget).
    backend = Backend(ConnectionError("reset"), 0.05, 0.05, 0.05)
    call = Policy("llm", hedge=Hedge(delay=5.0, max_hedges=3))(backend.call)
    with pytest.raises(ConnectionError, match="reset"):
        await call()
    assert backend.started == 1
    assert asyncio.get_running_loop().time() == pytest.approx(0.01)


async def test_a_failure_waits_for_an_attempt_still_running_and_starts_no_more_hedges() -> None:
    started: list[float] = []
    loop = asyncio.get_running_loop()

    async def dependency() -> str:
        n = len(started)
        started.append(loop.time())
        if n == 1:
            await asyncio.sleep(0.01)
            raise ConnectionError("hedge failed")
        await asyncio.sleep(1.0)
        return f"attempt {n}"

    call = Policy("llm", hedge=Hedge(delay=0.1, max_hedges=3))(dependency)
    assert await call() == "attempt 0"
    assert started == pytest.approx([0.0, 0.1])  # no hedge after the failure at 0.11
    assert loop.time() == pytest.approx(1.0)


async def test_when_every_running_attempt_fails_the_last_failure_is_raised() -> None:
    loop = asyncio.get_running_loop()

    async def dependency() -> None:
        first = loop.time() == 0.0
        await asyncio.sleep(0.5 if first else 0.1)
        raise (ConnectionError("primary") if first else ValueError("hedge"))

    call = Policy("llm", hedge=Hedge(delay=0.1, max_hedges=1))(dependency)
    with pytest.raises(ConnectionError, match="primary"):
        await call()  # the hedge failed at 0.2, the primary (still running) at 0.5
    assert loop.time() == pytest.approx(0.5)


async def test_our_own_rejection_is_not_hedged_and_not_learned() -> None:
    from resilience import CircuitBreaker, CircuitOpenError, Rejected

    seen: list[Event] = []
    breaker = CircuitBreaker("llm")
    breaker.force_open()
    learning = Hedge(delay="p50", max_hedges=2, min_samples=3)
    backend = Backend(*([0.2] * 3))
    for hedge in (learning, Hedge(delay=1.0, max_hedges=2)):
        call = Policy("llm", hedge=hedge, circuit_breaker=breaker, hooks=[seen.append])(
            backend.call
        )
        for _ in range(3):
            with pytest.raises(CircuitOpenError):
                await call()
    assert [e for e in seen if isinstance(e, Rejected)] == [
        Rejected("llm", "circuit_breaker", None)
    ] * 6  # one per call
    assert backend.started == 0
    assert learning.current_delay() is None  # instant rejections taught it nothing
    breaker.reset()
    call = Policy("llm", hedge=learning, circuit_breaker=breaker)(backend.call)
    assert [await call() for _ in range(3)] == ["attempt 0", "attempt 1", "attempt 2"]
    assert learning.current_delay() == pytest.approx(0.2)  # learned from calls that got through


async def test_up_to_max_hedges_extra_attempts_one_per_delay() -> None:
    backend = Backend(10.0, 10.0, 10.0, 10.0)
    call = Policy("llm", hedge=Hedge(delay=1.0, max_hedges=2))(backend.call)
    assert await call() == "attempt 0"  # all slow: the primary still finishes first
    assert backend.started == 3
    assert backend.cancelled == 2


async def test_cancelling_the_caller_cancels_every_attempt() -> None:
    backend = Backend(10.0, 10.0)
    call = Policy("llm", hedge=Hedge(delay=0.1))(backend.call)
    task = asyncio.ensure_future(call())
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (backend.started, backend.cancelled) == (2, 2)


async def test_async_with_block_runs_once_without_hedging() -> None:
    policy = Policy("llm", hedge=Hedge(delay=0.0))
    async with policy:
        await asyncio.sleep(1.0)
    assert asyncio.get_running_loop().time() == pytest.approx(1.0)


async def test_percentile_delay_learns_then_hedges_at_the_observed_p95() -> None:
    hedge = Hedge(delay="p95", min_samples=20, sample_size=100)
    assert hedge.current_delay() is None
    for i in range(100):
        hedge.observe(0.01 * (i + 1))  # 0.01 .. 1.00 s
    assert hedge.current_delay() == pytest.approx(0.95)
    assert "now 0.95s" in hedge.describe()


async def test_percentile_delay_does_not_hedge_before_min_samples() -> None:
    backend = Backend(*([1.0] * 5))
    call = Policy("llm", hedge=Hedge(delay="p50", min_samples=3))(backend.call)
    for _ in range(3):
        await call()
    assert backend.started == 3  # learning: one attempt each
    await call()
    assert backend.started == 5  # p50 = 1.0s: the fourth call hedged after 1.0s


async def _p99(call_factory: object, n: int = 1000) -> float:
    loop = asyncio.get_running_loop()
    durations: list[float] = []

    async def one() -> None:
        start = loop.time()
        await call_factory()  # type: ignore[operator]
        durations.append(loop.time() - start)

    await asyncio.gather(*(one() for _ in range(n)))
    durations.sort()
    return durations[int(0.99 * n) - 1]


@pytest.mark.parametrize(("delay", "expected"), [(0.1, 0.1 + 0.05), ("p90", 0.05 + 0.05)])
async def test_hedging_cuts_the_tail(delay: float | str, expected: float) -> None:
    """Primary p99 is slow (3% of attempts take 2s); hedged p99 ≈ delay + fast attempt."""
    rng = random.Random(7)

    async def dependency() -> None:
        await asyncio.sleep(2.0 if rng.random() < 0.03 else 0.05)

    assert await _p99(dependency) == pytest.approx(2.0)
    hedge = Hedge(delay=delay, max_hedges=1, min_samples=50)
    hedged = Policy("llm", hedge=hedge)(dependency)
    if isinstance(delay, str):
        await _p99(hedged, n=200)  # warm up: learn the latency distribution
    assert await _p99(hedged) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"delay": -1}, "delay"),
        ({"delay": "p100"}, "delay"),
        ({"delay": "fast"}, "delay"),
        ({"delay": 0.1, "max_hedges": 0}, "max_hedges"),
        ({"delay": "p95", "min_samples": 0}, "min_samples"),
        ({"delay": "p95", "min_samples": 50, "sample_size": 10}, "sample_size"),
    ],
)
def test_invalid_settings_name_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        Hedge(**kwargs)  # type: ignore[arg-type]


async def test_cancelled_losers_are_neutral_to_the_breaker() -> None:
    from resilience import CircuitBreaker

    breaker = CircuitBreaker("llm", minimum_calls=1, window_size=100)
    backend = Backend(*([1.0, 0.05] * 20))  # every primary is slow, every hedge fast
    call = Policy("llm", hedge=Hedge(delay=0.1), circuit_breaker=breaker)(backend.call)
    for _ in range(20):
        assert await call() == f"attempt {backend.started - 1}"
    assert backend.cancelled == 20
    # 20 winners recorded as successes; the 20 cancelled primaries recorded as nothing.
    assert breaker.window_counts() == (20, 0, 0)
    assert breaker.failure_rate == 0.0 and breaker.state == "closed"


async def test_each_attempt_gets_its_own_attempt_timeout() -> None:
    from resilience import AttemptTimeoutError

    backend = Backend(60.0, 0.05, 60.0, 60.0)
    call = Policy("llm", hedge=Hedge(delay=0.1), timeout=0.5)(backend.call)
    assert await call() == "attempt 1"  # the hung primary did not hold the hedge back
    with pytest.raises(AttemptTimeoutError):
        await call()  # both attempts hang: each times out on its own
    assert asyncio.get_running_loop().time() == pytest.approx(0.15 + 0.6)
