"""CircuitBreaker: thresholds, windows, half-open, manual states, outcomes and events."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pybreaker
import pytest

from resilience import (
    BreakerState,
    BulkheadFullError,
    CircuitBreaker,
    CircuitOpenError,
    ConfigError,
    Rejected,
    StateChanged,
    add_hook,
    remove_hook,
)


class Boom(Exception):
    pass


def now() -> float:
    return asyncio.get_running_loop().time()


def make(**kw: Any) -> tuple[CircuitBreaker, Callable[..., Awaitable[str]]]:
    breaker = CircuitBreaker("dep", **kw)

    @breaker
    async def call(outcome: str = "ok", seconds: float = 0.0) -> str:
        if seconds:
            await asyncio.sleep(seconds)
        if outcome == "fail":
            raise Boom
        if outcome == "full":
            raise BulkheadFullError("full")
        return outcome

    return breaker, call


async def run(call: Callable[..., Awaitable[str]], *outcomes: str) -> list[str]:
    seen = []
    for outcome in outcomes:
        try:
            seen.append(await call(outcome))
        except CircuitOpenError:
            seen.append("rejected")
        except Exception as exc:
            seen.append(type(exc).__name__)
    return seen


async def test_trips_when_failure_rate_reaches_threshold_and_not_before_minimum_calls() -> None:
    breaker, call = make(minimum_calls=4, window_size=10, failure_rate_threshold=0.5)
    assert await run(call, "fail", "fail", "fail") == ["Boom"] * 3
    assert breaker.state == "closed"
    assert breaker.failure_rate is None  # 3 calls < minimum_calls
    await run(call, "ok")  # 4 calls, 3 failed: 0.75 >= 0.5
    assert breaker.state == BreakerState.OPEN
    assert await run(call, "ok") == ["rejected"]


async def test_threshold_is_inclusive() -> None:
    breaker, call = make(minimum_calls=10, window_size=10, failure_rate_threshold=0.3)
    await run(call, *["ok"] * 7, "fail", "fail")
    assert breaker.state == "closed"
    await run(call, "fail")  # exactly 3/10 = 0.3
    assert breaker.state == "open"


async def test_count_window_forgets_old_outcomes() -> None:
    breaker, call = make(minimum_calls=4, window_size=4, failure_rate_threshold=0.75)
    await run(call, "fail", "fail", "ok", "ok", "ok", "fail", "fail")
    # window now holds ok, ok, fail, fail → 0.5
    assert breaker.state == "closed"
    assert breaker.failure_rate == 0.5
    assert breaker.window_counts() == (4, 2, 0)


async def test_minimum_calls_capped_by_count_window_size() -> None:
    breaker, call = make(minimum_calls=100, window_size=5)
    await run(call, *["fail"] * 5)
    assert breaker.state == "open"


async def test_time_window_expires_outcomes_after_window_size_seconds() -> None:
    breaker, call = make(window_type="time", window_size=10, minimum_calls=4)
    await run(call, "fail", "fail", "fail")
    await asyncio.sleep(11)
    assert breaker.failure_rate is None
    await run(call, "ok", "ok", "ok", "fail")  # old failures gone: 1/4
    assert breaker.state == "closed"
    assert breaker.failure_rate == 0.25
    await run(call, "fail")  # 2/5
    await run(call, "fail")  # 3/6 → open
    assert breaker.state == "open"


async def test_slow_calls_trip_on_slow_call_rate() -> None:
    breaker, call = make(
        minimum_calls=4, window_size=4, slow_call_duration=1.0, slow_call_rate_threshold=0.75
    )
    await call("ok", 1.0)  # exactly the threshold is not slow (strictly greater)
    await call("ok", 1.5)
    await call("ok", 0.1)
    assert breaker.slow_call_rate is None
    await call("ok", 2.0)
    assert breaker.slow_call_rate == 0.5
    assert breaker.state == "closed"
    await call("ok", 1.01)  # the window now holds 1.5, 0.1, 2.0, 1.01: 3/4 slow
    assert breaker.state == "open"
    assert breaker.failure_rate == 0.0


async def test_open_then_half_open_lazily_then_closed() -> None:
    breaker, call = make(minimum_calls=3, window_size=2, open_duration=30, half_open_calls=3)
    await run(call, "fail", "fail")
    assert breaker.state == "open"
    with pytest.raises(CircuitOpenError) as info:
        await call()
    assert info.value.retry_after == pytest.approx(30)
    assert info.value.state == "open"
    assert info.value.policy == "dep"
    assert isinstance(info.value, pybreaker.CircuitBreakerError)
    await asyncio.sleep(30)
    assert breaker.state == "open"  # no timer: the next call moves it
    assert await run(call, "ok", "ok") == ["ok", "ok"]
    assert breaker.state == "half_open"
    await run(call, "ok")
    assert breaker.state == "closed"
    assert breaker.failure_rate is None  # fresh window


async def test_half_open_failures_reopen_with_growing_open_duration() -> None:
    durations: list[int] = []

    def grow(n: int) -> float:
        durations.append(n)
        return 10.0 * 2.0 ** (n - 1)

    breaker, call = make(minimum_calls=2, window_size=2, open_duration=grow, half_open_calls=2)
    await run(call, "fail", "fail")
    await asyncio.sleep(10)
    await run(call, "fail", "ok")  # half-open: 1/2 failed >= 0.5 → open again, for 20 s
    assert breaker.state == "open"
    await asyncio.sleep(19)
    assert await run(call, "ok") == ["rejected"]
    await asyncio.sleep(1)
    await run(call, "ok", "ok")
    assert breaker.state == "closed"
    await run(call, "fail", "fail")
    assert durations == [1, 2, 1]  # consecutive opens reset once closed


async def test_half_open_minimum_calls_below_permits_decides_early() -> None:
    breaker, call = make(minimum_calls=2, window_size=2, open_duration=1, half_open_calls=5)
    await run(call, "fail", "fail")
    await asyncio.sleep(1)
    await run(call, "ok", "ok")
    assert breaker.state == "closed"


async def test_half_open_admits_exactly_half_open_calls_among_1000_concurrent() -> None:
    breaker, call = make(minimum_calls=1, window_size=1, open_duration=5, half_open_calls=7)
    await run(call, "fail")
    await asyncio.sleep(5)
    results = await asyncio.gather(*(call("ok", 1.0) for _ in range(1000)), return_exceptions=True)
    assert sum(r == "ok" for r in results) == 7
    assert sum(isinstance(r, CircuitOpenError) for r in results) == 993
    assert breaker.state == "closed"


async def test_max_wait_in_half_open_reopens_when_probes_hang() -> None:
    breaker, call = make(
        minimum_calls=1, window_size=1, open_duration=5, half_open_calls=1, max_wait_in_half_open=3
    )
    await run(call, "fail")
    await asyncio.sleep(5)
    probe = asyncio.ensure_future(call("ok", 100))
    await asyncio.sleep(3)
    assert await run(call, "ok") == ["rejected"]
    assert breaker.state == "open"
    probe.cancel()


async def test_a_probe_finishing_after_max_wait_in_half_open_does_not_close() -> None:
    # resilience4j: the half-open wait is enforced by time; a late probe decides nothing.
    breaker, call = make(
        minimum_calls=1, window_size=1, open_duration=5, half_open_calls=1, max_wait_in_half_open=5
    )
    await run(call, "fail")
    await asyncio.sleep(5)
    assert await call("ok", 20) == "ok"  # the probe succeeds, 20 s after half-open began
    assert breaker.state == "open"
    with pytest.raises(CircuitOpenError) as info:
        await call()
    assert info.value.retry_after == 5.0  # opened when the late probe finished


async def test_half_open_past_its_max_wait_reads_open() -> None:
    breaker, call = make(
        minimum_calls=1, window_size=1, open_duration=5, half_open_calls=1, max_wait_in_half_open=3
    )
    await run(call, "fail")
    await asyncio.sleep(5)
    probe = asyncio.ensure_future(call("ok", 100))
    await asyncio.sleep(1)
    assert breaker.effective_state == "half_open"
    await asyncio.sleep(2)
    assert breaker.state == "half_open" and breaker.effective_state == "open"
    probe.cancel()


async def test_automatic_half_open_moves_on_a_timer_without_traffic() -> None:
    events: list[object] = []
    add_hook(events.append)
    try:
        breaker, call = make(
            minimum_calls=1,
            window_size=1,
            open_duration=5,
            half_open_calls=1,
            max_wait_in_half_open=3,
            automatic_half_open=True,
        )
        await run(call, "fail")
        assert breaker.state == "open"
        await asyncio.sleep(4.9)
        assert breaker.state == "open"
        await asyncio.sleep(0.2)
        assert breaker.state == "half_open"  # no call came: the timer moved it
        await asyncio.sleep(3)
        assert breaker.state == "open"  # nor did a probe within max_wait_in_half_open
        changes = [(e.from_state, e.to_state) for e in events if isinstance(e, StateChanged)]
        assert changes == [("closed", "open"), ("open", "half_open"), ("half_open", "open")]
        await asyncio.sleep(5)
        assert await run(call, "ok") == ["ok"] and breaker.state == "closed"
    finally:
        remove_hook(events.append)


async def test_without_automatic_half_open_the_state_moves_on_the_next_call() -> None:
    breaker, call = make(minimum_calls=1, window_size=1, open_duration=5)
    await run(call, "fail")
    await asyncio.sleep(10)
    assert breaker.state == "open" and breaker.effective_state == "half_open"


def test_automatic_half_open_for_a_breaker_used_from_threads() -> None:
    breaker = CircuitBreaker(
        "threads", minimum_calls=1, window_size=1, open_duration=0.02, automatic_half_open=True
    )

    @breaker
    def fails() -> None:
        raise Boom

    with contextlib.suppress(Boom):
        fails()
    assert breaker.state == "open"
    deadline = time.monotonic() + 2
    while breaker.state == "open" and time.monotonic() < deadline:
        time.sleep(0.005)
    assert breaker.state == "half_open"


class Overloaded(Exception):
    """An error carrying the dependency's ``Retry-After``, as HTTPStatusFailure does."""

    def __init__(self, retry_after: float | None) -> None:
        super().__init__("429 Too Many Requests")
        self.retry_after = retry_after


async def test_a_retry_after_hint_opens_the_breaker_that_long() -> None:
    breaker = CircuitBreaker("api", minimum_calls=100, open_duration=1, max_retry_after=60)

    @breaker
    async def call(hint: float | None) -> None:
        raise Overloaded(hint)

    with pytest.raises(Overloaded):
        await call(None)  # no hint: an ordinary failure, 1 of 100
    assert breaker.state == "closed"
    with pytest.raises(Overloaded):
        await call(30)
    assert breaker.state == "open"
    with pytest.raises(CircuitOpenError) as info:
        await call(30)
    assert info.value.retry_after == pytest.approx(30)
    await asyncio.sleep(30)
    with pytest.raises(Overloaded):
        await call(600)  # the probe is told to wait 600 s: capped at max_retry_after
    with pytest.raises(CircuitOpenError) as info:
        await call(None)
    assert info.value.retry_after == pytest.approx(60)


async def test_retry_after_hints_are_ignored_unless_max_retry_after_is_set() -> None:
    breaker = CircuitBreaker("api", minimum_calls=100)

    @breaker
    async def call() -> None:
        raise Overloaded(30)

    with pytest.raises(Overloaded):
        await call()
    assert breaker.state == "closed"
    with pytest.raises(ConfigError, match="max_retry_after"):
        CircuitBreaker("bad", max_retry_after=-1)
    with pytest.raises(ConfigError, match="automatic_half_open"):
        CircuitBreaker("bad", automatic_half_open="yes")  # type: ignore[arg-type]


async def test_manual_states() -> None:
    breaker, call = make(minimum_calls=2, window_size=2)
    breaker.force_open()
    with pytest.raises(CircuitOpenError) as info:
        await call()
    assert info.value.state == "forced_open"
    breaker.disable()
    assert await run(call, "fail", "fail", "fail") == ["Boom"] * 3
    assert breaker.state == "disabled"
    breaker.metrics_only()
    await run(call, "fail", "fail", "fail")
    assert breaker.state == "metrics_only"
    assert breaker.failure_rate == 1.0
    breaker.reset()
    assert breaker.state == "closed"
    assert breaker.failure_rate is None


async def test_ignored_and_unrecorded_exceptions() -> None:
    breaker, call = make(minimum_calls=2, window_size=2, ignore_on=(KeyError,))

    @breaker
    async def lookup() -> None:
        raise KeyError("x")

    for _ in range(5):
        with pytest.raises(KeyError):
            await lookup()
    await run(call, "full", "full", "full")  # our own rejections: never the dependency's fault
    assert breaker.window_counts() == (0, 0, 0)

    narrow = CircuitBreaker("narrow", minimum_calls=2, window_size=2, record_on=(ConnectionError,))

    @narrow
    async def other() -> None:
        raise ValueError

    for _ in range(2):
        with pytest.raises(ValueError):
            await other()
    assert narrow.failure_rate == 0.0  # not in record_on: counted as success
    assert narrow.state == "closed"


async def test_failure_if_result() -> None:
    breaker = CircuitBreaker(
        "http", minimum_calls=2, window_size=2, failure_if_result=lambda r: r >= 500
    )

    @breaker
    async def status(code: int) -> int:
        return code

    assert await status(503) == 503
    assert await status(200) == 200
    assert breaker.state == "open"


def _status_predicate(code: object) -> bool:
    if not isinstance(code, int):
        raise TypeError(f"expected a status code, got {code!r}")  # a buggy user predicate
    return code >= 500


async def test_a_raising_failure_if_result_is_a_failure_and_never_leaks_a_probe() -> None:
    breaker = CircuitBreaker(
        "http",
        minimum_calls=1,
        window_size=1,
        open_duration=10,
        half_open_calls=1,
        failure_if_result=_status_predicate,
    )

    @breaker
    async def status(code: object) -> object:
        return code

    assert await status(503) == 503
    assert breaker.state == "open"
    await asyncio.sleep(10)
    with pytest.raises(TypeError):
        await status("teapot")  # the only half-open probe; its predicate raises
    assert breaker.state == "open"  # recorded as the probe's failure: opened again
    await asyncio.sleep(10)
    assert await status(200) == 200  # a probe is admitted: the permit was not leaked
    assert breaker.state == "closed"


def test_a_raising_failure_if_result_is_a_failure_for_sync_calls_too() -> None:
    breaker = CircuitBreaker(
        "http",
        minimum_calls=1,
        window_size=1,
        open_duration=10,
        half_open_calls=1,
        failure_if_result=_status_predicate,
        clock=lambda: clock[0],
    )
    clock = [0.0]

    @breaker
    def status(code: object) -> object:
        return code

    assert status(503) == 503
    clock[0] = 10.0
    with pytest.raises(TypeError):
        status(None)
    assert breaker.state == "open"
    clock[0] = 20.0
    assert status(200) == 200 and breaker.state == "closed"


async def test_events_state_changed_and_rejected() -> None:
    events: list[object] = []
    _breaker, call = make(minimum_calls=1, window_size=1, open_duration=1)
    add_hook(events.append)
    try:
        await run(call, "fail", "ok")
        await asyncio.sleep(1)
        await run(call, "ok")
    finally:
        remove_hook(events.append)
    kinds = [e for e in events if isinstance(e, StateChanged | Rejected)]
    assert kinds == [
        StateChanged("dep", "closed", "open"),
        Rejected("dep", "circuit_breaker", 1.0),
        StateChanged("dep", "open", "half_open"),
        StateChanged("dep", "half_open", "closed"),
    ]


def test_sync_callable_thread_safe() -> None:
    breaker = CircuitBreaker("sync", minimum_calls=1000, window_size=1000)

    @breaker
    def work(i: int) -> int:
        if i % 4 == 0:
            raise Boom
        return i

    def worker(base: int) -> None:
        for i in range(base, base + 250):
            with contextlib.suppress(Boom):
                work(i)

    threads = [threading.Thread(target=worker, args=(k * 250,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert breaker.window_counts() == (1000, 250, 0)
    assert breaker.state == "closed"  # 0.25 < 0.5


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("failure_rate_threshold", 0),
        ("failure_rate_threshold", 1.5),
        ("slow_call_rate_threshold", -1),
        ("minimum_calls", 0),
        ("window_size", 2.5),
        ("window_type", "sliding"),
        ("half_open_calls", 0),
        ("open_duration", -1),
        ("max_wait_in_half_open", -1),
        ("record_on", "ValueError"),
    ],
)
def test_bad_settings_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field):
        CircuitBreaker("x", **{field: value})  # type: ignore[arg-type]


async def test_a_hint_shorter_than_the_open_duration_opens_the_breaker_for_the_hint() -> None:
    # open_duration 60 s, a 429 says Retry-After 10 s: the dependency asked for 10 s, so the
    # breaker is open 10 s (not 60), and half-open at t = 10 s. A hint on a breaker the failure
    # rate opened only lengthens it: the rate's 60 s stand against a later 5 s hint.
    breaker = CircuitBreaker("api", minimum_calls=100, open_duration=60, max_retry_after=60)

    @breaker
    async def call(hint: float | None) -> None:
        raise Overloaded(hint)

    with pytest.raises(Overloaded):
        await call(10)
    with pytest.raises(CircuitOpenError) as info:
        await call(None)
    assert info.value.retry_after == pytest.approx(10)
    await asyncio.sleep(10)
    assert breaker.effective_state == "half_open"

    rated = CircuitBreaker(
        "db", minimum_calls=2, failure_rate_threshold=0.5, open_duration=60, max_retry_after=60
    )

    @rated
    async def fail(hint: float | None) -> None:
        raise Overloaded(hint)

    for _ in range(2):
        with pytest.raises(Overloaded):
            await fail(None)
    assert rated.state == "open"
    with pytest.raises(CircuitOpenError) as info:
        await fail(5)
    assert info.value.retry_after == pytest.approx(60)
