"""Sync functions under every mechanism a plan can hold (Flask, Django, `requests` callers).

Real threads and a real clock, with waits of at most ~50 ms: blocking calls wait on events that
the test sets, never on long sleeps.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from typing import Any

import pytest

from resilience import (
    AttemptTimeoutError,
    CircuitOpenError,
    DeadlineExceededError,
    Policy,
    Retry,
    TimedOut,
    Timeout,
    load_plan,
)

PLAN: dict[str, Any] = {
    "version": 1,
    "system": "flask-app",
    "mechanisms": {
        "payments": {
            "timeout": "50ms",
            "deadline": "2s",
            "retry": {"max_attempts": 3, "wait": {"kind": "none"}},
            "circuit_breaker": {"minimum_calls": 4, "window_size": 4, "open_duration": "60s"},
            "bulkhead": {"max_concurrent": 4, "max_wait": "10ms"},
            "rate_limiter": {"rate_per_second": 1000, "burst": 50, "max_wait": "10ms"},
            "hedge": {"delay": "p95"},
            "fallback": {},
        }
    },
}


def test_a_planned_policy_with_every_mechanism_decorates_a_def() -> None:
    plan = load_plan(PLAN)
    served: list[str] = []

    def cached(error: Exception, order: int) -> str:
        served.append(type(error).__name__)
        return f"queued {order}"

    payments = plan.policy("payments", fallback=cached)
    attempts: list[int] = []

    @payments
    def charge(order: int) -> str:
        attempts.append(order)
        if len(attempts) % 3:
            raise ConnectionError("flaky")
        return f"charged {order}"

    assert charge(1) == "charged 1"  # two failures, retried on the calling thread
    assert attempts == [1, 1, 1]

    @payments
    def down(order: int) -> str:
        attempts.append(order)
        raise ConnectionError("down")

    # The first failure makes 3 of 4 calls failed: the breaker opens, the retry meets it and
    # stops (our rejections are not retried), the fallback serves.
    assert down(2) == "queued 2"
    assert attempts[3:] == [2] and served == ["CircuitOpenError"]
    assert payments.circuit_breaker is not None and payments.circuit_breaker.state == "open"  # type: ignore[attr-defined]


def test_a_sync_timeout_returns_at_the_timeout_and_the_stuck_call_finishes_unseen() -> None:
    events: list[object] = []
    release = threading.Event()
    finished = threading.Event()
    policy = Policy("slow", timeout=Timeout(0.05), hooks=[events.append])

    @policy
    def stuck() -> str:
        release.wait(5)
        finished.set()
        return "late"

    start = time.monotonic()
    with pytest.raises(AttemptTimeoutError):
        stuck()
    waited = time.monotonic() - start
    assert 0.045 <= waited < 1.0
    assert TimedOut("slow", "attempt", 0.05) in events
    assert not finished.is_set()  # still running on its worker
    release.set()
    assert finished.wait(5)  # ... and it finished by itself; its result went nowhere


def test_the_worker_pool_bounds_stuck_calls_and_skips_abandoned_queued_ones() -> None:
    release = threading.Event()
    started: list[int] = []
    timeout = Timeout(0.05, max_sync_workers=2)

    @timeout
    def call(i: int) -> int:
        started.append(i)
        release.wait(5)
        return i

    for i in range(3):
        with pytest.raises(AttemptTimeoutError):
            call(i)
    assert sorted(started) == [0, 1]  # two workers hang; the third call waited for one in vain
    release.set()
    time.sleep(0.05)
    assert sorted(started) == [0, 1]  # the queued call, abandoned, never started
    assert call(9) == 9 and started[-1] == 9  # the workers are free again


def test_the_worker_sees_the_callers_context_and_the_deadline() -> None:
    tenant: contextvars.ContextVar[str] = contextvars.ContextVar("tenant", default="none")
    from resilience.layers import remaining_time

    seen: list[tuple[str, float | None]] = []

    @Policy("ctx", timeout=1.0, deadline=2.0)
    def work() -> None:
        seen.append((tenant.get(), remaining_time()))

    tenant.set("acme")
    work()
    ((name, left),) = seen
    assert name == "acme" and left is not None and 1.5 < left <= 2.0


def test_a_sync_deadline_stops_retrying_timed_out_attempts() -> None:
    release = threading.Event()
    attempts = 0

    @Policy("total", timeout=0.04, deadline=0.1, retry=Retry(max_attempts=10, wait=0))
    def hangs() -> None:
        nonlocal attempts
        attempts += 1
        release.wait(5)

    start = time.monotonic()
    with pytest.raises((DeadlineExceededError, AttemptTimeoutError)):
        hangs()
    assert time.monotonic() - start < 0.5
    assert 2 <= attempts <= 3  # 0.1 s of 0.04 s attempts, not 10 attempts
    release.set()


def test_a_sync_call_that_waits_is_refused_inside_a_running_event_loop() -> None:
    @Policy("blocking", retry=Retry(max_attempts=3, wait=0.1), timeout=1.0)
    def fetch() -> str:
        return "ok"

    async def handler() -> str:
        return fetch()

    with pytest.raises(RuntimeError, match=r"would block the running event loop.*async def"):
        asyncio.run(handler())

    async def offloaded() -> str:
        return await asyncio.to_thread(fetch)  # the documented way out

    assert asyncio.run(offloaded()) == "ok"


def test_an_open_breaker_refuses_sync_calls_without_a_worker() -> None:
    from resilience import CircuitBreaker

    breaker = CircuitBreaker("dep", minimum_calls=1, window_size=1)
    policy = Policy("dep", circuit_breaker=breaker, timeout=0.05)
    breaker.force_open()

    @policy
    def call() -> None:
        raise AssertionError("never runs")

    with pytest.raises(CircuitOpenError):
        call()
