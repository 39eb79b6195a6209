"""Chaos strategies in a Policy's chaos slot: rates, switching, events, what outer layers see."""

from __future__ import annotations

import asyncio
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chaos.injection import (
    BehaviourInjection,
    ChaosRegistry,
    FaultInjection,
    Injection,
    LatencyInjection,
    OutcomeInjection,
    registry,
)
from resilience import AttemptTimeoutError, ChaosInjected, ConfigError, Event
from resilience.policy import Policy


class Boom(Exception):
    pass


async def ok() -> str:
    return "real"


def _binomial_bound(n: int, p: float, sigmas: float = 5.0) -> tuple[float, float]:
    mean = n * p
    spread = sigmas * math.sqrt(n * p * (1 - p))
    return mean - spread, mean + spread


async def test_off_by_default_even_at_rate_one() -> None:
    injection = FaultInjection(Boom, injection_rate=1.0)
    call = Policy("dep-off", chaos=injection)(ok)
    assert [await call() for _ in range(50)] == ["real"] * 50
    assert injection.injected == 0
    assert injection.enabled is False


@pytest.mark.parametrize("rate", [0.05, 0.5, 0.9])
async def test_fault_rate_within_statistical_bounds_for_a_fixed_seed(rate: float) -> None:
    n = 4000
    injection = FaultInjection(Boom, injection_rate=rate, enabled=True, rng=random.Random(7))
    call = Policy("dep-rate", chaos=injection)(ok)
    failures = 0
    for _ in range(n):
        try:
            await call()
        except Boom:
            failures += 1
    low, high = _binomial_bound(n, rate)
    assert low <= failures <= high
    assert injection.injected == failures


async def test_same_seed_same_injections() -> None:
    async def pattern(seed: int) -> list[bool]:
        inj = FaultInjection(Boom, injection_rate=0.3, enabled=True, rng=random.Random(seed))
        call = Policy("dep-seed", chaos=inj)(ok)
        out = []
        for _ in range(200):
            try:
                await call()
                out.append(False)
            except Boom:
                out.append(True)
        return out

    assert await pattern(11) == await pattern(11)
    assert await pattern(11) != await pattern(12)


@settings(max_examples=30, deadline=None)
@given(draws=st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=50))
def test_rate_zero_never_and_rate_one_always_injects(draws: list[float]) -> None:
    for rate, expected in ((0.0, 0), (1.0, len(draws))):
        injection = OutcomeInjection(
            "fake", injection_rate=rate, enabled=True, rng=iter(draws).__next__
        )
        call = Policy("dep-prop", chaos=injection)(lambda: "real")
        results = [call() for _ in draws]
        assert results.count("fake") == expected


async def test_events_carry_policy_and_fault_kind() -> None:
    seen: list[Event] = []
    chaos = [
        FaultInjection(Boom, injection_rate=1.0, enabled=True),
    ]
    call = Policy("dep-events", chaos=chaos, hooks=[seen.append])(ok)
    with pytest.raises(Boom):
        await call()
    assert [e for e in seen if isinstance(e, ChaosInjected)] == [
        ChaosInjected("dep-events", "fault")
    ]


async def test_latency_trips_the_attempt_timeout_like_a_slow_dependency() -> None:
    latency = LatencyInjection(5.0, injection_rate=1.0, enabled=True)
    call = Policy("dep-slow", timeout=1.0, chaos=latency)(ok)
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(AttemptTimeoutError):
        await call()
    assert loop.time() - start == pytest.approx(1.0)
    latency.latency = 0.5
    assert await call() == "real"


async def test_outcome_and_behaviour() -> None:
    ran: list[int] = []
    behaviour = BehaviourInjection(lambda: ran.append(1), injection_rate=1.0, enabled=True)
    outcome: OutcomeInjection[dict[str, int]] = OutcomeInjection(
        lambda: {"status": 503}, injection_rate=1.0, enabled=True
    )
    assert await Policy("dep-b", chaos=behaviour)(ok)() == "real"
    assert ran == [1]
    injected: object = await Policy("dep-o", chaos=outcome)(ok)()  # not the str `ok` returns
    assert injected == {"status": 503}


async def test_async_behaviour_is_awaited() -> None:
    ran: list[str] = []

    async def drop_cache() -> None:
        await asyncio.sleep(0.1)
        ran.append("dropped")

    behaviour = BehaviourInjection(drop_cache, injection_rate=1.0, enabled=True)
    assert await Policy("dep-ab", chaos=behaviour)(ok)() == "real"
    assert ran == ["dropped"]


async def test_enabled_callable_and_runtime_switch() -> None:
    flag = {"on": False}
    injection = FaultInjection(Boom(), injection_rate=1.0, enabled=lambda: flag["on"])
    call = Policy("dep-switch", chaos=injection)(ok)
    assert await call() == "real"
    flag["on"] = True
    with pytest.raises(Boom):
        await call()
    injection.disable()
    assert await call() == "real"
    injection.enable(injection_rate=1.0)
    with pytest.raises(Boom):
        await call()


def test_bad_settings_are_refused() -> None:
    for bad in (-0.1, 1.5, float("nan"), True, "half"):
        with pytest.raises(ConfigError, match="injection_rate"):
            Injection(injection_rate=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="latency"):
        LatencyInjection(-1)
    with pytest.raises(ConfigError, match="fault"):
        FaultInjection("boom")  # type: ignore[arg-type]
    injection = FaultInjection(Boom)
    with pytest.raises(ConfigError):
        injection.injection_rate = 2


async def test_registry_lists_bound_strategies_by_policy() -> None:
    fault = FaultInjection(Boom)
    latency = LatencyInjection(1.0)
    Policy("dep-reg", chaos=[fault, latency])
    assert registry.injections("dep-reg") == [fault, latency]
    assert registry.injections("dep-reg", "latency") == [latency]
    own = ChaosRegistry()
    own.add("x", fault)
    fault.enable(1.0)
    assert own.disable_all() == 1
    assert not fault.enabled


async def test_describe_names_every_setting() -> None:
    policy = Policy("dep-describe", chaos=LatencyInjection(2.5, injection_rate=0.25))
    assert "LatencyInjection(injection_rate=0.25, enabled=False, latency=2.5s)" in policy.describe()


def test_the_admin_endpoint_is_not_mounted_without_a_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from chaos.admin import admin_routes, token_from_env

    for token in ("", "   "):
        with pytest.raises(ConfigError, match="admin token"):
            admin_routes(token)
    monkeypatch.delenv("RELIABILITY_CHAOS_TOKEN", raising=False)
    assert token_from_env() is None  # the documented guard: no token, no admin routes
    monkeypatch.setenv("RELIABILITY_CHAOS_TOKEN", "t0ken")
    assert token_from_env() == "t0ken"
    assert [r.method for r in admin_routes("t0ken")] == ["GET", "POST", "POST"]
