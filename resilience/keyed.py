"""Keyed breakers and Envoy-style outlier detection: one bad host, endpoint or tenant is isolated
while the others keep serving.

`KeyedBreaker` holds one `CircuitBreaker` per key, made on first use from the same settings. The
key of a call is `call_key_var` (the HTTP client integrations set it to the request's
``host:port``), or what ``key(ctx)`` returns. At most `max_keys` breakers are kept: using a key
moves it to the back, and a new key past the bound evicts the least recently used one (its
window and state are forgotten: the key starts closed if it comes back). Metrics stay bounded:
events carry the policy's name, never the key; the children's own emitters all carry the keyed
breaker's name.

`OutlierDetector` is Envoy's outlier detection (resilience-anchors §4.3), passive and per key:

======================================= ======= ===========================================
parameter                               default meaning
======================================= ======= ===========================================
``consecutive_5xx``                     5       failures in a row that eject a host at once
``interval``                            10 s    how often the success-rate sweep runs
``base_ejection_time``                  30 s    ejection time × the host's ejection count
``max_ejection_time``                   300 s   cap of the ejection time
``max_ejection_percent``                10      ejected share of known hosts (at least 1)
``success_rate_minimum_hosts``          5       hosts with enough volume for the sweep
``success_rate_request_volume``         100     requests a host needs in an interval
``success_rate_stdev_factor``           1.9     eject when SR < mean − factor × stdev
======================================= ======= ===========================================

An ejected host returns by itself when its time is up; its ejection count (the multiplier)
drops by one for every healthy interval. Give a `KeyedBreaker` an ``outlier_detection=`` and a
call to an ejected key is refused with `HostEjectedError` (a call without a key is never
ejected: it names no host); `OutlierDetector.choose(hosts)` picks
among the hosts not ejected. Added in 0.2.0.
"""

from __future__ import annotations

import math
import random
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from resilience import _clock
from resilience._core import Call, CallContext, Mechanism, Step, SyncStep
from resilience._errors import ConfigError, RejectedError
from resilience._events import Rejected
from resilience.breaker import CircuitBreaker

T = TypeVar("T")

__all__ = [
    "HostEjectedError",
    "KeyedBreaker",
    "OutlierDetector",
    "call_key_var",
]

call_key_var: ContextVar[str | None] = ContextVar("resilience_call_key", default=None)
"""The key (host, endpoint, tenant) of the call being made, or None.

The httpx transports set it to the request's ``host:port`` for a policy whose layers read it
(`Policy.reads_call_key`: a layer with a true ``reads_call_key`` attribute, as `KeyedBreaker`);
the aiohttp client middleware for every request."""


class HostEjectedError(RejectedError):
    """Outlier detection ejected the call's host; `retry_after` says when it returns."""

    mechanism = "outlier_detection"


def _number(owner: str, name: str, value: float, *, minimum: float = 0.0) -> float:
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value < minimum
    ):
        raise ConfigError(f"{owner}.{name}: expected a number >= {minimum:g}, got {value!r}")
    return float(value)


@dataclass(slots=True)
class _Host:
    consecutive: int = 0
    successes: int = 0
    total: int = 0
    ejections: int = 0
    ejected_until: float | None = None


class OutlierDetector:
    """Per-host passive health in Envoy's terms (see the module table). Added in 0.2.0."""

    def __init__(
        self,
        *,
        consecutive_5xx: int = 5,
        interval: float = 10.0,
        base_ejection_time: float = 30.0,
        max_ejection_time: float = 300.0,
        max_ejection_percent: float = 10.0,
        success_rate_minimum_hosts: int = 5,
        success_rate_request_volume: int = 100,
        success_rate_stdev_factor: float = 1.9,
        max_hosts: int = 1024,
        clock: Callable[[], float] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        owner = "OutlierDetector"
        for name, value in (
            ("consecutive_5xx", consecutive_5xx),
            ("success_rate_minimum_hosts", success_rate_minimum_hosts),
            ("success_rate_request_volume", success_rate_request_volume),
            ("max_hosts", max_hosts),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{owner}.{name}: expected an integer >= 1, got {value!r}")
        self.consecutive_5xx = consecutive_5xx
        self.interval = _number(owner, "interval", interval, minimum=0.001)
        self.base_ejection_time = _number(owner, "base_ejection_time", base_ejection_time)
        self.max_ejection_time = _number(owner, "max_ejection_time", max_ejection_time)
        self.max_ejection_percent = _number(owner, "max_ejection_percent", max_ejection_percent)
        if self.max_ejection_percent > 100:
            raise ConfigError(
                f"{owner}.max_ejection_percent: expected 0..100, got {max_ejection_percent!r}"
            )
        self.success_rate_minimum_hosts = success_rate_minimum_hosts
        self.success_rate_request_volume = success_rate_request_volume
        self.success_rate_stdev_factor = _number(
            owner, "success_rate_stdev_factor", success_rate_stdev_factor
        )
        self.max_hosts = max_hosts
        self._clock = clock or _clock.monotonic
        self._rng = rng or random.Random()
        self._hosts: OrderedDict[str, _Host] = OrderedDict()
        self._next_sweep: float | None = None
        self._lock = threading.Lock()

    # -- readouts --------------------------------------------------------------------------

    def ejected(self) -> list[str]:
        """The hosts ejected now."""
        with self._lock:
            now = self._tick()
            return [h for h, s in self._hosts.items() if self._is_out(s, now)]

    def is_ejected(self, host: str) -> bool:
        """True while `host` is ejected."""
        with self._lock:
            now = self._tick()
            state = self._hosts.get(host)
            return state is not None and self._is_out(state, now)

    def returns_in(self, host: str) -> float | None:
        """Seconds until an ejected `host` returns, or None when it is not ejected."""
        with self._lock:
            now = self._tick()
            state = self._hosts.get(host)
            if state is None or not self._is_out(state, now):
                return None
            assert state.ejected_until is not None
            return state.ejected_until - now

    def choose(self, hosts: Sequence[str]) -> str:
        """A random host of `hosts` that is not ejected (all ejected: any of them)."""
        if not hosts:
            raise ConfigError("OutlierDetector.choose: expected at least one host")
        with self._lock:
            now = self._tick()
            for host in hosts:
                self._state(host)
            healthy = [h for h in hosts if not self._is_out(self._hosts[h], now)]
        return self._rng.choice(healthy or list(hosts))

    # -- recording ---------------------------------------------------------------------------

    def record(self, host: str, ok: bool) -> None:
        """One response from `host`: `ok` False for a 5xx / connection failure."""
        with self._lock:
            now = self._tick()
            state = self._state(host)
            state.total += 1
            if ok:
                state.successes += 1
                state.consecutive = 0
                return
            state.consecutive += 1
            if state.consecutive >= self.consecutive_5xx and not self._is_out(state, now):
                self._eject(state, now)

    # -- internals ---------------------------------------------------------------------------

    def _state(self, host: str) -> _Host:
        state = self._hosts.get(host)
        if state is None:
            state = self._hosts[host] = _Host()
            if len(self._hosts) > self.max_hosts:
                self._hosts.popitem(last=False)  # the least recently used host
        else:
            self._hosts.move_to_end(host)
        return state

    @staticmethod
    def _is_out(state: _Host, now: float) -> bool:
        return state.ejected_until is not None and now < state.ejected_until

    def _eject(self, state: _Host, now: float) -> bool:
        out = sum(1 for s in self._hosts.values() if self._is_out(s, now))
        # At least one host can always be ejected; more only within max_ejection_percent.
        if out and (out + 1) * 100 > self.max_ejection_percent * len(self._hosts):
            return False
        state.ejections += 1
        duration = min(
            self.base_ejection_time * state.ejections,
            max(self.max_ejection_time, self.base_ejection_time),
        )
        state.ejected_until = now + duration
        state.consecutive = 0
        return True

    def _tick(self) -> float:
        now = self._clock()
        if self._next_sweep is None:
            self._next_sweep = now + self.interval
        elif now >= self._next_sweep:
            self._sweep(now)
            self._next_sweep = now + self.interval
        return now

    def _sweep(self, now: float) -> None:
        """The interval's success-rate detector, then a fresh interval for every host."""
        volume = [
            (s, s.successes / s.total)
            for s in self._hosts.values()
            if s.total >= self.success_rate_request_volume and not self._is_out(s, now)
        ]
        if len(volume) >= self.success_rate_minimum_hosts:
            rates = [rate for _, rate in volume]
            mean = sum(rates) / len(rates)
            stdev = math.sqrt(sum((r - mean) ** 2 for r in rates) / len(rates))
            floor = mean - self.success_rate_stdev_factor * stdev
            for state, rate in sorted(volume, key=lambda v: v[1]):
                if rate < floor:
                    self._eject(state, now)
        for state in self._hosts.values():
            if not self._is_out(state, now):
                if state.ejected_until is not None:
                    state.ejected_until = None  # back in service
                elif state.ejections and state.total and state.successes == state.total:
                    state.ejections -= 1  # a healthy interval lowers the multiplier
            state.successes = state.total = 0


class KeyedBreaker(Mechanism):
    """One `CircuitBreaker` per key, at most `max_keys` (least recently used evicted); optional
    outlier detection over the same keys (see the module docstring). Added in 0.2.0."""

    mechanism = "circuit_breaker"
    reads_call_key = True
    """This layer reads `call_key_var`: the HTTP client integrations set it for its policies."""

    def __init__(
        self,
        name: str,
        *,
        max_keys: int = 1024,
        key: Callable[[CallContext], str | None] | None = None,
        outlier_detection: OutlierDetector | None = None,
        **breaker_settings: Any,
    ) -> None:
        super().__init__()
        if not isinstance(name, str) or not name:
            raise ConfigError(f"KeyedBreaker.name: expected a non-empty string, got {name!r}")
        if not isinstance(max_keys, int) or isinstance(max_keys, bool) or max_keys < 1:
            raise ConfigError(f"KeyedBreaker.max_keys: expected an integer >= 1, got {max_keys!r}")
        self.name = name
        self.max_keys = max_keys
        self.key = key
        self.outlier_detection = outlier_detection
        self.settings = dict(breaker_settings)
        CircuitBreaker(name, **self.settings)  # validate the settings now, not on first use
        self._breakers: OrderedDict[str, CircuitBreaker] = OrderedDict()
        self._lock = threading.Lock()
        self.evictions = 0

    def describe(self) -> str:
        """Every setting as one line of text."""
        detection = ", outlier_detection" if self.outlier_detection is not None else ""
        return f"KeyedBreaker({self.name!r}, max_keys={self.max_keys}{detection})"

    def keys(self) -> list[str]:
        """The keys with a breaker now, least recently used first."""
        return list(self._breakers)

    def open_keys(self) -> list[str]:
        """The keys whose breaker is open (or forced open) now."""
        return [
            k for k, b in list(self._breakers.items()) if b.state.value in ("open", "forced_open")
        ]

    def breaker(self, key: str) -> CircuitBreaker:
        """The breaker of `key`, made on first use (evicting the least recently used key)."""
        with self._lock:
            found = self._breakers.get(key)
            if found is not None:
                self._breakers.move_to_end(key)
                return found
            made = CircuitBreaker(self.name, **self.settings)
            for emitter in self._emitters:
                made.bind(self._policy, emitter)
            self._breakers[key] = made
            if len(self._breakers) > self.max_keys:
                self._breakers.popitem(last=False)
                self.evictions += 1
            return made

    def _key(self, ctx: CallContext) -> str:
        found = call_key_var.get()
        if found is None and self.key is not None:
            found = self.key(ctx)
        return "" if found is None else str(found)

    def _detector(self, key: str) -> OutlierDetector | None:
        # A call without a key (no HTTP integration named its host) is not a host: ejecting
        # the empty key would refuse every such call, so outlier detection leaves it alone.
        return self.outlier_detection if key else None

    def _check_ejected(self, key: str, ctx: CallContext) -> None:
        detector = self._detector(key)
        if detector is None:
            return
        wait = detector.returns_in(key)
        if wait is not None:
            if ctx.emitter.handlers:
                ctx.emitter.emit(Rejected(ctx.policy, "outlier_detection", wait))
            raise HostEjectedError(
                f"host {key[:200]!r} is ejected by outlier detection for {wait:g} s more",
                policy=ctx.policy,
                retry_after=wait,
            )

    async def run(self, nxt: Step[T], call: Call[T], ctx: CallContext) -> T:
        """Run one call through the breaker of its key."""
        key = self._key(ctx)
        self._check_ejected(key, ctx)
        breaker = self.breaker(key)
        detector = self._detector(key)
        if detector is None:
            return await breaker.run(nxt, call, ctx)
        try:
            result = await breaker.run(nxt, call, ctx)
        except Exception as exc:
            if not isinstance(exc, RejectedError):
                detector.record(key, False)
            raise
        detector.record(key, True)
        return result

    def run_sync(self, nxt: SyncStep[T], call: Callable[[], T], ctx: CallContext) -> T:
        """Run one sync call through the breaker of its key."""
        key = self._key(ctx)
        self._check_ejected(key, ctx)
        breaker = self.breaker(key)
        detector = self._detector(key)
        try:
            result = breaker.run_sync(nxt, call, ctx)
        except Exception as exc:
            if detector is not None and not isinstance(exc, RejectedError):
                detector.record(key, False)
            raise
        if detector is not None:
            detector.record(key, True)
        return result
