"""Rate limiter and fallback details found by mutation testing (`make mutation`): which policy
hears a rejection, exact messages, when a caller sleeps, boundaries of the bucket, and what a
fallback handler receives."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from resilience import ConfigError, Fallback, FallbackUsed, Policy, RateLimitedError, Rejected
from resilience.layers import Emitter
from resilience.ratelimiter import RateLimiter
from tests.resilience.layers_for_tests import AttemptLog


class Boom(Exception):
    pass


class Clock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Sleeps:
    """An injected sleeper that records how long each caller was asked to sleep."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)


# ------------------------------------------------------------------------------- rate limiter


def rejections(events: list[object]) -> list[tuple[str, str]]:
    return [(e.policy, e.mechanism) for e in events if isinstance(e, Rejected)]


async def test_a_shared_limiter_reports_a_rejection_to_the_callers_policy_only() -> None:
    limiter = RateLimiter(rate_per_second=1, burst=1)
    seen_a: list[object] = []
    seen_b: list[object] = []
    a = Policy("a", rate_limiter=limiter, hooks=[seen_a.append])
    b = Policy("b", rate_limiter=limiter, hooks=[seen_b.append])

    @a
    async def call_a() -> str:
        return "a"

    @b
    async def call_b() -> str:
        return "b"

    assert await call_a() == "a"
    with pytest.raises(RateLimitedError) as info:
        await call_b()
    assert info.value.policy == "b" and str(info.value).startswith("rate limiter of 'b': ")
    assert rejections(seen_b) == [("b", "rate_limiter")] and rejections(seen_a) == []

    @b
    def sync_b() -> str:
        return "b"

    with pytest.raises(RateLimitedError):
        sync_b()
    assert rejections(seen_b) == [("b", "rate_limiter")] * 2 and rejections(seen_a) == []


async def test_reserve_without_an_emitter_reports_to_every_bound_policy() -> None:
    limiter = RateLimiter(rate_per_second=2, burst=1, max_wait=0.25)
    seen_a: list[object] = []
    seen_b: list[object] = []
    Policy("a", rate_limiter=limiter, hooks=[seen_a.append])
    Policy("b", rate_limiter=limiter, hooks=[seen_b.append])
    limiter.reserve()
    with pytest.raises(RateLimitedError) as info:
        limiter.reserve()
    assert str(info.value) == (
        "rate limiter of 'a': no token within 0.25s (2/s, burst 1); next in 0.500s"
    )
    assert rejections(seen_a) == [("a", "rate_limiter")]
    assert rejections(seen_b) == [("b", "rate_limiter")]
    unbound = RateLimiter(rate_per_second=1, burst=1)
    unbound.reserve()
    with pytest.raises(RateLimitedError, match=r"^rate limiter of 'call': no token within 0s"):
        unbound.reserve()


async def test_a_shared_bucket_refusal_goes_to_the_callers_policy() -> None:
    class Refuses:
        async def reserve(self, key: str, **_: Any) -> tuple[bool, float]:
            return False, 1.5

    limiter = RateLimiter(rate_per_second=1, storage=Refuses())
    seen_a: list[object] = []
    seen_b: list[object] = []
    Policy("a", rate_limiter=limiter, hooks=[seen_a.append])
    b = Policy("b", rate_limiter=limiter, hooks=[seen_b.append])

    @b
    async def call() -> None:
        return None

    with pytest.raises(RateLimitedError) as info:
        await call()
    assert info.value.retry_after == 1.5
    assert rejections(seen_b) == [("b", "rate_limiter")] and rejections(seen_a) == []
    assert limiter.describe() == "RateLimiter(rate_per_second=1, burst=1, max_wait=0s, " + (
        "shared via Refuses)"
    )


async def test_callers_sleep_only_for_a_reserved_token() -> None:
    clock, sleeps = Clock(), Sleeps()
    limiter = RateLimiter(rate_per_second=4, burst=1, max_wait=0.25, clock=clock, sleep=sleeps)
    log = AttemptLog()
    policy = Policy("paced", rate_limiter=limiter, chaos=[log])

    @policy
    async def call() -> str:
        return "ok"

    assert await call() == "ok"
    assert sleeps.asked == []  # a token was there: no sleep at all, not even sleep(0)
    assert await call() == "ok"  # the next token in exactly max_wait: reserved, not refused
    assert sleeps.asked == [0.25]
    assert log.seen == [("paced", 1), ("paced", 1)]  # the inner layers get the call's context
    clock.now = 0.25  # the reserved token is used up: the next one is 0.25 s away again
    await limiter.acquire()
    assert sleeps.asked == [0.25, pytest.approx(0.25)]
    clock.now = 10.0
    await limiter.acquire()
    assert len(sleeps.asked) == 2

    class Grants:
        async def reserve(self, key: str, **_: Any) -> tuple[bool, float]:
            return True, 0.0

    shared_sleeps = Sleeps()
    shared = RateLimiter(rate_per_second=1, storage=Grants(), sleep=shared_sleeps)
    await shared.acquire()
    assert shared_sleeps.asked == []


def test_an_almost_whole_token_is_a_token() -> None:
    clock = Clock()
    limiter = RateLimiter(rate_per_second=49, burst=1, clock=clock)
    assert limiter.reserve() == 0.0
    clock.now = 1 / 49  # refills 0.9999999999999999 tokens: float drift
    assert limiter.reserve() == 0.0


def test_reconfigure_keeps_what_it_is_not_given() -> None:
    limiter = RateLimiter(rate_per_second=2, burst=7, max_wait=0.5)
    limiter.reconfigure(rate_per_second=3)
    assert (limiter.rate_per_second, limiter.burst, limiter.max_wait) == (3.0, 7, 0.5)
    limiter.reconfigure(max_wait=1.5)
    assert (limiter.rate_per_second, limiter.burst, limiter.max_wait) == (3.0, 7, 1.5)
    limiter.reconfigure(burst=2)
    assert (limiter.rate_per_second, limiter.burst, limiter.max_wait) == (3.0, 2, 1.5)


@pytest.mark.parametrize("max_wait", [True, math.inf, "1", -1])
def test_max_wait_must_be_finite_seconds(max_wait: Any) -> None:
    with pytest.raises(ConfigError) as info:
        RateLimiter(rate_per_second=1, max_wait=max_wait)
    assert str(info.value) == f"max_wait: expected seconds ≥ 0, got {max_wait!r}"


def test_sync_limiter_messages_and_loop_rule() -> None:
    class Grants:
        async def reserve(self, key: str, **_: Any) -> tuple[bool, float]:
            return True, 0.0

    limiter = RateLimiter(rate_per_second=1, storage=Grants())

    @limiter
    def shared() -> None:
        return None

    with pytest.raises(TypeError) as info:
        shared()
    assert str(info.value) == (
        "RateLimiter(rate_per_second=1, burst=1, max_wait=0s, shared via Grants) shares its "
        "bucket through an async storage; decorate an async def to use it"
    )

    @RateLimiter(rate_per_second=100, burst=5)
    def quick() -> str:
        return "ok"

    async def main() -> str:
        return quick()  # never waits (max_wait 0): allowed on a loop's thread

    assert asyncio.run(main()) == "ok"


# ------------------------------------------------------------------------------- fallback


class CachedAnswer:
    """A handler without a __qualname__: describe() shows its repr."""

    def __call__(self, failure: object, *args: Any, **kwargs: Any) -> str:
        return "cached"

    def __repr__(self) -> str:
        return "CachedAnswer()"


def test_describe_a_handler_without_a_qualified_name() -> None:
    assert Fallback(CachedAnswer()).describe() == (
        "Fallback(handler=CachedAnswer(), on=(Exception), if_result=None)"
    )


async def test_async_handlers_get_the_failure_and_the_calls_arguments() -> None:
    events: list[object] = []
    served: list[tuple[object, tuple[Any, ...], dict[str, Any]]] = []

    def handler(failure: object, *args: Any, **kwargs: Any) -> str:
        served.append((failure, args, kwargs))
        return "fallback"

    policy = Policy(
        "fb", fallback=Fallback(handler, if_result=lambda r: r == "bad"), hooks=[events.append]
    )

    @policy
    async def call(x: int, *, mode: str) -> str:
        if mode == "raise":
            raise Boom(x)
        return mode

    assert await call(1, mode="bad") == "fallback"
    assert await call(2, mode="raise") == "fallback"
    assert await call(3, mode="good") == "good"
    assert [(f if isinstance(f, str) else type(f).__name__, a, k) for f, a, k in served] == [
        ("bad", (1,), {"mode": "bad"}),
        ("Boom", (2,), {"mode": "raise"}),
    ]
    used = [e for e in events if isinstance(e, FallbackUsed)]
    assert [(e.policy, type(e.exception).__name__) for e in used] == [
        ("fb", "NoneType"),
        ("fb", "Boom"),
    ]


def test_sync_handlers_get_the_failure_and_the_calls_arguments() -> None:
    events: list[object] = []
    served: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def handler(failure: object, *args: Any, **kwargs: Any) -> str:
        served.append((repr(failure), args, kwargs))
        return "fallback"

    policy = Policy(
        "fb-sync", fallback=Fallback(handler, if_result=lambda r: r == "bad"), hooks=[events.append]
    )

    @policy
    def call(x: int, *, mode: str) -> str:
        if mode == "raise":
            raise Boom(x)
        return mode

    assert call(1, mode="raise") == "fallback"
    assert call(2, mode="bad") == "fallback"
    assert served == [("Boom(1)", (1,), {"mode": "raise"}), ("'bad'", (2,), {"mode": "bad"})]
    used = [e for e in events if isinstance(e, FallbackUsed)]
    assert [(e.policy, repr(e.exception)) for e in used] == [
        ("fb-sync", "Boom(1)"),
        ("fb-sync", "None"),
    ]


async def test_an_async_with_block_passes_its_context_through_the_fallback() -> None:
    log = AttemptLog()
    policy = Policy("blk", fallback=Fallback(lambda exc: "unused"), chaos=[log])
    with pytest.raises(Boom):
        async with policy:
            raise Boom  # a block cannot be substituted: the error goes through
    assert log.seen == [("blk", 1)]


async def test_acquire_and_the_deadline_refusal_report_to_the_given_policy_only() -> None:
    from resilience.events import PolicyInfo

    limiter = RateLimiter(rate_per_second=1, burst=1, max_wait=5)
    seen_a: list[object] = []
    seen_b: list[object] = []
    emitter_a = Emitter(PolicyInfo(name="a"), hooks=[seen_a.append])
    emitter_b = Emitter(PolicyInfo(name="b"), hooks=[seen_b.append])
    limiter.bind("a", emitter_a)
    limiter.bind("b", emitter_b)
    strict = RateLimiter(rate_per_second=1, burst=1)
    strict.bind("a", emitter_a)
    strict.bind("b", emitter_b)
    await strict.acquire(emitter_b)
    with pytest.raises(RateLimitedError):
        await strict.acquire(emitter_b)
    assert rejections(seen_b) == [("b", "rate_limiter")] and rejections(seen_a) == []
    deadline_b = Policy("b", rate_limiter=limiter, deadline=0.5, hooks=[seen_b.append])

    @deadline_b
    async def call() -> None:
        return None

    await call()
    with pytest.raises(RateLimitedError):
        await call()  # the next token in 1 s, after the 0.5 s deadline
    assert rejections(seen_b) == [("b", "rate_limiter")] * 2 and rejections(seen_a) == []
