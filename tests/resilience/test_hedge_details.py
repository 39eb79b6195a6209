"""Hedge details found by mutation testing (`make mutation`): defaults, bounds and messages, the
percentile by value and its refresh cadence, what is observed, and reconfigure."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from resilience import ConfigError, Hedge


class Boom(Exception):
    pass


def test_defaults_and_describe() -> None:
    learning = Hedge(delay="p95")
    assert (learning.max_hedges, learning.min_samples, learning.sample_size) == (1, 20, 200)
    assert learning.describe() == (
        "Hedge(delay=p95 (learning; min_samples=20, sample_size=200), max_hedges=1)"
    )
    assert repr(Hedge(delay=0.25, max_hedges=2)) == "Hedge(delay=0.25s, max_hedges=2)"
    measured = Hedge(delay="p50", min_samples=2, sample_size=4)
    measured.observe(0.125)
    measured.observe(0.5)
    assert measured.describe() == (
        "Hedge(delay=p50 (now 0.125s; min_samples=2, sample_size=4), max_hedges=1)"
    )


PERCENTILE = "delay: expected seconds or a latency percentile such as 'p95',"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"delay": "p0"}, f"{PERCENTILE} got 'p0'"),
        ({"delay": "p100"}, f"{PERCENTILE} got 'p100'"),
        ({"delay": True}, "delay: expected seconds ≥ 0 or 'p95', got True"),
        ({"delay": [1]}, "delay: expected seconds ≥ 0 or 'p95', got [1]"),
        ({"delay": -0.5}, "delay: expected seconds ≥ 0 or 'p95', got -0.5"),
        ({"delay": math.inf}, "delay: expected seconds ≥ 0 or 'p95', got inf"),
        ({"delay": 0, "max_hedges": True}, "max_hedges: expected a whole number ≥ 1, got True"),
        ({"delay": 0, "max_hedges": 0}, "max_hedges: expected a whole number ≥ 1, got 0"),
        ({"delay": 0, "min_samples": 0}, "min_samples: expected a whole number ≥ 1, got 0"),
        (
            {"delay": 0, "min_samples": 5, "sample_size": 4},
            "sample_size: expected ≥ min_samples (5), got 4",
        ),
    ],
)
def test_bad_settings_are_named(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Hedge(**kwargs)
    assert str(info.value).startswith(message)


def test_boundaries_are_accepted() -> None:
    assert Hedge(delay="p0.5").percentile == 0.5
    assert Hedge(delay="p99.9").percentile == 99.9
    assert Hedge(delay=0).current_delay() == 0.0
    same = Hedge(delay="p50", min_samples=5, sample_size=5)
    assert (same.min_samples, same.sample_size) == (5, 5)


def test_percentile_is_the_nearest_rank() -> None:
    hedge = Hedge(delay="p10", min_samples=1, sample_size=100)
    for value in range(100, 0, -1):
        hedge.observe(float(value))
    assert hedge.current_delay() == 10.0  # rank ceil(0.10 × 100) = 10
    hedge.reconfigure(delay="p50.5")
    assert hedge.current_delay() == 51.0  # rank ceil(50.5) = 51
    hedge.reconfigure(delay="p0.5")
    assert hedge.current_delay() == 1.0  # rank 1: the smallest
    few = Hedge(delay="p95", min_samples=3, sample_size=10)
    few.observe(1.0)
    few.observe(2.0)
    assert few.current_delay() is None  # still learning
    few.observe(3.0)
    assert few.current_delay() == 3.0


def test_the_percentile_is_refreshed_once_a_tenth_of_the_samples_is_new() -> None:
    """Against a model: recomputed when the samples added since the last computation reach
    max(1, len // 10); stale in between (sorting on every call would cost O(n log n))."""
    hedge = Hedge(delay="p99", min_samples=1, sample_size=1000)
    cached: float | None = None
    fresh = 0
    samples: list[float] = []
    for value in range(1, 80):
        hedge.observe(float(value))
        samples.append(float(value))
        fresh += 1
        if cached is None or fresh >= max(1, len(samples) // 10):
            cached = sorted(samples)[math.ceil(0.99 * len(samples)) - 1]
            fresh = 0
        assert hedge.current_delay() == cached, value


def test_reconfigure_changes_only_what_it_names_and_keeps_the_newest_samples() -> None:
    hedge = Hedge(delay="p50", max_hedges=2, min_samples=2, sample_size=6)
    for value in (9.0, 8.0, 1.0, 2.0, 3.0, 4.0):
        hedge.observe(value)
    assert hedge.current_delay() == 3.0
    hedge.reconfigure(max_hedges=3)
    assert (hedge.delay, hedge.max_hedges, hedge.min_samples, hedge.sample_size) == (
        "p50",
        3,
        2,
        6,
    )
    hedge.reconfigure(sample_size=4)  # keeps 1, 2, 3, 4
    assert (hedge.delay, hedge.max_hedges, hedge.min_samples, hedge.sample_size) == (
        "p50",
        3,
        2,
        4,
    )
    assert hedge.current_delay() == 2.0
    hedge.observe(10.0)  # at most 4 kept: 2, 3, 4, 10
    hedge.reconfigure(min_samples=3)
    assert (hedge.min_samples, hedge.sample_size, hedge.delay) == (3, 4, "p50")
    assert hedge.current_delay() == 3.0
    hedge.reconfigure(delay="p10")
    assert hedge.current_delay() == 2.0 and hedge.sample_size == 4 and hedge.max_hedges == 3
    hedge.reconfigure(delay=0.5)
    assert hedge.current_delay() == 0.5 and hedge.percentile is None
    with pytest.raises(ConfigError):
        hedge.reconfigure(sample_size=2)  # below min_samples 3: nothing changes
    assert (hedge.delay, hedge.sample_size) == (0.5, 4)


async def test_failed_and_sync_attempts_are_observed_by_their_latency() -> None:
    loop = asyncio.get_running_loop()
    await asyncio.sleep(10)  # the clock is far from 0: a latency is a difference
    hedge = Hedge(delay="p50", min_samples=1, sample_size=10, clock=loop.time)

    @hedge
    async def fails() -> None:
        await asyncio.sleep(2)
        raise Boom

    with pytest.raises(Boom):
        await fails()  # learning: one attempt, observed
    assert hedge.current_delay() == pytest.approx(2.0)

    now = [100.0]
    sync_hedge = Hedge(delay="p99", min_samples=1, sample_size=10, clock=lambda: now[0])

    @sync_hedge
    def sync_call(fail: bool) -> str:
        now[0] += 3.0
        if fail:
            raise Boom
        return "ok"

    assert sync_call(False) == "ok"
    assert sync_hedge.current_delay() == 3.0
    with pytest.raises(Boom):
        sync_call(True)
    now[0] += 0.0
    sync_hedge.reconfigure(delay="p1")
    assert sync_hedge.current_delay() == 3.0  # both observed at 3 s


async def test_attempts_failing_together_raise_the_last_ones_failure() -> None:
    hedge = Hedge(delay=0, max_hedges=2)
    started = 0

    @hedge
    async def call() -> None:
        nonlocal started
        n = started
        started += 1
        await asyncio.sleep(1)
        raise Boom(n)

    with pytest.raises(Boom) as info:
        await call()
    assert started == 3 and info.value.args == (2,)


async def test_an_attempt_cancelled_from_inside_cancels_the_call() -> None:
    hedge = Hedge(delay=5)

    @hedge
    async def call() -> None:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        await asyncio.sleep(1)

    with pytest.raises(asyncio.CancelledError):
        await call()
