"""The requests HTTPAdapter against a real aiohttp server on loopback (served from a thread)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
import tenacity

from resilience import (
    CallFinished,
    CircuitBreaker,
    CircuitOpenError,
    Fallback,
    Policy,
    Retry,
    RetryScheduled,
    Timeout,
    load_plan,
)
from resilience.events import Event
from resilience.integrations.requests import HTTPStatusFailure, PolicyRoutes, ResilientAdapter
from tests.threaded_backend import threaded_backend

pytestmark = pytest.mark.integration


def _retry(max_attempts: int = 3) -> Retry:
    return Retry(max_attempts=max_attempts, wait=tenacity.wait_none(), max_retry_after=0.02)


@contextmanager
def session_with(policy: Any, **options: Any) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.mount("http://", ResilientAdapter(policy, **options))
        yield session


def test_503_is_retried_honouring_retry_after_and_the_breaker_counts_attempts() -> None:
    breaker = CircuitBreaker("api", minimum_calls=10, window_size=10)
    seen: list[Event] = []
    policy = Policy("api", retry=_retry(), circuit_breaker=breaker, hooks=[seen.append])
    with threaded_backend() as backend, session_with(policy) as session:
        response = session.get(f"{backend.url}/flaky", timeout=5)
        assert (response.status_code, response.text) == (200, "ok")
        backend.fail_first = 100
        failed = session.get(f"{backend.url}/flaky", timeout=5)
        assert (failed.status_code, failed.text) == (503, "overloaded")
        with pytest.raises(requests.HTTPError):
            failed.raise_for_status()
    assert backend.hits["flaky"] == 6
    assert breaker.window_counts() == (6, 5, 0)
    assert [e.wait for e in seen if isinstance(e, RetryScheduled)] == [pytest.approx(0.02)] * 4
    finished = [e for e in seen if isinstance(e, CallFinished)]
    assert [f.outcome for f in finished] == ["success", "failure"]
    failure = finished[1].exception
    assert isinstance(failure, HTTPStatusFailure) and failure.retry_after == 1.0


def test_429_with_an_http_date_is_a_failure_with_retry_after_seconds() -> None:
    seen: list[Event] = []
    policy = Policy("api", retry=_retry(max_attempts=2), hooks=[seen.append])
    with threaded_backend() as backend, session_with(policy) as session:
        assert session.get(f"{backend.url}/limited").status_code == 429
    failure = next(e.exception for e in seen if isinstance(e, CallFinished))
    assert isinstance(failure, HTTPStatusFailure)
    assert failure.retry_after == pytest.approx(120, abs=2)
    assert backend.hits["limited"] == 2


def test_post_makes_one_attempt_unless_marked_idempotent() -> None:
    policy = Policy("api", retry=_retry())
    with threaded_backend() as backend, session_with(policy) as session:
        assert session.post(f"{backend.url}/orders", json={"id": 1}).status_code == 500
        assert backend.hits["/orders"] == 1
        marked = session.post(
            f"{backend.url}/orders", json={"id": 1}, headers={"Idempotency-Key": "o-1"}
        )
        assert marked.status_code == 500
        assert backend.hits["/orders"] == 4


def test_an_open_breaker_stops_requests_before_the_server() -> None:
    breaker = CircuitBreaker("api", minimum_calls=2, window_size=2, open_duration=60)
    with (
        threaded_backend() as backend,
        session_with(Policy("api", circuit_breaker=breaker)) as session,
    ):
        for _ in range(2):
            assert session.get(f"{backend.url}/down").status_code == 500
        with pytest.raises(CircuitOpenError):
            session.get(f"{backend.url}/down")
    assert backend.hits["/down"] == 2


def test_the_attempt_timeout_is_requests_own_timeout() -> None:
    policy = Policy(
        "api",
        retry=Retry(max_attempts=2, wait=tenacity.wait_none(), retry_on=(requests.Timeout,)),
        timeout=Timeout(0.05),
    )
    with threaded_backend() as backend, session_with(policy) as session:
        # The caller's 5 s is capped by the policy's 0.05 s: the 0.1 s first answer times out.
        response = session.get(f"{backend.url}/slow-then-fast", timeout=5)
    assert response.text == "fast" and backend.hits["slow-then-fast"] == 2


def test_policy_per_host_from_the_plan_and_a_typed_fallback() -> None:
    plan = load_plan(
        {
            "version": 1,
            "system": "client",
            "mechanisms": {
                "flaky-api": {
                    "retry": {"max_attempts": 3, "wait": {"kind": "none"}, "max_retry_after": 0},
                },
                "orders": {"fallback": {"on": ["requests.RequestException"]}},
            },
        }
    )

    def queued(
        failure: BaseException | object, request: requests.PreparedRequest
    ) -> dict[str, Any]:
        return {"queued": True, "method": request.method}

    plan.policy("orders", fallback=queued)
    with threaded_backend() as backend:
        port = int(backend.url.rsplit(":", 1)[1])
        routes = PolicyRoutes(
            plan, {f"127.0.0.1:{port}/flaky": "flaky-api", f"127.0.0.1:{port}/down": "orders"}
        )
        with session_with(routes) as session:
            assert session.get(f"{backend.url}/flaky").text == "ok"
            answer = session.get(f"{backend.url}/down")
            assert answer.status_code == 200
            assert answer.json() == {"queued": True, "method": "GET"}
            assert answer.headers["X-Resilience-Fallback"] == "orders"
            assert session.get(f"{backend.url}/slow-then-fast").text == "slow"  # no route
        wrong = Policy("wrong", fallback=Fallback(lambda failure, request: 42))
        with session_with(wrong) as session, pytest.raises(TypeError, match=r"requests\.Response"):
            session.get(f"{backend.url}/down")
    assert backend.hits["flaky"] == 3 and backend.hits["/down"] == 2


def test_a_policy_that_cannot_run_sync_is_refused_when_the_adapter_is_made() -> None:
    with pytest.raises(TypeError, match="cannot run a sync function"):
        ResilientAdapter(Policy("api", chaos=[_AsyncOnly()]))
    with pytest.raises(TypeError, match="policy"):
        ResilientAdapter("api")  # type: ignore[arg-type]


class _AsyncOnly:
    """A layer of one's own with no sync path (`run_sync`): the sync clients must refuse it."""

    mechanism = "chaos"

    def bind(self, policy: Any, emitter: Any) -> None:
        return None

    def describe(self) -> str:
        return "AsyncOnly()"

    async def run(self, nxt: Any, call: Any, ctx: Any) -> Any:
        return await nxt(call, ctx)
