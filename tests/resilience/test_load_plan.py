"""load_plan: every option of the file reaches the built mechanisms; inheritance; the registry."""

from __future__ import annotations

import asyncio
import builtins
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import tenacity
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from resilience import (
    AdaptiveLimiter,
    Bulkhead,
    CircuitBreaker,
    CircuitOpenError,
    ConfigError,
    Fallback,
    Gradient2,
    Hedge,
    PlanError,
    Policy,
    RateLimiter,
    Retry,
    add_hook,
    load_plan,
    remove_hook,
)
from resilience.config import (
    AdaptiveLimiterConfig,
    BulkheadConfig,
    CircuitBreakerConfig,
    ExponentialOpenDuration,
    FallbackConfig,
    HedgeConfig,
    PolicyConfig,
    RateLimiterConfig,
    RetryBudgetConfig,
    RetryConfig,
    SharesConfig,
)
from resilience.events import Event, StateChanged
from resilience.retry import FullJitterBackoff


def is_overloaded(result: object) -> bool:
    """Used by the plans below as a dotted-path predicate."""
    return result == "overloaded"


def is_empty(result: object) -> bool:
    return result == ""


def is_slow_answer(result: object) -> bool:
    return result == "slow"


async def serve_cached(*args: object, **kwargs: object) -> str:
    return "cached"


HERE = "tests.resilience.test_load_plan"
# Registered as a list: each function is found under its name and its dotted path (HERE.name).
FUNCTIONS = [is_overloaded, is_slow_answer, serve_cached, is_empty]

EVERYTHING: dict[str, Any] = {
    "critical": True,
    "timeout": "250ms",
    "deadline": "10s",
    "retry": {
        "max_attempts": 4,
        "wait": {
            "kind": "exponential_jitter",
            "initial": 0.2,
            "max": "5s",
            "exp_base": 3,
            "jitter": 0.5,
        },
        "retry_on": ["aiohttp.ClientError", "TimeoutError"],
        "retry_if_result": f"{HERE}.is_overloaded",
        "max_retry_after": "30s",
        "budget": {"ratio": 0.25, "min_per_second": 5, "ttl": 20},
        "retry_when_nested": True,
    },
    "circuit_breaker": {
        "failure_rate_threshold": 0.4,
        "slow_call_rate_threshold": 0.8,
        "slow_call_duration": "2s",
        "minimum_calls": 15,
        "window_type": "time",
        "window_size": 30,
        "half_open_calls": 4,
        "max_wait_in_half_open": "7s",
        "open_duration": {"initial": "5s", "multiplier": 3, "max": "2m"},
        "record_on": ["aiohttp.ClientError"],
        "ignore_on": ["KeyError", "aiohttp.ClientResponseError"],
        "failure_if_result": f"{HERE}.is_slow_answer",
        "automatic_half_open": True,
        "max_retry_after": "45s",
    },
    "bulkhead": {"max_concurrent": 40, "max_wait": "150ms"},
    "rate_limiter": {
        "rate_per_second": 50,
        "burst": 100,
        "max_wait": 0.5,
        "key": "provider-account",
    },
    "fallback": {
        "handler": f"{HERE}.serve_cached",
        "on": ["aiohttp.ClientError"],
        "if_result": f"{HERE}.is_empty",
    },
    "hedge": {"delay": "p90", "max_hedges": 2, "min_samples": 30, "sample_size": 300},
    "adaptive_limiter": {
        "algorithm": "gradient2",
        "initial_limit": 30,
        "min_limit": 4,
        "max_limit": 40,
        "shares": {"default": 0.8, "sheddable": 0.6},
        "drop_on": ["TimeoutError", "aiohttp.ServerDisconnectedError"],
        "retry_after": "2s",
        "sample_window": 10,
    },
}
# outlier_detection turns the circuit breaker into a keyed one: tested on its own
# (tests/resilience/test_load_plan_limits.py), so EVERYTHING keeps a plain breaker


def _plan(**mechanisms: Any) -> dict[str, Any]:
    return {"version": 1, "system": "ai-gateway", "mechanisms": mechanisms}


def test_the_round_trip_plan_sets_every_option_of_every_mechanism() -> None:
    """Guards the test below: a new option in the schema must be added to EVERYTHING."""
    sections: dict[str, type[BaseModel]] = {
        "retry": RetryConfig,
        "circuit_breaker": CircuitBreakerConfig,
        "bulkhead": BulkheadConfig,
        "rate_limiter": RateLimiterConfig,
        "fallback": FallbackConfig,
        "hedge": HedgeConfig,
        "adaptive_limiter": AdaptiveLimiterConfig,
    }
    assert set(EVERYTHING) == set(PolicyConfig.model_fields) - {"base", "outlier_detection"}
    for section, model in sections.items():
        assert set(EVERYTHING[section]) == set(model.model_fields), section
    assert set(EVERYTHING["retry"]["budget"]) == set(RetryBudgetConfig.model_fields)
    assert set(EVERYTHING["adaptive_limiter"]["shares"]) == set(SharesConfig.model_fields)
    assert set(EVERYTHING["circuit_breaker"]["open_duration"]) == set(
        ExponentialOpenDuration.model_fields
    )


def test_every_option_in_the_file_reaches_the_built_object() -> None:
    policy = load_plan(_plan(**{"llm-primary": EVERYTHING}), FUNCTIONS).policy("llm-primary")
    assert isinstance(policy, Policy)
    assert policy.critical is True and policy.info.critical is True
    assert policy.timeout is not None and policy.timeout.seconds == 0.25  # type: ignore[attr-defined]
    assert policy.deadline is not None and policy.deadline.seconds == 10.0

    retry = policy.retry
    assert isinstance(retry, Retry)
    assert retry.max_attempts == 4
    assert isinstance(retry.wait, tenacity.wait_exponential_jitter)
    initial = getattr(retry.wait, "multiplier", None) or getattr(retry.wait, "initial", None)
    assert (initial, retry.wait.max, retry.wait.exp_base, retry.wait.jitter) == (0.2, 5.0, 3, 0.5)
    assert retry.retry_on == (aiohttp.ClientError, TimeoutError)
    assert retry.retry_if_result is is_overloaded
    assert retry.max_retry_after == 30.0
    assert retry.budget is not None
    assert (retry.budget.ratio, retry.budget.min_per_second, retry.budget.ttl) == (0.25, 5.0, 20)
    assert retry.retry_when_nested is True

    breaker = policy.circuit_breaker
    assert isinstance(breaker, CircuitBreaker)
    assert breaker.name == "llm-primary"
    assert (breaker.failure_rate_threshold, breaker.slow_call_rate_threshold) == (0.4, 0.8)
    assert (breaker.slow_call_duration, breaker.minimum_calls) == (2.0, 15)
    assert (breaker.window_type, breaker.window_size, breaker.half_open_calls) == ("time", 30, 4)
    assert breaker.max_wait_in_half_open == 7.0
    assert callable(breaker.open_duration)
    assert [breaker.open_duration(n) for n in (1, 2, 3, 4, 50)] == [5.0, 15.0, 45.0, 120.0, 120.0]
    assert breaker.record_on == (aiohttp.ClientError,)
    assert breaker.ignore_on == (KeyError, aiohttp.ClientResponseError)
    assert breaker.failure_if_result is is_slow_answer
    assert breaker.automatic_half_open is True and breaker.max_retry_after == 45.0

    bulkhead = policy.bulkhead
    assert isinstance(bulkhead, Bulkhead)
    assert (bulkhead.capacity, bulkhead.max_wait) == (40, 0.15)

    limiter = policy.rate_limiter
    assert isinstance(limiter, RateLimiter)
    assert (limiter.rate_per_second, limiter.burst, limiter.max_wait) == (50.0, 100, 0.5)
    assert limiter.key == "provider-account"

    fallback = policy.fallback
    assert isinstance(fallback, Fallback)
    assert fallback.handler is serve_cached
    assert fallback.on == (aiohttp.ClientError,)
    assert fallback.if_result is is_empty

    hedge = policy.hedge
    assert isinstance(hedge, Hedge)
    assert (hedge.delay, hedge.max_hedges, hedge.min_samples, hedge.sample_size) == (
        "p90",
        2,
        30,
        300,
    )

    adaptive = policy.adaptive_limiter
    assert isinstance(adaptive, AdaptiveLimiter)
    assert isinstance(adaptive.algorithm, Gradient2)
    assert (adaptive.limit, adaptive.min_limit, adaptive.max_limit) == (30, 4, 40)
    assert (adaptive.shares.default, adaptive.shares.sheddable) == (0.8, 0.6)
    assert adaptive.drop_on == (TimeoutError, aiohttp.ServerDisconnectedError)
    assert (adaptive.retry_after, adaptive.sample_window) == (2.0, 10)


@pytest.mark.parametrize(
    ("wait", "kind", "attributes"),
    [
        (
            {"kind": "full_jitter", "initial": 0.5, "max": 20, "multiplier": 3},
            FullJitterBackoff,
            {"initial": 0.5, "max": 20.0, "multiplier": 3.0},
        ),
        ({"kind": "fixed", "wait": "2s"}, tenacity.wait_fixed, {"wait_fixed": 2.0}),
        ({"kind": "none"}, tenacity.wait_none, {}),
        (
            {"kind": "random", "min": 1, "max": 3},
            tenacity.wait_random,
            {"wait_random_min": 1.0, "wait_random_max": 3.0},
        ),
        (
            {"kind": "incrementing", "start": 1, "increment": 2, "max": 9},
            tenacity.wait_incrementing,
            {"start": 1.0, "increment": 2.0, "max": 9.0},
        ),
        (
            {"kind": "exponential", "multiplier": 2, "max": 60, "exp_base": 3, "min": 1},
            tenacity.wait_exponential,
            {"multiplier": 2.0, "max": 60.0, "exp_base": 3.0, "min": 1.0},
        ),
        (
            {"kind": "random_exponential", "multiplier": 0.5, "max": 10, "min": 0.1},
            tenacity.wait_random_exponential,
            {"multiplier": 0.5, "max": 10.0, "min": 0.1},
        ),
    ],
)
def test_every_wait_kind_builds_its_strategy(
    wait: dict[str, Any], kind: type, attributes: dict[str, float]
) -> None:
    retry = load_plan(_plan(p={"retry": {"wait": wait}})).policy("p").retry
    assert isinstance(retry, Retry)
    assert type(retry.wait) is kind
    for name, value in attributes.items():
        assert getattr(retry.wait, name) == value, name


def test_inheritance_own_then_base_then_defaults_then_library_defaults() -> None:
    plan = load_plan(
        _plan(
            defaults={
                "timeout": "1s",
                "retry": {"max_attempts": 5, "retry_on": ["TimeoutError"], "max_retry_after": 9},
                "bulkhead": {"max_concurrent": 10, "max_wait": 1},
            },
            shared={
                "deadline": "20s",
                "retry": {"max_attempts": 3, "retry_on": ["aiohttp.ClientError", "KeyError"]},
            },
            child={
                "base": "shared",
                "retry": {"retry_on": ["ValueError"]},
                "bulkhead": {"max_concurrent": 2},
            },
            grandchild={"base": "child", "timeout": None, "bulkhead": None},
            plain={},
        )
    )
    child = plan.policy("child")
    assert isinstance(child.retry, Retry)
    assert child.retry.retry_on == (ValueError,)  # own list replaces, never merges
    assert child.retry.max_attempts == 3  # from its base
    assert child.retry.max_retry_after == 9.0  # from defaults
    assert child.timeout.seconds == 1.0  # type: ignore[union-attr]
    assert child.deadline is not None and child.deadline.seconds == 20.0
    assert isinstance(child.bulkhead, Bulkhead)
    assert (child.bulkhead.capacity, child.bulkhead.max_wait) == (2, 1.0)

    grandchild = plan.policy("grandchild")
    assert grandchild.timeout is None and grandchild.bulkhead is None  # null switches off
    assert isinstance(grandchild.retry, Retry) and grandchild.retry.retry_on == (ValueError,)

    plain = plan.policy("plain")
    assert isinstance(plain.retry, Retry)
    assert plain.retry.max_attempts == 5 and plain.retry.retry_on == (TimeoutError,)
    assert (
        plain.circuit_breaker is None and plain.deadline is None
    )  # library default: not configured
    assert "max_concurrent" not in plan.config("plain").model_dump(exclude_unset=True).get(
        "retry", {}
    )


def test_library_defaults_fill_what_nobody_set() -> None:
    breaker = load_plan(_plan(p={"circuit_breaker": {}})).policy("p").circuit_breaker
    reference = CircuitBreaker("p")
    assert isinstance(breaker, CircuitBreaker)
    assert breaker.describe() == reference.describe()


def test_same_name_gives_the_same_policy_object() -> None:
    plan = load_plan(_plan(a={"timeout": 1}, b={"timeout": 2}))
    assert plan.policy("a") is plan.policy("a")
    assert plan.policy("a") is not plan.policy("b")
    assert plan.names() == ["a", "b"] and "a" in plan and list(plan) == ["a", "b"]


def test_unknown_name_raises_key_error_listing_the_known_ones() -> None:
    plan = load_plan(_plan(defaults={"timeout": 1}, payments={}, search={}))
    with pytest.raises(KeyError, match=r"'checkout'.*known policies: payments, search"):
        plan.policy("checkout")


async def test_fallback_handler_comes_from_code() -> None:
    plan = load_plan(_plan(llm={"fallback": {"on": ["ConnectionError"]}}))
    with pytest.raises(
        PlanError, match=r"mechanisms\.llm\.fallback: no handler: pass plan\.policy"
    ):
        plan.policy("llm")

    async def secondary(exc: BaseException, *args: Any, **kwargs: Any) -> str:
        return f"secondary for {args[0]}"

    llm = plan.policy("llm", fallback=secondary)
    assert plan.policy("llm") is llm  # later calls need not repeat the handler

    @llm
    async def complete(prompt: str) -> str:
        raise ConnectionError("primary down")

    assert await complete("hi") == "secondary for hi"
    with pytest.raises(ConfigError, match="another fallback handler"):
        plan.policy("llm", fallback=serve_cached)


async def test_a_plan_without_fallback_section_takes_one_from_code() -> None:
    policy = load_plan(_plan(p={})).policy("p", fallback=serve_cached)
    assert isinstance(policy.fallback, Fallback) and policy.fallback.handler is serve_cached


def test_yaml_and_json_files_load_and_the_planner_report_is_ignored(tmp_path: Path) -> None:
    data = _plan(**{"llm-primary": EVERYTHING})
    data |= {
        "tier": "critical",
        "slo": 99.99,
        "report": {"failure_modes": [{"id": "FM-1", "anything": {"goes": True}}]},
    }
    yaml_file = tmp_path / "plan.yaml"
    yaml_file.write_text(yaml.safe_dump(data))
    json_file = tmp_path / "plan.json"
    json_file.write_text(json.dumps(data))
    for path in (yaml_file, str(json_file)):
        plan = load_plan(path, names=FUNCTIONS)
        assert plan.system == "ai-gateway" and plan.plan.tier == "critical"
        assert plan.source == str(path)
        assert plan.names() == ["llm-primary"]
        assert plan.policy("llm-primary").critical


async def test_built_policies_protect_calls() -> None:
    seen: list[Event] = []
    plan = load_plan(
        _plan(
            llm={
                "retry": {"max_attempts": 2, "wait": {"kind": "none"}},
                "circuit_breaker": {"minimum_calls": 2, "window_size": 2, "open_duration": "30s"},
            }
        )
    )
    llm = plan.policy("llm")
    add_hook(seen.append)
    try:
        calls = 0

        @llm
        async def down() -> None:
            nonlocal calls
            calls += 1
            raise ConnectionError("down")

        with pytest.raises(ConnectionError):
            await down()
        assert calls == 2  # two attempts, both recorded by the breaker: it opens
        assert StateChanged("llm", "closed", "open") in seen
        with pytest.raises(CircuitOpenError):
            await down()
        assert calls == 2
    finally:
        remove_hook(seen.append)


@settings(max_examples=100, deadline=None)
@given(
    depth=st.integers(min_value=1, max_value=5),
    values=st.lists(st.one_of(st.none(), st.integers(1, 9)), min_size=6, max_size=6),
    lists=st.lists(
        st.one_of(st.none(), st.sampled_from(["KeyError", "ValueError"])), min_size=6, max_size=6
    ),
)
def test_inheritance_takes_each_option_from_the_nearest_entry_that_sets_it(
    depth: int, values: list[int | None], lists: list[str | None]
) -> None:
    """p0 → p1 → ... → p{depth-1} → defaults: each option comes from the first entry setting it."""
    names = [f"p{i}" for i in range(depth)] + ["defaults"]
    mechanisms: dict[str, Any] = {}
    for i, name in enumerate(names):
        retry: dict[str, Any] = {}
        if values[i] is not None:
            retry["max_attempts"] = values[i]
        if lists[i] is not None:
            retry["retry_on"] = [lists[i]]
        entry: dict[str, Any] = {"retry": retry}
        if name != "defaults" and i + 1 < depth:
            entry["base"] = names[i + 1]
        mechanisms[name] = entry
    built = load_plan(_plan(**mechanisms)).policy("p0").retry
    assert isinstance(built, Retry)
    chain = range(len(names))
    expected_attempts = next((values[i] for i in chain if values[i] is not None), 3)
    expected_on = next((lists[i] for i in chain if lists[i] is not None), None)
    assert built.max_attempts == expected_attempts  # 3 is the library default
    if expected_on is None:
        assert built.retry_on == (Exception,)
    else:
        assert built.retry_on == (getattr(builtins, expected_on),)


def test_plan_policies_decorate_sync_functions_when_every_mechanism_can() -> None:
    plan = load_plan(
        _plan(
            sync={
                "retry": {"max_attempts": 3, "wait": {"kind": "none"}},
                "bulkhead": {"max_concurrent": 2},
            },
            timed={"timeout": 1},
        )
    )
    calls = 0

    @plan.policy("sync")
    def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConnectionError("again")
        return "ok"

    assert flaky() == "ok" and calls == 3
    assert plan.policy("timed")(lambda: "timed")() == "timed"  # a sync timeout (worker threads)


async def test_plan_policies_work_as_async_with() -> None:
    plan = load_plan(_plan(db={"bulkhead": {"max_concurrent": 1}, "timeout": "100ms"}))
    db = plan.policy("db")
    async with db:
        pass
    from resilience import AttemptTimeoutError

    with pytest.raises(AttemptTimeoutError):
        async with db:
            await asyncio.sleep(1)
