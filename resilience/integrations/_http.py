"""What the HTTP client integrations share: failure statuses, ``Retry-After``, idempotent methods,
the choice of a policy per host or route, and the sync pipeline of the sync clients."""

from __future__ import annotations

import email.utils
import math
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from resilience import _clock
from resilience._core import CallContext, SyncStep, _finished, compose_sync
from resilience._errors import ConfigError, DeadlineExceededError
from resilience.policy import Policy
from resilience.timeout import Deadline, Timeout

T = TypeVar("T")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
"""The methods RFC 9110 §9.2.2 defines as idempotent: safe to repeat."""

MAX_ROUTES = 1000
"""The most entries a `PolicyRoutes` table takes (each request scans the entries of its host)."""


def is_failure_status(status: int) -> bool:
    """The default: 5xx (the server failed) and 429 (it asked us to slow down) are failures."""
    return status >= 500 or status == 429


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date.

    A date in the past gives 0; a missing or unreadable header gives None. `now` is the wall clock
    (seconds since the epoch) the date is compared with; default `time.time()`.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    if len(value) > 64:  # an HTTP date is 29 characters; don't parse what a server made up
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a date without a zone is read as such
        return None
    seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds) if math.isfinite(seconds) else None


class _Plan(Protocol):
    def policy(self, name: str) -> Policy: ...

    def names(self) -> list[str]: ...


class PolicyRoutes:
    """The plan's policy for a request, chosen by host, ``host:port`` or ``host/path-prefix``.

    ::

        routes = PolicyRoutes(plan, {
            "llm.example.com": "llm-primary",            # every request to this host
            "search.internal:8080/v1/query": "vector-db",  # this host, port and path prefix
        }, default=None)                                  # other hosts: no policy

    The longest matching entry wins; a path prefix matches whole segments (``/v1/query`` matches
    ``/v1/query/7``, not ``/v1/queryx``); hosts compare case-insensitively. Values are policy
    names of `plan` (checked now, built on first use, so ``plan.policy(name, fallback=...)``
    may still come later) or `Policy` objects. Added in 0.1.0.
    """

    def __init__(
        self,
        plan: _Plan | None,
        routes: Mapping[str, str | Policy],
        *,
        default: str | Policy | None = None,
    ) -> None:
        if len(routes) > MAX_ROUTES:
            raise ConfigError(f"PolicyRoutes: at most {MAX_ROUTES} routes, got {len(routes)}")
        self._plan = plan
        self._resolved: dict[str, Policy] = {}
        by_host: dict[str, list[tuple[int | None, str, str | Policy]]] = {}
        for key, target in routes.items():
            self._check_target(f"route {key!r}", target)
            host, port, prefix = _parse_route(key)
            by_host.setdefault(host, []).append((port, prefix, target))
        # Longest prefix first, an entry with a port before one without.
        self._by_host = {
            host: sorted(entries, key=lambda e: (len(e[1]), e[0] is not None), reverse=True)
            for host, entries in by_host.items()
        }
        if default is not None:
            self._check_target("default", default)
        self._default = default

    def _check_target(self, where: str, target: object) -> None:
        if isinstance(target, Policy):
            return
        if not isinstance(target, str):
            raise ConfigError(f"PolicyRoutes {where}: expected a policy name or a Policy")
        if self._plan is None:
            raise ConfigError(f"PolicyRoutes {where}: a policy name needs a plan")
        known = self._plan.names()
        if target not in known:
            raise ConfigError(
                f"PolicyRoutes {where}: no policy {target!r} in the plan; known policies: "
                f"{', '.join(known) or 'none'}"
            )

    def _policy(self, target: str | Policy) -> Policy:
        if isinstance(target, Policy):
            return target
        found = self._resolved.get(target)
        if found is None:
            assert self._plan is not None  # checked in __init__
            found = self._resolved[target] = self._plan.policy(target)
        return found

    def choose(self, host: str, port: int | None, path: str) -> Policy | None:
        """The policy for a request to `host`:`port` `path`, or None (no policy)."""
        for entry_port, prefix, target in self._by_host.get(host.lower(), ()):
            if entry_port is not None and entry_port != port:
                continue
            if not prefix or path == prefix or path.startswith(prefix + "/"):
                return self._policy(target)
        return None if self._default is None else self._policy(self._default)

    def for_url(self, url: str) -> Policy | None:
        """The policy for a request to `url`."""
        parts = urllib.parse.urlsplit(url)
        return self.choose(parts.hostname or "", parts.port, parts.path or "/")


def _parse_route(key: str) -> tuple[str, int | None, str]:
    if not isinstance(key, str) or not key or len(key) > 2048 or "://" in key:
        raise ConfigError(
            f"PolicyRoutes route {key!r}: expected 'host', 'host:port' or 'host/path-prefix'"
        )
    hostport, slash, path = key.partition("/")
    host, colon, port_text = hostport.rpartition(":") if ":" in hostport else (hostport, "", "")
    if not host or (colon and not port_text.isdigit()):
        raise ConfigError(
            f"PolicyRoutes route {key!r}: expected 'host', 'host:port' or 'host/path-prefix'"
        )
    prefix = ("/" + path).rstrip("/") if slash else ""
    return host.lower(), int(port_text) if colon else None, prefix


# ----------------------------------------------------------------------------- sync pipeline


class SyncRunner:
    """Runs one sync HTTP attempt through a policy: breaker, retry, bulkhead, fallback (whatever
    sync layers the policy has), with the attempt timeout handed to the HTTP client instead.

    A sync call cannot be interrupted from outside, so the policy's `Timeout(attempt)` is not a
    layer here: its seconds become the client's own timeout of each attempt (connect and read),
    capped by what is left of the policy's `deadline`; an attempt that would start past the
    deadline raises `DeadlineExceededError`. Hedging needs concurrency and is left out. The
    pipeline follows a plan reload (rebuilt when the policy's layers change).
    """

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._layers: tuple[Any, ...] | None = None
        self._repeatable: SyncStep[Any] | None = None
        self._once: SyncStep[Any] | None = None

    def _build(self) -> None:
        policy = self.policy
        layers = policy.layers
        skipped = (policy.timeout, policy.deadline, policy.hedge)
        kept = [ly for ly in layers if not any(ly is s for s in skipped)]
        once = [ly for ly in kept if ly is not policy.retry and ly is not policy.fallback]
        try:
            self._repeatable, self._once = compose_sync(kept), compose_sync(once)
        except TypeError as exc:
            raise TypeError(f"policy {policy.name!r} for a sync HTTP client: {exc}") from None
        self._layers = layers

    def check(self) -> None:
        """Raise `TypeError` now when the policy has a layer that cannot run sync calls."""
        self._build()

    def run(self, attempt: Callable[[float | None], T], args: tuple[Any, ...], repeat: bool) -> T:
        """Call ``attempt(timeout)`` through the policy; `args` are what a fallback receives
        after the failure; `repeat` False: one attempt, no retry and no fallback."""
        policy = self.policy
        if policy.layers is not self._layers:
            self._build()
        step = self._repeatable if repeat else self._once
        assert step is not None
        timeout = policy.timeout.seconds if isinstance(policy.timeout, Timeout) else None
        deadline = policy.deadline
        call: Callable[[], T]
        if isinstance(deadline, Deadline):
            ends = _clock.monotonic() + deadline.seconds

            def call() -> T:
                left = ends - _clock.monotonic()
                if left <= 0:
                    raise DeadlineExceededError(
                        f"policy {policy.name!r}: deadline of {deadline.seconds:g}s exceeded",
                        policy=policy.name,
                        deadline=deadline.seconds,
                    )
                return attempt(left if timeout is None else min(timeout, left))

        else:

            def call() -> T:
                return attempt(timeout)

        emitter = policy.emitter
        ctx = CallContext(policy.name, emitter, args)
        if not emitter.handlers:
            result: T = step(call, ctx)
            return result
        start = _clock.monotonic()
        try:
            result = step(call, ctx)
        except Exception as exc:
            _finished(ctx, start, exc)
            raise
        _finished(ctx, start, None)
        return result
