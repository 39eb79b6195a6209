"""The httpx transports (AsyncClient and Client) against a real aiohttp server on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import pytest
import tenacity

from resilience import (
    CallFinished,
    CircuitBreaker,
    CircuitOpenError,
    ConfigError,
    Fallback,
    Policy,
    Retry,
    RetryScheduled,
    Timeout,
    load_plan,
)
from resilience.events import Event
from resilience.integrations.httpx import (
    HTTPStatusFailure,
    PolicyRoutes,
    ResilientSyncTransport,
    ResilientTransport,
)
from resilience.keyed import KeyedBreaker, call_key_var
from resilience.layers import CallContext
from tests.resilience.integrations.test_aiohttp_client import serve
from tests.threaded_backend import threaded_backend

pytestmark = pytest.mark.integration


def _retry(max_attempts: int = 3, max_retry_after: float = 0.02) -> Retry:
    return Retry(
        max_attempts=max_attempts, wait=tenacity.wait_none(), max_retry_after=max_retry_after
    )


@asynccontextmanager
async def client_for(policy: Any, **options: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = ResilientTransport(policy, **options)
    async with httpx.AsyncClient(transport=transport, timeout=5) as client:
        yield client


async def test_503_with_retry_after_is_retried_honouring_the_hint() -> None:
    seen: list[Event] = []
    policy = Policy("api", retry=_retry(), hooks=[seen.append])
    async with serve() as backend, client_for(policy) as client:
        response = await client.get(f"{backend.url}/flaky")
    assert (response.status_code, response.text) == (200, "ok")
    assert backend.hits["flaky"] == 3
    # Retry-After: 1 asked for a second; max_retry_after caps it at 0.02 (no hint would be 0).
    assert [e.wait for e in seen if isinstance(e, RetryScheduled)] == [
        pytest.approx(0.02),
        pytest.approx(0.02),
    ]


async def test_retry_after_within_the_cap_is_waited_for_in_full() -> None:
    seen: list[Event] = []
    policy = Policy("api", retry=_retry(max_retry_after=5), hooks=[seen.append])
    async with serve() as backend, client_for(policy) as client:
        backend.fail_first = 1
        response = await client.get(f"{backend.url}/flaky")
    assert response.status_code == 200
    assert [e.wait for e in seen if isinstance(e, RetryScheduled)] == [pytest.approx(1.0)]


async def test_when_retries_run_out_the_caller_gets_the_last_response_and_the_breaker_counts() -> (
    None
):
    breaker = CircuitBreaker("api", minimum_calls=10, window_size=10)
    seen: list[Event] = []
    policy = Policy("api", retry=_retry(), circuit_breaker=breaker, hooks=[seen.append])
    async with serve() as backend, client_for(policy) as client:
        backend.fail_first = 100
        response = await client.get(f"{backend.url}/flaky")
        assert (response.status_code, response.text) == (503, "overloaded")
        with pytest.raises(httpx.HTTPStatusError):
            response.raise_for_status()
    assert backend.hits["flaky"] == 3
    assert breaker.window_counts() == (3, 3, 0)
    finished = [e for e in seen if isinstance(e, CallFinished)]
    assert [f.outcome for f in finished] == ["failure"]
    failure = finished[0].exception
    assert isinstance(failure, HTTPStatusFailure) and isinstance(failure, httpx.HTTPError)
    assert failure.retry_after == 1.0 and failure.response.status_code == 503


async def test_429_http_date_retry_after_becomes_seconds() -> None:
    seen: list[Event] = []
    policy = Policy("api", retry=_retry(max_attempts=2), hooks=[seen.append])
    async with serve() as backend, client_for(policy) as client:
        assert (await client.get(f"{backend.url}/limited")).status_code == 429
    failure = next(e.exception for e in seen if isinstance(e, CallFinished))
    assert isinstance(failure, HTTPStatusFailure)
    assert failure.retry_after == pytest.approx(120, abs=2)
    assert backend.hits["limited"] == 2


async def test_post_is_not_retried_unless_marked_idempotent() -> None:
    policy = Policy("api", retry=_retry())
    async with serve() as backend, client_for(policy) as client:
        assert (await client.post(f"{backend.url}/orders", json={"id": 1})).status_code == 500
        assert backend.hits["/orders"] == 1
        key = {"Idempotency-Key": "order-1"}
        assert (await client.post(f"{backend.url}/orders", headers=key)).status_code == 500
        assert backend.hits["/orders"] == 4
    async with serve() as backend, client_for(policy, idempotent_methods={"POST"}) as client:
        await client.post(f"{backend.url}/orders")
        assert backend.hits["/orders"] == 3


async def test_an_open_breaker_stops_requests_before_the_server() -> None:
    breaker = CircuitBreaker("api", minimum_calls=2, window_size=2, open_duration=60)
    async with serve() as backend, client_for(Policy("api", circuit_breaker=breaker)) as client:
        for _ in range(2):
            assert (await client.get(f"{backend.url}/down")).status_code == 500
        with pytest.raises(CircuitOpenError):
            await client.get(f"{backend.url}/down")
        with pytest.raises(CircuitOpenError):
            await client.post(f"{backend.url}/orders")
    assert backend.hits["/down"] == 2 and backend.hits["/orders"] == 0


async def test_the_attempt_timeout_cancels_a_slow_attempt_and_the_retry_gets_the_fast_one() -> None:
    policy = Policy(
        "api",
        retry=Retry(max_attempts=2, wait=tenacity.wait_none(), retry_on=(TimeoutError,)),
        timeout=Timeout(0.05),
    )
    async with serve() as backend, client_for(policy) as client:
        response = await client.get(f"{backend.url}/slow-then-fast")
    assert response.text == "fast" and backend.hits["slow-then-fast"] == 2


def two_policy_plan() -> Any:
    return load_plan(
        {
            "version": 1,
            "system": "client",
            "mechanisms": {
                "flaky-api": {
                    "retry": {
                        "max_attempts": 3,
                        "retry_on": ["httpx.HTTPError"],
                        "wait": {"kind": "none"},
                        "max_retry_after": "10ms",
                    }
                },
                "orders": {"circuit_breaker": {"minimum_calls": 1, "window_size": 1}},
            },
        }
    )


async def test_a_policy_per_host_or_route_from_the_plan() -> None:
    plan = two_policy_plan()
    async with serve() as backend:
        port = int(backend.url.rsplit(":", 1)[1])
        routes = PolicyRoutes(plan, {f"127.0.0.1:{port}/flaky": "flaky-api", "localhost": "orders"})
        async with client_for(routes) as client:
            assert (await client.get(f"{backend.url}/flaky")).status_code == 200
            assert (await client.get(f"{backend.url}/down")).status_code == 500  # no route
            assert (await client.get(f"{backend.url}/down")).status_code == 500
            assert (await client.get(f"http://localhost:{port}/down")).status_code == 500
            with pytest.raises(CircuitOpenError):  # the "orders" breaker opened on one failure
                await client.get(f"http://localhost:{port}/down")
    assert (backend.hits["flaky"], backend.hits["/down"]) == (3, 3)


def test_routes_name_plan_policies_and_well_formed_hosts() -> None:
    plan = two_policy_plan()
    with pytest.raises(ConfigError, match="no policy 'nope' in the plan; known policies: flaky"):
        PolicyRoutes(plan, {"api.example.com": "nope"})
    with pytest.raises(ConfigError, match="expected 'host', 'host:port' or 'host/path-prefix'"):
        PolicyRoutes(plan, {"https://api.example.com": "orders"})
    with pytest.raises(ConfigError, match="expected 'host'"):
        PolicyRoutes(plan, {"api.example.com:http": "orders"})
    routes = PolicyRoutes(
        plan, {"API.example.com": "orders", "api.example.com/v1/q": "flaky-api"}, default=None
    )
    assert routes.for_url("https://api.example.com/v1/q/7") is plan.policy("flaky-api")
    assert routes.for_url("https://api.example.com/v1/qx") is plan.policy("orders")
    assert routes.for_url("https://other.example.com/") is None


async def test_plan_fallbacks_stand_in_for_the_response() -> None:
    plan = load_plan(
        {
            "version": 1,
            "system": "client",
            "mechanisms": {"search": {"fallback": {"on": ["httpx.HTTPError"]}}, "raw": {}},
        }
    )

    def cached(failure: BaseException | object, request: httpx.Request) -> dict[str, Any]:
        return {"results": [], "stale": True, "url": str(request.url)}

    search = plan.policy("search", fallback=cached)
    async with serve() as backend:
        async with client_for(search) as client:
            response = await client.get(f"{backend.url}/down")
        assert response.status_code == 200
        assert response.headers["X-Resilience-Fallback"] == "search"
        assert response.json() == {"results": [], "stale": True, "url": f"{backend.url}/down"}

        teapot = Policy(
            "p",
            fallback=Fallback(lambda failure, request: httpx.Response(418, text="tea")),
        )
        async with client_for(teapot) as client:
            response = await client.get(f"{backend.url}/down")
        assert (response.status_code, response.text) == (418, "tea")

        wrong = Policy("wrong", fallback=Fallback(lambda failure, request: 42))
        async with client_for(wrong) as client:
            with pytest.raises(TypeError, match=r"must return an httpx\.Response, bytes, str"):
                await client.get(f"{backend.url}/down")


async def test_connection_errors_are_failures_that_reach_the_caller() -> None:
    breaker = CircuitBreaker("api", minimum_calls=10, window_size=10)
    async with serve() as backend:
        url = backend.url
    policy = Policy("api", retry=_retry(), circuit_breaker=breaker)
    async with client_for(policy) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"{url}/flaky")  # the server is gone
    assert breaker.window_counts() == (3, 3, 0)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(TypeError, match="policy"):
        ResilientTransport("api")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="failure_status"):
        ResilientTransport(Policy("api"), failure_status=500)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cannot run a sync function"):
        ResilientSyncTransport(Policy("api", chaos=[_AsyncOnly()]))


# ------------------------------------------------------------------------------- httpx.Client


@contextmanager
def sync_client(policy: Any) -> Iterator[httpx.Client]:
    with httpx.Client(transport=ResilientSyncTransport(policy), timeout=5) as client:
        yield client


def test_sync_client_retries_503_and_counts_failures_in_the_breaker() -> None:
    breaker = CircuitBreaker("api", minimum_calls=10, window_size=10)
    seen: list[Event] = []
    policy = Policy("api", retry=_retry(), circuit_breaker=breaker, hooks=[seen.append])
    with threaded_backend() as backend, sync_client(policy) as client:
        response = client.get(f"{backend.url}/flaky")
        assert (response.status_code, response.text) == (200, "ok")
        assert client.post(f"{backend.url}/orders").status_code == 500
    assert backend.hits["flaky"] == 3 and backend.hits["/orders"] == 1
    assert breaker.window_counts() == (4, 3, 0)
    assert [e.wait for e in seen if isinstance(e, RetryScheduled)] == [
        pytest.approx(0.02),
        pytest.approx(0.02),
    ]
    assert [e.outcome for e in seen if isinstance(e, CallFinished)] == ["success", "failure"]


def test_sync_client_uses_the_attempt_timeout_as_httpx_timeout() -> None:
    policy = Policy(
        "api",
        retry=Retry(max_attempts=2, wait=tenacity.wait_none(), retry_on=(httpx.TimeoutException,)),
        timeout=Timeout(0.05),
    )
    with threaded_backend() as backend, sync_client(policy) as client:
        response = client.get(f"{backend.url}/slow-then-fast")  # first answer takes 0.1 s
    assert response.text == "fast" and backend.hits["slow-then-fast"] == 2


def test_sync_client_plan_fallback_and_deadline() -> None:
    plan = load_plan(
        {
            "version": 1,
            "system": "client",
            "mechanisms": {"search": {"deadline": "1ms", "fallback": {}}},
        }
    )
    seen: list[BaseException | object] = []

    def empty(failure: BaseException | object, request: httpx.Request) -> bytes:
        seen.append(failure)
        return b"[]"

    with threaded_backend() as backend, sync_client(plan.policy("search", fallback=empty)) as c:
        response = c.get(f"{backend.url}/slow-then-fast")
    # The 1 ms deadline caps httpx's read timeout: the 0.1 s answer times out, the fallback answers.
    assert (response.status_code, response.content) == (200, b"[]")
    assert isinstance(seen[0], httpx.TimeoutException)


class _AsyncOnly:
    """A layer of one's own with no sync path (`run_sync`): the sync clients must refuse it."""

    mechanism = "chaos"

    def bind(self, policy: Any, emitter: Any) -> None:
        return None

    def describe(self) -> str:
        return "AsyncOnly()"

    async def run(self, nxt: Any, call: Any, ctx: Any) -> Any:
        return await nxt(call, ctx)


class _KeyReader:
    """A layer of one's own that reads the call's key (and says so)."""

    mechanism = "key_reader"
    reads_call_key = True

    def __init__(self) -> None:
        self.keys: list[str | None] = []

    def bind(self, policy: str, emitter: Any) -> None:
        pass

    def describe(self) -> str:
        return "KeyReader()"

    async def run(self, nxt: Any, call: Any, ctx: Any) -> Any:
        self.keys.append(call_key_var.get())
        return await nxt(call, ctx)

    def run_sync(self, nxt: Any, call: Any, ctx: Any) -> Any:
        self.keys.append(call_key_var.get())
        return nxt(call, ctx)


async def test_the_host_key_is_set_for_a_policy_whose_layers_read_it_and_only_for_it() -> None:
    at_send: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        at_send.append(call_key_var.get())
        return httpx.Response(200)

    reader = _KeyReader()
    reading = Policy("reads", retry=_retry(), chaos=reader)
    plain = Policy("plain", retry=_retry())
    assert (reading.reads_call_key, plain.reads_call_key) == (True, False)
    assert Policy("keyed", circuit_breaker=KeyedBreaker("keyed")).reads_call_key
    urls = ("http://a.example:8080/x", "https://b.example/y", "http://c.example/z")
    for policy in (reading, plain):
        mock = httpx.MockTransport(answer)
        async with httpx.AsyncClient(transport=ResilientTransport(policy, transport=mock)) as c:
            for url in urls:
                assert (await c.get(url)).status_code == 200
    keys = ["a.example:8080", "b.example:443", "c.example:80"]
    assert reader.keys == keys
    assert at_send == [*keys, None, None, None]
    assert call_key_var.get() is None  # reset after each request
    plain._replace(retry=_retry(), chaos=reader)  # what a plan reload does: it follows
    assert plain.reads_call_key


def test_the_sync_transport_sets_the_host_key_only_for_a_policy_that_reads_it() -> None:
    at_send: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        at_send.append(call_key_var.get())
        return httpx.Response(200)

    reader = _KeyReader()
    for policy in (Policy("reads", retry=_retry(), chaos=reader), Policy("plain", retry=_retry())):
        transport = ResilientSyncTransport(policy, transport=httpx.MockTransport(answer))
        with httpx.Client(transport=transport) as client:
            assert client.get("https://b.example/y").status_code == 200
    assert (reader.keys, at_send) == (["b.example:443"], ["b.example:443", None])


class _ContextRecorder:
    """A layer keeping the context each request's call runs with."""

    mechanism = "recorder"

    def __init__(self) -> None:
        self.seen: list[CallContext] = []

    def bind(self, policy: str, emitter: Any) -> None:
        pass

    def describe(self) -> str:
        return "ContextRecorder()"

    async def run(self, nxt: Any, call: Any, ctx: CallContext) -> Any:
        self.seen.append(ctx)
        return await nxt(call, ctx)


async def test_a_request_gets_the_context_the_constructor_would_make() -> None:
    # The transport builds the context inline (faster); every attribute must still be what
    # CallContext(...) sets, and it is a fresh one per request.
    recorder = _ContextRecorder()
    policy = Policy("ctx", chaos=recorder)
    mock = httpx.MockTransport(lambda request: httpx.Response(200))
    async with httpx.AsyncClient(transport=ResilientTransport(policy, transport=mock)) as client:
        for _ in range(2):
            assert (await client.get("http://dep.example/items")).status_code == 200
    first, second = recorder.seen
    assert first is not second and isinstance(first, CallContext)
    request = first.args[0]
    assert isinstance(request, httpx.Request) and request.url == "http://dep.example/items"
    made = CallContext("ctx", policy.emitter, (request,), {})
    slots = [s for s in CallContext.__slots__ if s != "retrying"]  # set by Retry, not at creation
    assert [getattr(first, s) for s in slots] == [getattr(made, s) for s in slots]


async def test_a_retrying_transport_inside_another_makes_the_outer_attempts_only() -> None:
    # The inner transport's retry runs inside the outer retry's call: attempts do not multiply.
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        return httpx.Response(503)

    inner = ResilientTransport(
        Policy("inner", retry=_retry(3)), transport=httpx.MockTransport(answer)
    )
    outer = ResilientTransport(Policy("outer", retry=_retry(2)), transport=inner)
    async with httpx.AsyncClient(transport=outer) as client:
        assert (await client.get("http://dep.example/a")).status_code == 503
    assert sent == ["/a", "/a"]  # 2 outer attempts x 1 inner attempt each
    async with httpx.AsyncClient(transport=inner) as client:
        assert (await client.get("http://dep.example/b")).status_code == 503
    assert sent == ["/a", "/a", "/b", "/b", "/b"]  # alone, the inner one retries
