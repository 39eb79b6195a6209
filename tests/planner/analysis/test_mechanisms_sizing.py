"""Mechanisms sized for the failure they contain (issue 14, part 3), on hand-computed specs.

Each test writes its arithmetic next to the figure it checks, so a reader can redo it by hand.
"""

from __future__ import annotations

from typing import Any

import pytest

from planner.analysis import mechanisms
from planner.analysis.graph import Graph
from planner.spec import parse_spec


def derive(components: list[dict[str, Any]]) -> mechanisms.Mechanisms:
    doc = {"version": 1, "system": "s", "tier": "high", "components": components}
    return mechanisms.derive(Graph(parse_spec(doc)))


def reason(m: mechanisms.Mechanisms, policy: str, mechanism: str) -> str:
    return next(r.reason for r in m.rows if r.policy == policy and r.mechanism == mechanism)


def shop() -> mechanisms.Mechanisms:
    """An API at 100 rps with a 1 s budget: a cache (falls back to the database), a database
    called twice per request, and a search called by one request in ten."""
    return derive(
        [
            {
                "name": "api",
                "kind": "service",
                "entry_point": True,
                "rps": 100,
                "latency": {"p50": "20ms", "p99": "300ms"},
                "latency_budget": "1s",
                "dependencies": [
                    {"target": "cache", "type": "soft", "fallback": "db"},
                    {"target": "db", "calls_per_request": 2},
                    {"target": "search", "calls_per_request": 0.1},
                ],
            },
            {"name": "cache", "kind": "cache", "latency": {"p50": "1ms", "p99": "2ms"}},
            {"name": "db", "kind": "database", "latency": {"p50": "5ms", "p99": "40ms"}},
            {"name": "search", "kind": "search", "latency": {"p50": "30ms", "p99": "100ms"}},
        ]
    )


def test_deadlines_count_repeated_calls_at_their_p99_and_rare_calls_whole() -> None:
    m = shop()
    # db: the other calls cost cache 2ms × 1 + search 100ms × ⌈0.1⌉ = 102ms (not 10ms: a request
    # that searches waits the whole p99); db itself is called twice, so each call gets half:
    # (1s − 20ms − 102ms) / 2 = 439ms → 430ms rounded down to 10ms
    assert m.table["db"]["deadline"] == pytest.approx(0.43)
    assert "÷ 2 calls per request = 430ms" in reason(m, "db", "deadline")
    # search: cache 2ms + db 40ms × 2 = 82ms; 1s − 20ms − 82ms = 898ms → 890ms
    assert m.table["search"]["deadline"] == pytest.approx(0.89)


def test_idempotency_follows_the_operation() -> None:
    m = shop()
    # a database call is a write by default: one attempt
    assert "retry" not in m.table["db"]
    assert "database calls are writes" in reason(m, "db", "retry")
    # a search call is a read: timeout 100ms × 1.5 = 150ms; backoff from max(p50 30ms, 50ms) =
    # 50ms: 3 × 150ms + (50 + 100)ms = 600ms ≤ 890ms → 3 attempts
    assert m.table["search"]["retry"]["max_attempts"] == 3


def test_a_cache_with_a_fallback_is_not_retried() -> None:
    m = shop()
    assert "retry" not in m.table["cache"]
    assert "cheaper than waiting" in reason(m, "cache", "retry")


def test_bulkheads_hold_a_slowdown_up_to_the_attempt_timeout_with_a_floor() -> None:
    m = shop()
    # db: 100 rps × 2 calls = 200 calls/s × timeout 40ms × 1.5 = 60ms → L = 12 in flight;
    # max(12 × 1.5 = 18, 12 + 3√12 = 22.4) → 23 (from p99 it would have been L = 8 → 17)
    assert m.table["db"]["bulkhead"] == {"max_concurrent": 23}
    # cache: 100 calls/s × 10ms (the 2ms × 1.5 = 3ms rounded up to 10ms) = 1 → 4, floor 10
    assert m.table["cache"]["bulkhead"] == {"max_concurrent": 10}
    # search: 10 calls/s × 150ms = 1.5 → 6, floor 10
    assert m.table["search"]["bulkhead"] == {"max_concurrent": 10}


def test_breakers_trip_at_half_of_nominal_traffic() -> None:
    m = shop()
    # search: 10 calls/s, half of it over 10s = 50 calls; a full outage at full traffic trips in
    # 50 / 10 = 5s, at half traffic in 10s: the 10s window holds it
    breaker = m.table["search"]["circuit_breaker"]
    assert (breaker["minimum_calls"], breaker["window_size"]) == (50, 10)
    # db: 200 calls/s → 1,000 calls, capped at 100: trips in 100 / 200 = 0.5s
    assert m.table["db"]["circuit_breaker"]["minimum_calls"] == 100


def test_the_fallback_call_names_its_policy_and_the_load_it_takes() -> None:
    m = shop()
    text = reason(m, "cache", "fallback")
    # db already takes 200/s from api; the cache's 100/s moves onto it: 300/s, no quota declared
    assert "calls db through policy 'db'" in text
    assert "takes 100/s more (300/s in all)" in text


def low_traffic_jobs(**queue: Any) -> mechanisms.Mechanisms:
    """A job runner at 0.5 rps: a queue, a model API with a rate-limited second provider."""
    return derive(
        [
            {
                "name": "jobs",
                "kind": "service",
                "entry_point": True,
                "rps": 0.5,
                "latency": {"p50": "100ms", "p99": "1s"},
                "latency_budget": "10s",
                "dependencies": [
                    {"target": "queue", **queue},
                    {"target": "llm1", "fallback": "llm2"},
                    {"target": "llm2", "type": "soft"},
                ],
            },
            {"name": "queue", "kind": "queue", "latency": {"p50": "5ms", "p99": "20ms"}},
            {"name": "llm1", "kind": "llm_api", "latency": {"p50": "500ms", "p99": "2s"}},
            {
                "name": "llm2",
                "kind": "llm_api",
                "latency": {"p50": "1s", "p99": "3s"},
                "quota": {"rps": 0.25},
            },
        ]
    )


def test_low_traffic_breakers_get_a_longer_window() -> None:
    m = low_traffic_jobs()
    # half of 0.5 calls/s over 10s = 2.5 calls, floored at 5; holding 5 calls at 0.25/s takes
    # 20s; a full outage at full traffic trips in 5 / 0.5 = 10s
    breaker = m.table["llm1"]["circuit_breaker"]
    assert (breaker["minimum_calls"], breaker["window_size"]) == (5, 20)
    trip = next(r for r in m.rows if r.policy == "llm1" and r.mechanism == "circuit_breaker")
    assert trip.figures["trip"].value == pytest.approx(10.0)


def test_a_fallback_over_its_quota_is_reported_with_the_share_it_holds() -> None:
    m = low_traffic_jobs()
    # llm2 already takes 0.5/s; llm1's 0.5/s moves onto it: 1/s against a 0.25/s quota → 25 %
    row = next(r for r in m.rows if r.policy == "llm1" and r.mechanism == "fallback")
    assert row.figures["fallback_capacity"].value == pytest.approx(0.25)
    assert "it holds only 25%" in row.reason
    # llm2 itself is a soft dependency: its fallback answers at once, no retries
    assert "retry" not in m.table["llm2"]
    # llm1: deadline 10s − 100ms − queue 20ms − llm2's timeout 4.5s = 5.38s; timeout 3s;
    # two attempts need 2 × 3s + 500ms backoff = 6.5s > 5.38s → one attempt
    assert m.table["llm1"]["deadline"] == pytest.approx(5.38)
    assert "retry" not in m.table["llm1"]


def test_a_fallback_without_a_declared_edge_gets_a_policy_of_its_own() -> None:
    m = derive(
        [
            {
                "name": "web",
                "kind": "service",
                "entry_point": True,
                "rps": 10,
                "dependencies": [{"target": "cache", "fallback": "db"}],
            },
            {"name": "cache", "kind": "cache", "latency": {"p99": "2ms"}},
            {"name": "db", "kind": "database", "latency": {"p99": "40ms"}},
        ]
    )
    # no longer unguarded: the call web → db gets `web.db` (see test_fallback_call.py)
    assert "calls db through policy 'web.db'" in reason(m, "cache", "fallback")
    assert "web.db" in m.table


def test_queue_writes_retry_only_when_declared_idempotent() -> None:
    assert "retry" not in low_traffic_jobs().table["queue"]
    assert "queue calls are writes" in reason(low_traffic_jobs(), "queue", "retry")
    declared = low_traffic_jobs(idempotent=True)
    # 20ms × 1.5 = 30ms per attempt, backoff from 50ms: 3 × 30ms + 150ms = 240ms fits
    assert declared.table["queue"]["retry"]["max_attempts"] == 3
