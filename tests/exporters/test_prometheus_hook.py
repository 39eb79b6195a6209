"""PrometheusHook: DESIGN.md's metrics, by value, from events emitted through a policy's Emitter."""

from __future__ import annotations

import asyncio
import gc
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest

from exporters._watch import BREAKER_STATES
from exporters.prometheus import PrometheusHook
from resilience import (
    BulkheadFullError,
    CallFinished,
    CallOutcome,
    CircuitOpenError,
    ConfigError,
    Policy,
    PolicyInfo,
    Rejected,
    Retry,
    RetryScheduled,
    StateChanged,
    TimedOut,
    TimeoutKind,
    add_hook,
    remove_hook,
)
from resilience.events import Emitter, StorageError
from resilience.testing import VirtualTimeLoop


def value(reg: CollectorRegistry, metric: str, **labels: str) -> float | None:
    return reg.get_sample_value(metric, labels)


class Breaker:
    """Stands in for a breaker: its state is read by the hook at bind time and by probes."""

    def __init__(self, state: str = "closed") -> None:
        self.state = state

    def current(self) -> str:
        return self.state


def policy(
    name: str = "payments",
    *,
    mechanisms: tuple[str, ...] = ("retry", "circuit_breaker"),
    breaker: Breaker | None = None,
    critical: bool = False,
) -> PolicyInfo:
    return PolicyInfo(
        name, mechanisms, breaker_state=breaker.current if breaker else None, critical=critical
    )


def test_breaker_state_is_read_live_at_scrape_time() -> None:
    reg = CollectorRegistry()
    breaker = Breaker("closed")
    Emitter(policy(breaker=breaker), [PrometheusHook(reg, names="both")])
    breaker.state = "forced_open"  # e.g. an operator forced it open: no event reached this hook
    assert (
        value(reg, "resilience_circuit_breaker_state", policy="payments", state="forced_open") == 1
    )
    assert (
        value(reg, "resilience4j_circuitbreaker_state", name="payments", state="forced_open") == 1
    )
    assert value(reg, "resilience_circuit_breaker_state", policy="payments", state="closed") == 0


def test_series_exist_at_zero_and_breaker_state_is_set_when_the_policy_is_built() -> None:
    reg = CollectorRegistry()
    breaker = Breaker("forced_open")
    Emitter(policy(breaker=breaker), [PrometheusHook(reg)])

    for outcome in CallOutcome:
        assert value(reg, "resilience_calls_total", policy="payments", outcome=outcome) == 0
    assert value(reg, "resilience_retries_total", policy="payments") == 0
    assert (
        value(reg, "resilience_rejections_total", policy="payments", mechanism="circuit_breaker")
        == 0
    )
    assert (
        value(reg, "resilience_rejections_total", policy="payments", mechanism="retry_budget") == 0
    )
    states = {
        s: value(reg, "resilience_circuit_breaker_state", policy="payments", state=s)
        for s in BREAKER_STATES
    }
    assert states == {s: (1.0 if s == "forced_open" else 0.0) for s in BREAKER_STATES}
    # a policy without a bulkhead has no bulkhead series and no rejection series for it
    assert (
        value(reg, "resilience_rejections_total", policy="payments", mechanism="bulkhead") is None
    )
    assert value(reg, "resilience_bulkhead_capacity", policy="payments") is None


@given(
    st.lists(st.sampled_from(list(CallOutcome)), max_size=60),
    st.lists(st.floats(0, 20), min_size=1, max_size=60),
)
def test_calls_total_and_duration_equal_the_calls_made(
    outcomes: list[CallOutcome], durations: list[float]
) -> None:
    reg = CollectorRegistry()
    emitter = Emitter(policy(), [PrometheusHook(reg)])
    made = [(o, durations[i % len(durations)]) for i, o in enumerate(outcomes)]
    for outcome, duration in made:
        emitter.emit(CallFinished("payments", outcome, duration))

    expected = Counter(o for o, _ in made)
    for outcome in CallOutcome:
        assert (
            value(reg, "resilience_calls_total", policy="payments", outcome=outcome)
            == expected[outcome]
        )
    assert value(reg, "resilience_call_duration_seconds_count", policy="payments") == len(made)
    assert value(reg, "resilience_call_duration_seconds_sum", policy="payments") == pytest.approx(
        sum(d for _, d in made)
    )
    within_1s = sum(1 for _, d in made if d <= 1.0)
    assert (
        value(reg, "resilience_call_duration_seconds_bucket", policy="payments", le="1.0")
        == within_1s
    )


def test_retries_rejections_and_timeouts_are_counted_by_label() -> None:
    reg = CollectorRegistry()
    emitter = Emitter(
        policy(mechanisms=("retry", "circuit_breaker", "bulkhead")), [PrometheusHook(reg)]
    )
    for attempt in (1, 2, 1):
        emitter.emit(RetryScheduled("payments", attempt, 0.1, OSError("reset")))
    for mechanism in ("bulkhead", "circuit_breaker", "bulkhead", "retry_budget", "rate_limiter"):
        emitter.emit(Rejected("payments", mechanism))
    for kind in (TimeoutKind.ATTEMPT, TimeoutKind.ATTEMPT, TimeoutKind.DEADLINE):
        emitter.emit(TimedOut("payments", kind, 1.5))

    assert value(reg, "resilience_retries_total", policy="payments") == 3
    rejections = {
        m: value(reg, "resilience_rejections_total", policy="payments", mechanism=m)
        for m in ("bulkhead", "circuit_breaker", "retry_budget", "rate_limiter")
    }
    assert rejections == {"bulkhead": 2, "circuit_breaker": 1, "retry_budget": 1, "rate_limiter": 1}
    assert value(reg, "resilience_timeouts_total", policy="payments", kind="attempt") == 2
    assert value(reg, "resilience_timeouts_total", policy="payments", kind="deadline") == 1


@given(st.lists(st.sampled_from(BREAKER_STATES), max_size=30), st.booleans())
def test_breaker_state_is_one_hot_and_transitions_are_counted(
    path: list[str], live_readout: bool
) -> None:
    """With a live readout the gauge shows the breaker's state; without, the last event's."""
    reg = CollectorRegistry()
    breaker = Breaker("closed")
    info = policy(breaker=breaker) if live_readout else policy()
    emitter = Emitter(info, [PrometheusHook(reg)])
    current = "closed"
    for to_state in path:
        breaker.state = to_state  # a breaker changes state, then reports the transition
        emitter.emit(StateChanged("payments", current, to_state))
        current = to_state

    states = {
        s: value(reg, "resilience_circuit_breaker_state", policy="payments", state=s)
        for s in BREAKER_STATES
    }
    assert states == {s: (1.0 if s == current else 0.0) for s in BREAKER_STATES}
    steps = Counter(zip(["closed", *path], path, strict=False))
    for (from_state, to_state), count in steps.items():
        assert (
            value(
                reg,
                "resilience_circuit_breaker_transitions_total",
                policy="payments",
                from_state=from_state,
                to_state=to_state,
            )
            == count
        )


def test_bulkhead_gauges_are_read_at_scrape_time_and_vanish_with_the_policy() -> None:
    reg = CollectorRegistry()

    class Bulkhead:
        in_flight = 0

        def count(self) -> int:
            return self.in_flight

        def capacity(self) -> int:
            return 8

    bulkhead = Bulkhead()
    info = PolicyInfo(
        "search",
        ("bulkhead",),
        bulkhead_in_flight=bulkhead.count,
        bulkhead_capacity=bulkhead.capacity,
    )
    emitter = Emitter(info, [PrometheusHook(reg, names="both")])
    del info
    assert value(reg, "resilience_bulkhead_in_flight", policy="search") == 0
    bulkhead.in_flight = 5  # no event: the gauge reads the live value when scraped
    assert value(reg, "resilience_bulkhead_in_flight", policy="search") == 5
    assert value(reg, "resilience_bulkhead_capacity", policy="search") == 8
    assert value(reg, "resilience4j_bulkhead_available_concurrent_calls", name="search") == 3
    assert value(reg, "resilience4j_bulkhead_max_allowed_concurrent_calls", name="search") == 8

    del emitter, bulkhead
    gc.collect()
    assert value(reg, "resilience_bulkhead_in_flight", policy="search") is None


def test_global_hook_binds_existing_and_future_policies() -> None:
    reg = CollectorRegistry()
    before = Emitter(policy("before"))
    hook = PrometheusHook(reg)
    add_hook(hook)
    try:
        after = Emitter(policy("after"))
        before.emit(CallFinished("before", CallOutcome.SUCCESS, 0.01))
        after.emit(CallFinished("after", CallOutcome.FAILURE, 0.01))
    finally:
        remove_hook(hook)
    assert value(reg, "resilience_calls_total", policy="before", outcome="success") == 1
    assert value(reg, "resilience_calls_total", policy="after", outcome="failure") == 1


def test_hooks_sharing_a_registry_share_its_metrics() -> None:
    reg = CollectorRegistry()
    first = Emitter(policy(), [PrometheusHook(reg)])
    second = Emitter(policy(), [PrometheusHook(reg, names="both")])
    first.emit(CallFinished("payments", CallOutcome.SUCCESS, 0.01))
    second.emit(CallFinished("payments", CallOutcome.SUCCESS, 0.01))
    assert value(reg, "resilience_calls_total", policy="payments", outcome="success") == 2


def test_unknown_names_option_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="names must be"):
        PrometheusHook(CollectorRegistry(), names="micrometer")  # type: ignore[arg-type]


def test_resilience4j_names_for_breaker_and_retry() -> None:
    reg = CollectorRegistry()
    breaker = Breaker("closed")
    emitter = Emitter(policy("llm", breaker=breaker), [PrometheusHook(reg, names="resilience4j")])
    assert value(reg, "resilience_calls_total", policy="llm", outcome="success") is None
    assert value(reg, "resilience4j_circuitbreaker_state", name="llm", state="closed") == 1

    emitter.emit(CallFinished("llm", CallOutcome.SUCCESS, 0.2))  # first try
    emitter.emit(RetryScheduled("llm", 1, 0.1))
    emitter.emit(CallFinished("llm", CallOutcome.SUCCESS, 0.5, attempts=2))  # after a retry
    emitter.emit(RetryScheduled("llm", 1, 0.1))
    emitter.emit(RetryScheduled("llm", 2, 0.1))
    emitter.emit(CallFinished("llm", CallOutcome.FAILURE, 0.7, attempts=3))  # retries exhausted
    emitter.emit(CallFinished("llm", CallOutcome.FALLBACK, 0.1))  # failed at once, fallback served
    emitter.emit(Rejected("llm", "circuit_breaker"))
    emitter.emit(CallFinished("llm", CallOutcome.REJECTED, 0.0, CircuitOpenError("open")))
    emitter.emit(CallFinished("llm", CallOutcome.REJECTED, 0.0, BulkheadFullError("full")))
    breaker.state = "open"
    emitter.emit(StateChanged("llm", "closed", "open"))

    retry = {
        k: value(reg, "resilience4j_retry_calls_total", name="llm", kind=k)
        for k in (
            "successful_without_retry",
            "successful_with_retry",
            "failed_without_retry",
            "failed_with_retry",
        )
    }
    assert retry == {
        "successful_without_retry": 1,
        "successful_with_retry": 1,
        "failed_without_retry": 3,
        "failed_with_retry": 1,
    }
    calls = {
        k: value(reg, "resilience4j_circuitbreaker_calls_seconds_count", name="llm", kind=k)
        for k in ("successful", "failed", "ignored")
    }
    assert calls == {"successful": 2, "failed": 2, "ignored": 1}
    assert value(
        reg, "resilience4j_circuitbreaker_calls_seconds_sum", name="llm", kind="successful"
    ) == pytest.approx(0.7)
    assert (
        value(
            reg,
            "resilience4j_circuitbreaker_not_permitted_calls_total",
            name="llm",
            kind="not_permitted",
        )
        == 1
    )
    assert value(reg, "resilience4j_circuitbreaker_state", name="llm", state="open") == 1
    assert value(reg, "resilience4j_circuitbreaker_state", name="llm", state="closed") == 0


async def test_resilience4j_retry_kind_is_the_calls_own_attempt_count() -> None:
    """Concurrent calls through a real Retry, with a slow hook ahead of the exporter: each call is
    counted by the attempts it made, whatever ran between its attempts and its `CallFinished`."""
    reg = CollectorRegistry()

    def slow_hook(event: object) -> None:
        if isinstance(event, CallFinished):  # time passes between the call's end and the exporter
            loop = asyncio.get_running_loop()
            assert isinstance(loop, VirtualTimeLoop)
            loop.advance(0.5)

    attempts: dict[str, int] = {}
    plan = {"a": 3, "b": 1, "c": 9, "d": 1, "e": 2, "f": 9}  # attempt that succeeds (9: never)
    calls = Policy(
        "llm",
        retry=Retry(max_attempts=3, wait=0.05),
        hooks=[slow_hook, PrometheusHook(reg, names="resilience4j")],
    )

    @calls
    async def call(key: str) -> str:
        attempts[key] = attempts.get(key, 0) + 1
        if attempts[key] < plan[key]:
            raise OSError(key)  # at once: the retry is scheduled when the call starts
        await asyncio.sleep(0.01)  # interleave with the other calls
        return key

    results = await asyncio.gather(*(call(k) for k in plan), return_exceptions=True)
    assert [isinstance(r, OSError) for r in results] == [False, False, True, False, False, True]
    retry = {
        k: value(reg, "resilience4j_retry_calls_total", name="llm", kind=k)
        for k in (
            "successful_without_retry",
            "successful_with_retry",
            "failed_without_retry",
            "failed_with_retry",
        )
    }
    assert retry == {
        "successful_without_retry": 2,  # b, d
        "successful_with_retry": 2,  # a, e
        "failed_without_retry": 0,
        "failed_with_retry": 2,  # c, f
    }


async def test_call_finished_carries_the_attempts_made() -> None:
    seen: list[CallFinished] = []
    flaky = {"n": 0}

    def record(event: object) -> None:
        if isinstance(event, CallFinished):
            seen.append(event)

    @Policy("p", retry=Retry(max_attempts=4, wait=0), hooks=[record])
    async def call(fail: int) -> None:
        flaky["n"] += 1
        if flaky["n"] <= fail:
            raise OSError("down")

    for fail in (0, 1, 3):
        flaky["n"] = 0
        await call(fail)
    with pytest.raises(OSError):
        flaky["n"] = 0
        await call(9)
    assert [(e.outcome, e.attempts) for e in seen] == [
        (CallOutcome.SUCCESS, 1),
        (CallOutcome.SUCCESS, 2),
        (CallOutcome.SUCCESS, 4),
        (CallOutcome.FAILURE, 4),
    ]


def test_exposition_has_no_exception_text_or_attempt_numbers() -> None:
    reg = CollectorRegistry()
    emitter = Emitter(policy(), [PrometheusHook(reg, names="both")])
    for attempt in range(1, 50):
        emitter.emit(RetryScheduled("payments", attempt, 0.1, OSError(f"reset #{attempt}")))
        emitter.emit(CallFinished("payments", CallOutcome.FAILURE, 0.1, OSError(f"x{attempt}")))
    text = generate_latest(reg).decode()
    assert "reset" not in text and "x17" not in text
    series = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert len(series) < 120  # fixed by the label sets, not by the 98 events


async def test_a_retry_of_a_cancelled_call_is_not_credited_to_the_next_call() -> None:
    reg = CollectorRegistry()
    emitter = Emitter(policy("llm"), [PrometheusHook(reg, names="resilience4j")])
    loop = asyncio.get_running_loop()

    # a call schedules a retry and is then cancelled: no CallFinished
    emitter.emit(RetryScheduled("llm", 1, 0.1))
    await asyncio.sleep(1.0)
    # the next call in the same task succeeds at once
    start = loop.time()
    await asyncio.sleep(0.2)
    emitter.emit(CallFinished("llm", CallOutcome.SUCCESS, loop.time() - start))

    assert (
        value(reg, "resilience4j_retry_calls_total", name="llm", kind="successful_without_retry")
        == 1
    )
    assert (
        value(reg, "resilience4j_retry_calls_total", name="llm", kind="successful_with_retry") == 0
    )


def test_a_raising_readout_drops_its_gauge_but_not_the_scrape(
    caplog: pytest.LogCaptureFixture,
) -> None:
    reg = CollectorRegistry()

    def broken() -> int:
        raise RuntimeError("readout bug")

    info = PolicyInfo(
        "odd",
        ("bulkhead", "circuit_breaker"),
        breaker_state=lambda: "closed",
        bulkhead_in_flight=broken,
        bulkhead_capacity=lambda: 3,
    )
    emitter = Emitter(info, [PrometheusHook(reg)])
    emitter.emit(CallFinished("odd", CallOutcome.SUCCESS, 0.1))
    text = generate_latest(reg).decode()
    assert 'resilience_calls_total{outcome="success",policy="odd"} 1.0' in text
    assert "resilience_bulkhead_in_flight{" not in text
    assert 'resilience_circuit_breaker_state{policy="odd",state="closed"} 1.0' in text
    assert "bulkhead readout of policy 'odd' raised" in caplog.text


def test_a_storage_emitter_is_recognised_by_its_field_not_by_its_mechanisms() -> None:
    reg = CollectorRegistry()
    hook = PrometheusHook(reg)
    # A storage's events about the bucket "provider": counted as storage errors only.
    Emitter(PolicyInfo("provider", storage="redis"), [hook]).emit(
        StorageError("provider", "redis", "reserve", "ConnectionError")
    )
    # A policy that happens to list a mechanism called "storage" is an ordinary policy.
    Emitter(PolicyInfo("odd", ("storage",)), [hook])
    text = generate_latest(reg).decode()
    assert 'resilience_storage_errors_total{operation="reserve",policy="provider"} 1.0' in text
    provider = [line for line in text.splitlines() if 'policy="provider"' in line]
    assert provider and all(line.startswith("resilience_storage_errors") for line in provider)
    assert 'resilience_calls_total{outcome="success",policy="odd"} 0.0' in text


async def test_breaker_state_gauge_follows_the_live_breaker_in_the_readme_order() -> None:
    # load_plan → add_hook(PrometheusHook()) → plan.policy(fallback=...) → exporters.setup(app):
    # `setup` installs the readiness hook, which re-binds every emitter in no particular order.
    from aiohttp import web

    from exporters.aiohttp import setup
    from resilience import load_plan

    names = [f"dep-{i}" for i in range(50)]
    breaker = {"minimum_calls": 1, "window_size": 1, "open_duration": 60}
    plan = load_plan(
        {
            "version": 1,
            "system": "s",
            "mechanisms": {n: {"circuit_breaker": breaker, "fallback": {}} for n in names},
        }
    )
    reg = CollectorRegistry()
    hook = PrometheusHook(reg)
    add_hook(hook)

    async def cached(exc: Exception) -> str:
        return "cached"

    def later_hook(event: object) -> None:
        return None

    try:
        policies = [plan.policy(n, fallback=cached) for n in names]
        setup(web.Application(), registry=reg)
        add_hook(later_hook)  # as `setup` does on first use (the readiness hook)
        for policy in policies:

            @policy
            async def down() -> str:
                raise ConnectionError("down")

            assert await down() == "cached"
            assert policy.circuit_breaker is not None and policy.circuit_breaker.state == "open"  # type: ignore[attr-defined]
        wrong = [
            n
            for n in names
            if value(reg, "resilience_circuit_breaker_state", policy=n, state="open") != 1.0
            or value(reg, "resilience_circuit_breaker_state", policy=n, state="closed") != 0.0
        ]
        assert wrong == []
    finally:
        remove_hook(hook)
        remove_hook(later_hook)
