"""Circuit breaker details found by mutation testing (`make mutation`): settings' bounds and
messages, a new window type on reconfigure, which window's minimum a rate reads, half-open
timing, permits, generations, and the windows' expiry by value."""

from __future__ import annotations

import asyncio
import functools
import math
from typing import Any

import pytest

from resilience import CircuitBreaker, CircuitOpenError, ConfigError
from resilience._window import TimeWindow  # noqa: TID251 (white-box: the window)


class Boom(Exception):
    pass


def failing(breaker: CircuitBreaker) -> Any:
    @breaker
    async def call(seconds: float = 0.0) -> None:
        await asyncio.sleep(seconds)
        raise Boom

    return call


async def fail_times(call: Any, n: int) -> None:
    for _ in range(n):
        with pytest.raises((Boom, CircuitOpenError)):
            await call()


# ------------------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": ""}, "CircuitBreaker.name: expected a non-empty string, got ''"),
        ({"name": 5}, "CircuitBreaker.name: expected a non-empty string, got 5"),
        ({"window_size": 0}, "CircuitBreaker.window_size: expected an integer >= 1, got 0"),
        (
            {"failure_rate_threshold": True},
            "CircuitBreaker.failure_rate_threshold: expected a number in (0, 1], got True",
        ),
        (
            {"slow_call_duration": 0},
            "CircuitBreaker.slow_call_duration: expected a positive number of seconds, got 0",
        ),
        (
            {"slow_call_duration": True},
            "CircuitBreaker.slow_call_duration: expected a positive number of seconds, got True",
        ),
        (
            {"slow_call_duration": math.inf},
            "CircuitBreaker.slow_call_duration: expected a positive number of seconds, got inf",
        ),
        (
            {"max_wait_in_half_open": -1},
            "CircuitBreaker.max_wait_in_half_open: expected a number of seconds >= 0, got -1",
        ),
        (
            {"record_on": (ValueError, 5)},
            "CircuitBreaker.record_on: expected exception classes, got (<class 'ValueError'>, 5)",
        ),
        (
            {"ignore_on": (int,)},
            "CircuitBreaker.ignore_on: expected exception classes, got (<class 'int'>,)",
        ),
    ],
)
def test_bad_settings_are_named(kwargs: dict[str, Any], message: str) -> None:
    settings = dict(kwargs)  # parametrize shares the dict between runs: leave it as it is
    name = settings.pop("name", "dep")
    with pytest.raises(ConfigError) as info:
        CircuitBreaker(name, **settings)
    assert str(info.value) == message


def test_reconfigure_names_every_setting_it_cannot_change() -> None:
    with pytest.raises(ConfigError) as info:
        CircuitBreaker("dep").reconfigure(name="x", clock=None)  # type: ignore[call-arg]
    assert str(info.value) == (
        "CircuitBreaker.reconfigure: cannot change clock, name on a live breaker; expected some "
        "of: failure_rate_threshold, slow_call_rate_threshold, slow_call_duration, "
        "minimum_calls, half_open_calls, max_wait_in_half_open, open_duration, record_on, "
        "ignore_on, failure_if_result, window_type, window_size, automatic_half_open, "
        "max_retry_after"
    )


def test_describe_an_open_duration_without_a_name() -> None:
    def scaled(n: int, base: float) -> float:
        return base * n

    breaker = CircuitBreaker("dep", open_duration=functools.partial(scaled, base=2.0))
    assert ", open_duration=callable, " in breaker.describe()


def test_standalone_info_reads_the_live_state() -> None:
    breaker = CircuitBreaker("dep")
    info = breaker.standalone_info("dep")
    assert info.name == "dep" and info.mechanisms == ("circuit_breaker",)
    assert info.breaker_state is not None and info.breaker_state() == "closed"
    breaker.force_open()
    assert info.breaker_state() == "forced_open"


# ------------------------------------------------------------------------------- windows


async def test_reconfigure_to_a_time_window_judges_by_minimum_calls() -> None:
    breaker = CircuitBreaker("dep", minimum_calls=5, window_size=3)
    breaker.reconfigure(window_type="time")  # the last 3 seconds; minimum no longer capped at 3
    assert breaker.window_type == "time"
    call = failing(breaker)
    await fail_times(call, 4)
    assert breaker.state == "closed" and breaker.failure_rate is None
    await fail_times(call, 1)
    assert breaker.state == "open"


async def test_reconfigure_to_a_count_window_keeps_old_outcomes_whatever_their_age() -> None:
    breaker = CircuitBreaker("dep", minimum_calls=2, window_type="time", window_size=2)
    breaker.reconfigure(window_type="count")
    call = failing(breaker)
    await fail_times(call, 1)
    await asyncio.sleep(100)  # a 2 s time window would have forgotten it
    await fail_times(call, 1)
    assert breaker.state == "open"
    other = CircuitBreaker("dep2", minimum_calls=2, window_type="time", window_size=50)
    other.reconfigure(window_type="count", window_size=50)
    await fail_times(failing(other), 2)
    assert other.state == "open" and other.window_counts() == (2, 2, 0)


async def test_reconfigure_to_a_small_count_window_caps_the_minimum_to_it() -> None:
    breaker = CircuitBreaker("dep", minimum_calls=10, window_type="time", window_size=3)
    breaker.reconfigure(window_type="count")  # 3 calls: a minimum of 10 could never be met
    await fail_times(failing(breaker), 3)
    assert breaker.state == "open"


async def test_a_rate_reads_the_minimum_of_the_window_it_reads() -> None:
    breaker = CircuitBreaker(
        "dep", minimum_calls=3, window_size=10, half_open_calls=2, open_duration=5
    )
    call = failing(breaker)
    await fail_times(call, 2)
    assert breaker.failure_rate is None  # closed: 2 of the 3 needed
    await fail_times(call, 1)
    assert breaker.state == "open"
    await asyncio.sleep(5)
    await fail_times(call, 1)
    assert breaker.state == "half_open" and breaker.failure_rate is None  # 1 probe of 2
    await fail_times(call, 1)
    assert breaker.state == "open"
    assert breaker.failure_rate == 1.0  # the probes' window: 2 calls, half-open minimum 2


async def test_a_new_half_open_size_is_judged_by_its_own_minimum() -> None:
    breaker = CircuitBreaker("dep", minimum_calls=2, window_size=2, open_duration=5)
    call = failing(breaker)
    await fail_times(call, 2)
    breaker.reconfigure(half_open_calls=3)
    await asyncio.sleep(5)

    @breaker
    async def ok() -> str:
        return "ok"

    assert await ok() == "ok"
    assert breaker.state == "half_open"
    assert await ok() == "ok"  # 2 probes reach min(2, 3): judged, closes
    assert breaker.state == "closed"


def test_time_window_expires_each_seconds_slow_calls() -> None:
    window = TimeWindow(5)
    window.record(False, True, 0.2)
    window.record(True, True, 0.7)
    window.record(False, False, 2.0)
    assert window.counts(4.9) == (3, 1, 2)
    assert window.counts(5.0) == (1, 0, 0)  # second 0 left with its 2 slow calls
    source = TimeWindow(10)
    for second in range(10):
        source.record(True, False, float(second))
    assert source.resized(3).counts(10.0) == (2, 2, 0)  # seconds 8 and 9 (7 just expired)


# ------------------------------------------------------------------------------- half-open


async def test_max_wait_in_half_open_below_a_second_is_enforced() -> None:
    breaker = CircuitBreaker(
        "dep", minimum_calls=1, window_size=1, open_duration=5, max_wait_in_half_open=0.5
    )
    call = failing(breaker)
    await fail_times(call, 1)
    await asyncio.sleep(5)

    @breaker
    async def slow_ok() -> str:
        await asyncio.sleep(0.8)
        return "ok"

    assert await slow_ok() == "ok"  # its outcome comes after the half-open wait
    assert breaker.state == "open"


async def test_a_probe_that_outstays_half_open_gets_the_new_open_duration() -> None:
    breaker = CircuitBreaker(
        "dep",
        minimum_calls=1,
        window_size=1,
        half_open_calls=1,
        open_duration=10,
        max_wait_in_half_open=2,
    )
    call = failing(breaker)
    await fail_times(call, 1)
    await asyncio.sleep(10)
    probe = asyncio.ensure_future(call(30))  # takes the only permit and hangs
    await asyncio.sleep(3)
    with pytest.raises(CircuitOpenError) as info:
        await call()
    assert str(info.value) == "circuit breaker 'dep' is open"
    assert info.value.retry_after == pytest.approx(10.0)
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe


async def test_an_old_calls_ignored_error_gives_no_half_open_permit() -> None:
    breaker = CircuitBreaker(
        "dep",
        minimum_calls=1,
        window_size=1,
        half_open_calls=1,
        open_duration=5,
        ignore_on=(KeyError,),
    )

    @breaker
    async def old() -> None:
        await asyncio.sleep(10)
        raise KeyError("ignored")

    call = failing(breaker)
    started_closed = asyncio.ensure_future(old())
    await asyncio.sleep(0)
    await fail_times(call, 1)
    await asyncio.sleep(5)
    probe = asyncio.ensure_future(call(30))  # the only half-open permit
    with pytest.raises(KeyError):
        await started_closed  # at t=10: from the closed period, gives nothing back
    with pytest.raises(CircuitOpenError):
        await call()
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe


async def test_calls_made_while_disabled_are_never_recorded() -> None:
    breaker = CircuitBreaker("dep", minimum_calls=1, window_size=1)
    breaker.disable()
    await fail_times(failing(breaker), 3)
    assert breaker.state == "disabled" and breaker.window_counts() == (0, 0, 0)


async def test_a_hint_opens_the_breaker_with_a_sub_second_cap() -> None:
    breaker = CircuitBreaker("api", minimum_calls=100, open_duration=0.25, max_retry_after=0.5)

    class Throttled(Exception):
        retry_after = 10.0

    @breaker
    async def call() -> None:
        raise Throttled

    with pytest.raises(Throttled):
        await call()
    assert breaker.state == "open"  # the hint, capped at 0.5 s (longer than open_duration)
    await asyncio.sleep(0.3)
    with pytest.raises(CircuitOpenError):
        await call()
    await asyncio.sleep(0.3)
    with pytest.raises(Throttled):
        await call()  # the half-open probe


async def test_an_injected_clock_times_async_calls() -> None:
    now = [0.0]
    breaker = CircuitBreaker(
        "dep", minimum_calls=1, window_size=1, slow_call_duration=2, clock=lambda: now[0]
    )

    @breaker
    async def call() -> str:
        now[0] += 3.0  # the injected clock, not the loop's, measures the call
        return "ok"

    assert await call() == "ok"
    assert breaker.window_counts() == (1, 0, 1) and breaker.state == "open"
