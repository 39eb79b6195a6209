"""A small client of the Prometheus HTTP query API, every request under a resilience Policy.

Instant queries only (`/api/v1/query`): the SLA report needs a handful of numbers, not graphs.
The requests run through our own `resilience.Policy` (attempt timeout, total deadline, retries
with full-jitter backoff on connection errors, timeouts and 5xx), the same runtime the plan
configures for services. A server that stays unreachable becomes one `UpstreamError` sentence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from planner.errors import UpstreamError
from planner.urls import check_url
from resilience import FullJitterBackoff, Policy, Retry

__all__ = ["PrometheusClient", "Sample", "Series", "default_policy"]


class _Retryable(Exception):
    """A 5xx answer: the server may recover, try again."""


@dataclass(frozen=True)
class Sample:
    """One series of an instant vector: its labels and value."""

    labels: Mapping[str, str]
    value: float


@dataclass(frozen=True)
class Series:
    """One series of a range vector: its labels and its raw (time, value) samples, oldest first."""

    labels: Mapping[str, str]
    samples: tuple[tuple[float, float], ...]

    @property
    def key(self) -> tuple[tuple[str, str], ...]:
        """The labels as a hashable, ordered key."""
        return tuple(sorted(self.labels.items()))


def default_policy(timeout: float = 10.0) -> Policy:
    """Attempt timeout `timeout`, 3 attempts with full-jitter backoff, a total deadline."""
    return Policy(
        "prometheus-query",
        timeout=timeout,
        deadline=3 * timeout + 5.0,
        retry=Retry(
            max_attempts=3,
            wait=FullJitterBackoff(initial=0.2, max=2.0),
            retry_on=(aiohttp.ClientConnectionError, TimeoutError, _Retryable),
        ),
    )


class PrometheusClient:
    """Instant queries against a Prometheus-compatible server (Prometheus, Thanos, Mimir, VM)."""

    def __init__(
        self, url: str, session: aiohttp.ClientSession, *, policy: Policy | None = None
    ) -> None:
        self.url = check_url(url, "Prometheus").rstrip("/")
        self._session = session
        self._policy = policy or default_policy()
        self._get = self._policy(self._get_once)

    async def _get_once(self, expr: str, at: float) -> Any:
        params = {"query": expr, "time": f"{at:.3f}"}
        async with self._session.get(f"{self.url}/api/v1/query", params=params) as resp:
            if resp.status >= 500:
                raise _Retryable(f"HTTP {resp.status}")
            try:
                body = await resp.json(content_type=None)
            except (ValueError, aiohttp.ContentTypeError):
                body = None
            if isinstance(body, dict) and body.get("status") == "error":
                # Prometheus's own refusal (400 bad_data, 422 execution): its words say why.
                error = body.get("error") or body.get("errorType") or f"HTTP {resp.status}"
                raise UpstreamError(
                    f"Prometheus at {self.url} rejected the query {expr!r}: {error}"
                )
            answered = isinstance(body, dict) and body.get("status") == "success"
            if resp.status != 200 or not answered or not isinstance(body.get("data"), dict):
                # A web server without the query API (404, an HTML page, an empty body).
                if resp.status != 200:
                    what = f"HTTP {resp.status}"
                elif body is None:
                    what = "HTTP 200, not JSON"
                else:
                    what = "HTTP 200, not a query answer"
                raise UpstreamError(f"{self.url}: not a Prometheus API ({what})")
            return body["data"]

    async def _data(self, expr: str, at: float) -> Any:
        try:
            return await self._get(expr, at)
        except UpstreamError:
            raise
        except _Retryable as exc:
            raise UpstreamError(
                f"Prometheus at {self.url} failed ({exc}) on the query {expr!r}, 3 attempts"
            ) from None
        except TimeoutError:
            raise UpstreamError(
                f"Prometheus at {self.url} did not answer in time (query {expr!r})"
            ) from None
        except aiohttp.ClientError as exc:
            reason = getattr(exc, "os_error", None) or exc
            raise UpstreamError(f"Prometheus at {self.url} is unreachable: {reason}") from None

    async def vector(self, expr: str, at: float) -> list[Sample]:
        """The instant vector `expr` at unix time `at` (NaN samples dropped: they carry no data)."""
        data = await self._data(expr, at)
        if data.get("resultType") == "scalar":
            value = float(data["result"][1])
            return [] if math.isnan(value) else [Sample({}, value)]
        if data.get("resultType") != "vector":
            raise UpstreamError(f"Prometheus at {self.url}: expected a vector from {expr!r}")
        out = [Sample(item["metric"], float(item["value"][1])) for item in data["result"]]
        return [s for s in out if not math.isnan(s.value)]

    async def total(self, expr: str, at: float) -> float | None:
        """The sum of the vector `expr` at `at`; None when it is empty (no data)."""
        samples = await self.vector(expr, at)
        return sum(s.value for s in samples) if samples else None

    async def sample_times(self, selector: str, window_s: int, at: float) -> list[float]:
        """Timestamps of the raw samples of `selector` in [at − window, at] (a range query)."""
        data = await self._data(f"{selector}[{window_s}s]", at)
        if data.get("resultType") != "matrix":
            raise UpstreamError(f"Prometheus at {self.url}: expected a matrix for {selector!r}")
        return [float(point[0]) for series in data["result"] for point in series["values"]]

    async def series(self, selector: str, window_s: float, at: float) -> list[Series]:
        """The raw samples of every series of `selector` in [at − window, at] (a range query)."""
        return await self.matrix(f"{selector}[{max(1, round(window_s * 1000))}ms]", at)

    async def matrix(self, expr: str, at: float) -> list[Series]:
        """The range vector `expr` (a range selector or a subquery) at unix time `at`."""
        data = await self._data(expr, at)
        if data.get("resultType") != "matrix":
            raise UpstreamError(f"Prometheus at {self.url}: expected a matrix from {expr!r}")
        return [
            Series(item["metric"], tuple((float(t), float(v)) for t, v in item["values"]))
            for item in data["result"]
        ]
