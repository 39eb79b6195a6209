"""Probes: observe a running system over HTTP, through Prometheus, or from a metrics registry.

Each probe is an async function of its provider model (`chaos.experiment`) returning plain data
that tolerances judge. A probe that cannot observe (connection refused, bad response) raises
`ActivityError` (`UnreachableError` when its server gave no answer at all); the runner records
it as a failed activity, and a steady-state probe that fails is a probe out of tolerance.
Redirects are never followed: a 3xx is what the probe saw (an HTTP probe's status; a failed
Prometheus or metric read), not a reason to send a request to another host. Added in 0.1.0.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

import aiohttp
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from chaos.experiment import HttpProvider, LoadProvider, MetricProvider, PrometheusProvider
from resilience import ResilienceError


class ActivityError(ResilienceError):
    """A probe or an action could not do its job (server unreachable, refused, bad answer)."""


class UnreachableError(ActivityError):
    """A probe or an action got no answer from its server (refused, no route, timed out)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot reach {url}: {reason}")
        self.url = url
        self.reason = reason


def unreachable_reason(exc: BaseException, timeout: float) -> str:
    """Why a request got no answer, in the OS's words ("Connection refused")."""
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout:g}s"
    os_error = getattr(exc, "os_error", None)
    if isinstance(os_error, OSError):
        if os_error.errno is not None and os_error.errno > 0:
            return os.strerror(os_error.errno)  # asyncio's own text names the call, not the cause
        if os_error.strerror:
            return os_error.strerror  # a resolver error: "Name or service not known"
    return str(exc) or type(exc).__name__


#: Errors that mean the server gave no answer (as opposed to a bad one).
NO_ANSWER = (aiohttp.ClientConnectionError, TimeoutError)


def client_session() -> aiohttp.ClientSession:
    """The HTTP client of probes and actions: no cookies kept, no proxy from the environment."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(), trust_env=False)


def _quantile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank quantile of an ascending list (0.0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


def summarise(
    statuses: list[int | None], latencies: list[float], expected_status: int | None
) -> dict[str, Any]:
    """The result of an HTTP probe or load action from each request's status and latency."""

    def is_error(status: int | None) -> bool:
        if status is None:
            return True
        if expected_status is not None:
            return status != expected_status
        return status >= 500

    errors = sum(1 for s in statuses if is_error(s))
    ordered = sorted(latencies)
    counts = Counter("none" if s is None else str(s) for s in statuses)
    return {
        "status": statuses[-1] if statuses else None,
        "requests": len(statuses),
        "errors": errors,
        "error_ratio": errors / len(statuses) if statuses else 0.0,
        "statuses": dict(sorted(counts.items())),
        # Flat keys: Chaos Toolkit's `target` selects one top-level key, not a path.
        "latency_p50": _quantile(ordered, 0.50),
        "latency_p99": _quantile(ordered, 0.99),
        "latency_max": ordered[-1] if ordered else 0.0,
        "latency_mean": sum(ordered) / len(ordered) if ordered else 0.0,
    }


async def _one(
    session: aiohttp.ClientSession, provider: HttpProvider
) -> tuple[int | None, float, BaseException | None]:
    start = time.perf_counter()
    kwargs: dict[str, Any] = {"headers": provider.headers}
    if provider.body is not None:
        kwargs["json"] = provider.body
    try:
        async with session.request(
            provider.method,
            provider.url,
            timeout=aiohttp.ClientTimeout(total=provider.timeout),
            allow_redirects=False,
            **kwargs,
        ) as response:
            await response.read()
            return response.status, time.perf_counter() - start, None
    except (aiohttp.ClientError, TimeoutError) as exc:
        # No response is an error the user sees: count it, with the time it took to give up.
        return None, time.perf_counter() - start, exc


async def http_requests(
    provider: HttpProvider, session: aiohttp.ClientSession | None = None
) -> dict[str, Any]:
    """Send the provider's requests (bounded count and concurrency, paced for `load`); summarise.

    Raises `UnreachableError` when not a single request got a response: the URL is unreachable,
    which says nothing about the system's steady state.
    """
    own = session is None
    session = session or client_session()
    statuses: list[int | None] = [None] * provider.requests
    latencies: list[float] = [0.0] * provider.requests
    failures: list[BaseException] = []
    rate = provider.rate if isinstance(provider, LoadProvider) else None
    loop = asyncio.get_running_loop()
    start = loop.time()
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        while next_index < provider.requests:
            index = next_index
            next_index += 1
            if rate is not None:
                # Open-loop pacing: request i starts at i / rate, whatever the responses take.
                delay = start + index / rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            statuses[index], latencies[index], failure = await _one(session, provider)
            if failure is not None:
                failures.append(failure)

    try:
        workers = min(provider.concurrency, provider.requests)
        await asyncio.gather(*(worker() for _ in range(workers)))
    finally:
        if own:
            await session.close()
    if all(s is None for s in statuses):
        reason = unreachable_reason(failures[0], provider.timeout) if failures else "no answer"
        raise UnreachableError(provider.url, reason)
    return summarise(statuses, latencies, provider.expected_status)


async def prometheus_query(
    provider: PrometheusProvider, session: aiohttp.ClientSession | None = None
) -> float | None:
    """The value of the first sample of an instant query (None when the result is empty)."""
    own = session is None
    session = session or client_session()
    url = provider.url.rstrip("/") + "/api/v1/query"
    try:
        async with session.get(
            url,
            params={"query": provider.query},
            timeout=aiohttp.ClientTimeout(total=provider.timeout),
            allow_redirects=False,
        ) as response:
            if 300 <= response.status < 400:
                raise ActivityError(
                    f"Prometheus {provider.url}: HTTP {response.status} redirect, not followed"
                )
            payload = await response.json(content_type=None)
    except NO_ANSWER as exc:
        raise UnreachableError(provider.url, unreachable_reason(exc, provider.timeout)) from None
    except (aiohttp.ClientError, ValueError) as exc:
        raise ActivityError(f"Prometheus {provider.url}: {exc or type(exc).__name__}") from None
    finally:
        if own:
            await session.close()
    if not isinstance(payload, dict) or payload.get("status") != "success":
        error = payload.get("error") if isinstance(payload, dict) else payload
        raise ActivityError(f"Prometheus {provider.url}: query {provider.query!r} failed: {error}")
    data = payload["data"]
    result = data.get("result")
    if data.get("resultType") in ("scalar", "string"):
        return float(result[1])
    if not result:
        return None
    return float(result[0]["value"][1])


def _sum_samples(families: Iterable[Any], name: str, labels: dict[str, str]) -> float:
    total = 0.0
    for family in families:
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


async def metric_value(
    provider: MetricProvider, session: aiohttp.ClientSession | None = None
) -> float:
    """The sum of the matching samples (0.0 when none match: a counter not yet incremented)."""
    if provider.url is None:
        return _sum_samples(REGISTRY.collect(), provider.name, provider.labels)
    own = session is None
    session = session or client_session()
    try:
        async with session.get(
            provider.url,
            timeout=aiohttp.ClientTimeout(total=provider.timeout),
            allow_redirects=False,
        ) as response:
            if response.status != 200:  # a redirect too: it is not followed
                raise ActivityError(f"{provider.url}: HTTP {response.status}")
            text = await response.text()
    except NO_ANSWER as exc:
        raise UnreachableError(provider.url, unreachable_reason(exc, provider.timeout)) from None
    except aiohttp.ClientError as exc:
        raise ActivityError(f"{provider.url}: {exc or type(exc).__name__}") from None
    finally:
        if own:
            await session.close()
    try:
        families = list(text_string_to_metric_families(text))
    except ValueError as exc:
        raise ActivityError(f"{provider.url}: not a Prometheus text page: {exc}") from None
    return _sum_samples(families, provider.name, provider.labels)
