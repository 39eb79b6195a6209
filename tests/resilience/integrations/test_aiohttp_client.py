"""The aiohttp client middleware against a real aiohttp server on loopback (503, 429)."""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
import tenacity
from aiohttp import web

from resilience import (
    CallFinished,
    CircuitBreaker,
    CircuitOpenError,
    Hedge,
    Policy,
    Retry,
    RetryScheduled,
    load_plan,
)
from resilience.events import Event
from resilience.integrations.aiohttp import (
    HTTPStatusFailure,
    is_failure_status,
    parse_retry_after,
    resilience_middleware,
)


def test_retry_after_in_seconds_or_http_date() -> None:
    now = 1_700_000_000.0
    in_two_minutes = email.utils.formatdate(now + 120, usegmt=True)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after(in_two_minutes, now=now) == pytest.approx(120)
    assert parse_retry_after(email.utils.formatdate(now - 60, usegmt=True), now=now) == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-5") is None


def test_failure_statuses_are_5xx_and_429() -> None:
    assert [s for s in (200, 301, 404, 429, 499, 500, 503, 599) if is_failure_status(s)] == [
        429,
        500,
        503,
        599,
    ]


class Backend:
    """A real HTTP server on loopback whose answers the tests script."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.fail_first = 2
        app = web.Application()
        app.router.add_get("/flaky", self.flaky)
        app.router.add_get("/limited", self.limited)
        app.router.add_get("/down", self.down)
        app.router.add_post("/orders", self.down)
        app.router.add_get("/slow-then-fast", self.slow_then_fast)
        self.app = app
        self.url = ""

    async def flaky(self, request: web.Request) -> web.Response:
        self.hits["flaky"] += 1
        if self.hits["flaky"] <= self.fail_first:
            return web.Response(status=503, text="overloaded", headers={"Retry-After": "1"})
        return web.Response(text="ok")

    async def limited(self, request: web.Request) -> web.Response:
        self.hits["limited"] += 1
        when = email.utils.formatdate(time.time() + 120, usegmt=True)
        return web.Response(status=429, text="slow down", headers={"Retry-After": when})

    async def down(self, request: web.Request) -> web.Response:
        self.hits[request.path] += 1
        return web.Response(status=500, text="boom")

    async def slow_then_fast(self, request: web.Request) -> web.Response:
        self.hits["slow-then-fast"] += 1
        if self.hits["slow-then-fast"] == 1:
            await asyncio.sleep(0.5)
            return web.Response(text="slow")
        return web.Response(text="fast")


@asynccontextmanager
async def serve() -> AsyncIterator[Backend]:
    backend = Backend()
    runner = web.AppRunner(backend.app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    backend.url = f"http://127.0.0.1:{port}"
    try:
        yield backend
    finally:
        await runner.cleanup()


@asynccontextmanager
async def session_with(policy: Any, **options: Any) -> AsyncIterator[aiohttp.ClientSession]:
    middleware = resilience_middleware(policy, **options)
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(middlewares=(middleware,), timeout=timeout) as session:
        yield session


def _retry(max_attempts: int = 3) -> Retry:
    return Retry(max_attempts=max_attempts, wait=tenacity.wait_none(), max_retry_after=0.02)


pytestmark = pytest.mark.integration


async def test_503_with_retry_after_is_retried_honouring_the_hint() -> None:
    seen: list[Event] = []
    policy = Policy("api", retry=_retry(), hooks=[seen.append])
    async with (
        serve() as backend,
        session_with(policy) as session,
        session.get(f"{backend.url}/flaky") as response,
    ):
        assert (response.status, await response.text()) == (200, "ok")
    assert backend.hits["flaky"] == 3
    waits = [e.wait for e in seen if isinstance(e, RetryScheduled)]
    # Retry-After: 1 asked for a second; max_retry_after caps it at 0.02 (no hint would be 0).
    assert waits == [pytest.approx(0.02), pytest.approx(0.02)]


async def test_when_retries_run_out_the_caller_gets_the_last_response_and_the_breaker_counts() -> (
    None
):
    breaker = CircuitBreaker("api", minimum_calls=10, window_size=10)
    policy = Policy("api", retry=_retry(), circuit_breaker=breaker)
    async with serve() as backend, session_with(policy) as session:
        backend.fail_first = 100
        async with session.get(f"{backend.url}/flaky") as response:
            assert response.status == 503
            assert await response.text() == "overloaded"  # the body is still readable
    assert backend.hits["flaky"] == 3
    assert breaker.window_counts() == (3, 3, 0)  # three attempts, three failures


async def test_429_http_date_retry_after_becomes_retry_after_seconds() -> None:
    seen: list[Event] = []
    policy = Policy("api", retry=_retry(max_attempts=2), hooks=[seen.append])
    async with (
        serve() as backend,
        session_with(policy) as session,
        session.get(f"{backend.url}/limited") as response,
    ):
        assert response.status == 429
    finished = [e for e in seen if isinstance(e, CallFinished)]
    assert len(finished) == 1 and finished[0].outcome == "failure"
    failure = finished[0].exception
    assert isinstance(failure, HTTPStatusFailure) and isinstance(failure, aiohttp.ClientError)
    assert failure.status == 429
    assert failure.retry_after == pytest.approx(120, abs=2)
    assert backend.hits["limited"] == 2


async def test_post_is_not_retried_unless_asked() -> None:
    policy = Policy("api", retry=_retry())
    async with serve() as backend, session_with(policy) as session:
        async with session.post(f"{backend.url}/orders", json={"id": 1}) as response:
            assert response.status == 500
        assert backend.hits["/orders"] == 1  # one attempt only
        headers = {"Idempotency-Key": "order-1"}
        async with session.post(f"{backend.url}/orders", json={"id": 1}, headers=headers) as r:
            assert r.status == 500
        assert backend.hits["/orders"] == 4  # marked idempotent: retried
    async with serve() as backend, session_with(policy, idempotent_methods={"POST"}) as session:
        async with session.post(f"{backend.url}/orders") as response:
            assert response.status == 500
        assert backend.hits["/orders"] == 3


async def test_an_open_breaker_stops_requests_before_the_server() -> None:
    breaker = CircuitBreaker("api", minimum_calls=2, window_size=2, open_duration=60)
    policy = Policy("api", circuit_breaker=breaker)
    async with serve() as backend, session_with(policy) as session:
        for _ in range(2):
            async with session.get(f"{backend.url}/down") as response:
                assert response.status == 500
        with pytest.raises(CircuitOpenError):
            await session.get(f"{backend.url}/down")
        # A POST is not repeatable, but the breaker still protects it.
        with pytest.raises(CircuitOpenError):
            await session.post(f"{backend.url}/orders")
    assert backend.hits["/down"] == 2 and backend.hits["/orders"] == 0


async def test_a_slow_get_is_hedged_and_the_fast_answer_wins() -> None:
    policy = Policy("api", hedge=Hedge(delay=0.01))
    async with serve() as backend, session_with(policy) as session:
        start = time.perf_counter()
        async with session.get(f"{backend.url}/slow-then-fast") as response:
            assert await response.text() == "fast"
        assert time.perf_counter() - start < 0.4  # not the first request's 0.5 s
    assert backend.hits["slow-then-fast"] == 2


async def test_a_policy_per_request_from_the_plan() -> None:
    plan = load_plan(
        {
            "version": 1,
            "system": "client",
            "mechanisms": {
                "flaky": {
                    "retry": {
                        "max_attempts": 3,
                        "retry_on": ["aiohttp.ClientError"],
                        "wait": {"kind": "none"},
                        "max_retry_after": "10ms",
                    }
                }
            },
        }
    )

    def by_path(request: aiohttp.ClientRequest) -> Policy | None:
        name = request.url.path.strip("/")
        return plan.policy(name) if name in plan else None

    async with serve() as backend, session_with(by_path) as session:
        async with session.get(f"{backend.url}/flaky") as response:
            assert response.status == 200
        async with session.get(f"{backend.url}/down") as response:
            assert response.status == 500  # no policy for /down: one plain request
    assert (backend.hits["flaky"], backend.hits["/down"]) == (3, 1)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(TypeError, match="policy"):
        resilience_middleware("api")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="failure_status"):
        resilience_middleware(Policy("api"), failure_status=500)  # type: ignore[arg-type]


async def test_a_planned_fallback_serves_at_the_function_never_as_a_broken_response() -> None:
    # The planner writes a fallback for every dependency that has one, so plan.policy() needs a
    # handler; its value is the function's, not a ClientResponse. The middleware raises the final
    # error and `@llm.fallback` serves: our service answers 200, never a 500 from our code.
    plan = load_plan(
        {
            "version": 1,
            "system": "svc",
            "mechanisms": {
                "llm": {
                    "retry": {"max_attempts": 2, "wait": {"kind": "none"}},
                    "circuit_breaker": {"minimum_calls": 2, "window_size": 2},
                    "fallback": {},
                }
            },
        }
    )
    served: list[str] = []

    async def secondary(error: Exception, prompt: str) -> str:
        served.append(type(error).__name__)
        return f"secondary answer to {prompt}"

    llm = plan.policy("llm", fallback=secondary)
    async with serve() as backend, session_with(llm) as session:

        @llm.fallback
        async def complete(prompt: str) -> str:
            async with session.get(f"{backend.url}/down") as response:
                response.raise_for_status()
                return await response.text()

        async def answer(request: web.Request) -> web.Response:
            return web.Response(text=await complete(request.query["q"]))

        service = web.Application()
        service.router.add_get("/answer", answer)
        runner = web.AppRunner(service)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/answer"
        try:
            async with aiohttp.ClientSession() as client:
                for _ in range(3):
                    async with client.get(url, params={"q": "hi"}) as response:
                        assert (response.status, await response.text()) == (
                            200,
                            "secondary answer to hi",
                        )
        finally:
            await runner.cleanup()
        # 500, 500 (retried) → the fallback; the breaker opened: CircuitOpenError → the fallback.
        assert served == ["ClientResponseError", "CircuitOpenError", "CircuitOpenError"]
        assert backend.hits["/down"] == 2
        # The middleware itself hands back the error, never the handler's value as a response.
        with pytest.raises(CircuitOpenError):
            await session.get(f"{backend.url}/down")


async def test_a_429_with_retry_after_opens_the_planned_breaker_that_long() -> None:
    plan = load_plan(
        {
            "version": 1,
            "system": "svc",
            "mechanisms": {
                "api": {"circuit_breaker": {"minimum_calls": 50, "max_retry_after": "90s"}}
            },
        }
    )
    api = plan.policy("api")
    async with serve() as backend, session_with(api) as session:
        async with session.get(f"{backend.url}/limited") as response:
            assert response.status == 429  # Retry-After: an HTTP date 120 s ahead
        assert api.circuit_breaker is not None and api.circuit_breaker.state == "open"  # type: ignore[attr-defined]
        with pytest.raises(CircuitOpenError) as info:
            await session.get(f"{backend.url}/limited")
        assert info.value.retry_after == pytest.approx(90, abs=1)  # capped at max_retry_after
        assert backend.hits["limited"] == 1
