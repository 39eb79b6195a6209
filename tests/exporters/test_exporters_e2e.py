"""Exporters end to end with real policies (virtual time): what a user reads off /metrics."""

from __future__ import annotations

import asyncio
import gc

import pytest
from prometheus_client import CollectorRegistry

from exporters import PrometheusHook, Readiness
from resilience import (
    Bulkhead,
    BulkheadFullError,
    CircuitBreaker,
    Fallback,
    Policy,
    Retry,
    Timeout,
    add_hook,
    remove_hook,
)
from resilience.events import StateChanged, global_hooks


def value(reg: CollectorRegistry, metric: str, **labels: str) -> float | None:
    return reg.get_sample_value(metric, labels)


def calls(reg: CollectorRegistry, policy: str) -> dict[str, float | None]:
    return {
        o: value(reg, "resilience_calls_total", policy=policy, outcome=o)
        for o in ("success", "failure", "rejected", "fallback")
    }


async def test_retry_timeout_and_bulkhead_policy() -> None:
    reg = CollectorRegistry()
    bulkhead = Bulkhead(max_concurrent=2, max_wait=0)
    policy = Policy(
        "inventory",
        retry=Retry(max_attempts=2, wait=0.1),
        timeout=Timeout(0.5),
        bulkhead=bulkhead,
        hooks=[PrometheusHook(reg)],
    )

    @policy
    async def lookup(delay: float) -> str:
        await asyncio.sleep(delay)
        return "in stock"

    for _ in range(3):
        assert await lookup(0.01) == "in stock"
    with pytest.raises(TimeoutError):
        await lookup(1.0)  # both attempts time out

    assert value(reg, "resilience_bulkhead_capacity", policy="inventory") == 2
    tasks = [asyncio.create_task(lookup(0.2)) for _ in range(3)]
    await asyncio.sleep(0.05)
    assert value(reg, "resilience_bulkhead_in_flight", policy="inventory") == 2
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert sum(isinstance(r, BulkheadFullError) for r in results) == 1
    assert value(reg, "resilience_bulkhead_in_flight", policy="inventory") == 0

    assert calls(reg, "inventory") == {"success": 5, "failure": 1, "rejected": 1, "fallback": 0}
    assert value(reg, "resilience_retries_total", policy="inventory") == 1
    assert value(reg, "resilience_timeouts_total", policy="inventory", kind="attempt") == 2
    assert value(reg, "resilience_rejections_total", policy="inventory", mechanism="bulkhead") == 1
    assert value(reg, "resilience_call_duration_seconds_count", policy="inventory") == 7
    # virtual time: 3 × 0.01 + (0.5 + 0.1 + 0.5) + 2 × 0.2 + the rejected call's 0
    assert value(reg, "resilience_call_duration_seconds_sum", policy="inventory") == pytest.approx(
        1.53, abs=1e-6
    )


async def test_breaker_state_readiness_and_fallbacks_of_a_critical_policy() -> None:
    reg = CollectorRegistry()
    readiness = Readiness()
    breaker = CircuitBreaker(
        "pricing",
        minimum_calls=2,
        window_size=2,
        failure_rate_threshold=0.5,
        open_duration=10,
        half_open_calls=1,
    )
    policy = Policy(
        "pricing",
        fallback=Fallback(lambda exc, sku: "list price"),
        circuit_breaker=breaker,
        critical=True,
        hooks=[PrometheusHook(reg), readiness],
    )
    healthy = {"up": False}

    @policy
    async def price(sku: str) -> str:
        if not healthy["up"]:
            raise ConnectionError("pricing down")
        return "live price"

    def state() -> str:
        on = [
            s
            for s in ("closed", "open", "half_open")
            if value(reg, "resilience_circuit_breaker_state", policy="pricing", state=s) == 1
        ]
        assert len(on) == 1
        return on[0]

    assert state() == "closed" and readiness.check().ready
    assert [await price("a"), await price("b")] == ["list price"] * 2  # trips the breaker
    assert state() == "open"
    report = readiness.check()
    assert not report.ready and report.open_critical == ("pricing",)
    assert await price("c") == "list price"  # refused by the open breaker, served by fallback
    assert (
        value(reg, "resilience_rejections_total", policy="pricing", mechanism="circuit_breaker")
        == 1
    )

    healthy["up"] = True
    await asyncio.sleep(10)  # open_duration passes (virtual time)
    assert await price("d") == "live price"  # the half-open probe succeeds: closed again
    assert state() == "closed" and readiness.check().ready
    assert calls(reg, "pricing") == {"success": 1, "failure": 0, "rejected": 0, "fallback": 3}
    transitions = {
        (f, t): value(
            reg,
            "resilience_circuit_breaker_transitions_total",
            policy="pricing",
            from_state=f,
            to_state=t,
        )
        for f, t in (("closed", "open"), ("open", "half_open"), ("half_open", "closed"))
    }
    assert transitions == {k: 1 for k in transitions}


async def test_a_global_hook_sees_policies_built_before_and_after_it() -> None:
    reg = CollectorRegistry()
    early = Policy("early", retry=Retry(max_attempts=1))
    hook = PrometheusHook(reg, names="resilience4j")
    add_hook(hook)
    try:
        late = Policy("late", circuit_breaker=CircuitBreaker("late", minimum_calls=100))

        @early
        async def one() -> int:
            return 1

        @late
        async def two() -> int:
            return 2

        assert await one() + await two() == 3
    finally:
        remove_hook(hook)
    assert (
        value(reg, "resilience4j_retry_calls_total", name="early", kind="successful_without_retry")
        == 1
    )
    assert (
        value(
            reg, "resilience4j_circuitbreaker_calls_seconds_count", name="late", kind="successful"
        )
        == 1
    )
    assert value(reg, "resilience4j_circuitbreaker_state", name="late", state="closed") == 1


async def test_gauges_stay_right_when_a_breaker_has_its_own_name_or_shares_the_policys() -> None:
    reg = CollectorRegistry()
    hook = PrometheusHook(reg, names="both")
    # the breakers' own (standalone) emitters are bound by the global hook too
    llm_breaker = CircuitBreaker("e2e-llm", minimum_calls=1, window_size=1, open_duration=60)
    primary = Policy("e2e-llm-primary", circuit_breaker=llm_breaker)
    search = Policy(
        "e2e-search",
        circuit_breaker=CircuitBreaker("e2e-search", minimum_calls=100),
        bulkhead=Bulkhead(max_concurrent=4),
    )
    gc.collect()  # policies other tests left behind would be bound by the global hook too
    add_hook(hook)
    try:
        add_hook(Readiness())  # another global hook: every emitter is bound again
        assert value(reg, "resilience_bulkhead_capacity", policy="e2e-search") == 4
        assert (
            value(reg, "resilience4j_bulkhead_max_allowed_concurrent_calls", name="e2e-search") == 4
        )

        @primary
        async def down() -> None:
            raise OSError("down")

        with pytest.raises(OSError):
            await down()  # trips the breaker
        for name in ("e2e-llm-primary", "e2e-llm"):  # the breaker's own series is not left stale
            assert value(reg, "resilience_circuit_breaker_state", policy=name, state="open") == 1
            assert value(reg, "resilience4j_circuitbreaker_state", name=name, state="open") == 1
        llm_breaker.reset()
        assert value(reg, "resilience_circuit_breaker_state", policy="e2e-llm", state="closed") == 1
    finally:
        for h in global_hooks():
            if h is hook or isinstance(h, Readiness):
                remove_hook(h)
    del search


async def test_an_open_breaker_past_its_open_duration_reads_half_open_without_traffic() -> None:
    # The load balancer stops sending traffic to an unready replica, so no call arrives to move
    # the breaker on: readiness and the gauge must read the state the next call would find.
    from aiohttp import web
    from aiohttp.test_utils import make_mocked_request

    from exporters.aiohttp import readyz_handler

    reg = CollectorRegistry()
    readiness = Readiness()
    transitions: list[object] = []
    breaker = CircuitBreaker("db", minimum_calls=1, window_size=1, open_duration=30)
    policy = Policy(
        "db",
        circuit_breaker=breaker,
        critical=True,
        hooks=[PrometheusHook(reg), readiness, transitions.append],
    )

    @policy
    async def query() -> None:
        raise ConnectionError("db down")

    with pytest.raises(ConnectionError):
        await query()
    readyz = readyz_handler(readiness)
    assert (await readyz(make_mocked_request("GET", "/readyz"))).status == 503
    await asyncio.sleep(29.9)
    assert (await readyz(make_mocked_request("GET", "/readyz"))).status == 503
    assert value(reg, "resilience_circuit_breaker_state", policy="db", state="open") == 1
    await asyncio.sleep(0.1)  # open_duration has passed, and still no call
    response = await readyz(make_mocked_request("GET", "/readyz"))
    assert response.status == 200 and isinstance(response, web.Response)
    assert response.text == "ready\n"
    assert {
        s: value(reg, "resilience_circuit_breaker_state", policy="db", state=s)
        for s in ("closed", "open", "half_open")
    } == {"closed": 0, "open": 0, "half_open": 1}
    # Read-only: the breaker itself moves on (and says so) only when the next call arrives.
    assert breaker.state == "open" and breaker.effective_state == "half_open"
    assert [e for e in transitions if isinstance(e, StateChanged)] == [
        StateChanged("db", "closed", "open")
    ]
