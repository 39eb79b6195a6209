"""plan.policy(name, chaos=[...]): fault injection innermost in a plan policy, kept on reload."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from chaos.injection import FaultInjection, LatencyInjection, inject, registry
from resilience import (
    ChaosInjected,
    CircuitBreaker,
    ConfigError,
    Retry,
    add_hook,
    load_plan,
    remove_hook,
)
from resilience.events import Event


def _write(path: Path, **mechanisms: Any) -> Path:
    path.write_text(yaml.safe_dump({"version": 1, "system": "s", "mechanisms": mechanisms}))
    return path


def _retried(attempts: int) -> dict[str, Any]:
    return {
        "retry": {"max_attempts": attempts, "wait": {"kind": "none"}},
        "circuit_breaker": {"minimum_calls": 100, "window_size": 100},
    }


async def test_injected_faults_reach_every_mechanism_of_the_plan_and_survive_a_reload(
    tmp_path: Path,
) -> None:
    seen: list[Event] = []
    add_hook(seen.append)
    try:
        path = _write(tmp_path / "plan.yaml", search=_retried(3))
        plan = load_plan(path)
        fault = FaultInjection(ConnectionError, injection_rate=1.0, enabled=True)
        search = plan.policy("search", chaos=[fault])
        real_calls = 0

        @search
        async def query() -> str:
            nonlocal real_calls
            real_calls += 1
            return "hits"

        with pytest.raises(ConnectionError):
            await query()
        breaker = search.circuit_breaker
        assert isinstance(breaker, CircuitBreaker)
        # Innermost: each of the 3 attempts was retried and recorded by the breaker as a failure.
        assert real_calls == 0 and breaker.window_counts() == (3, 3, 0)
        assert [e for e in seen if isinstance(e, ChaosInjected)] == [
            ChaosInjected("search", "fault")
        ] * 3
        assert fault in registry.injections("search")  # the admin endpoint finds it by name

        plan.reload(_write(path, search=_retried(2)))
        assert search.chaos == (fault,) and isinstance(search.retry, Retry)
        with pytest.raises(ConnectionError):
            await query()
        assert breaker.window_counts() == (5, 5, 0)  # 2 more attempts, still injected
        fault.disable()
        assert await query() == "hits"
    finally:
        remove_hook(seen.append)


def test_the_same_policy_for_the_same_strategies_and_an_error_for_others() -> None:
    mechanisms = {"db": {"timeout": 1}, "cache": {}}
    plan = load_plan({"version": 1, "system": "s", "mechanisms": mechanisms})
    slow = LatencyInjection(2.0)
    db = plan.policy("db", chaos=slow)
    assert plan.policy("db") is db and plan.policy("db", chaos=[slow]) is db
    with pytest.raises(ConfigError, match="'db' was already built with other chaos strategies"):
        plan.policy("db", chaos=[slow, FaultInjection(ConnectionError)])
    assert db.describe().splitlines()[-2].split(". ", 1)[1].startswith("LatencyInjection(")
    with pytest.raises(ConfigError, match="'cache' chaos: expected a resilience mechanism"):
        plan.policy("cache", chaos=["latency"])  # type: ignore[list-item]
    assert plan.policy("cache").chaos == ()  # the refused one was not kept


async def test_inject_still_works_for_a_plan_policy() -> None:
    plan = load_plan({"version": 1, "system": "s", "mechanisms": {"api": {"timeout": 1}}})
    api = plan.policy("api")
    fault = FaultInjection(KeyError, injection_rate=1.0, enabled=True)

    @api
    @inject(api, fault)
    async def fetch() -> str:
        return "ok"

    with pytest.raises(KeyError):
        await fetch()
    assert fault.injected == 1
