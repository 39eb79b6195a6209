"""Fault injection strategies for a `Policy`'s ``chaos`` slot (Polly's chaos strategies, in Python).

Four strategies, each a `resilience.layers.Layer` that sits innermost in a policy, so every outer
mechanism (timeouts, retries, the breaker, the fallback) sees the injected fault exactly as it would
see the dependency's own:

| strategy | on injection | `fault` label |
|---|---|---|
| `FaultInjection(fault)` | raises `fault` instead of calling | ``fault`` |
| `LatencyInjection(latency)` | sleeps `latency` seconds, then calls | ``latency`` |
| `OutcomeInjection(outcome)` | returns `outcome` instead of calling | ``outcome`` |
| `BehaviourInjection(behaviour)` | runs `behaviour()`, then calls | ``behaviour`` |

Common options (Polly's names, in snake case):

| option | default | meaning |
|---|---|---|
| `injection_rate` | ``0.001`` (Polly's) | probability in [0, 1] that one call is injected |
| `enabled` | ``False`` | a bool or a zero-argument callable; chaos is **off unless enabled** |
| `rng` | a private `random.Random()` | a `random.Random` or a callable returning floats in [0, 1) |

A call is injected when the strategy is enabled and ``rng() < injection_rate``. Each injection
emits `resilience.ChaosInjected(policy, fault)` (the Prometheus exporter counts them as
``resilience_chaos_injections_total{policy, fault}``) and is counted in `injected`.

Strategies bound to a policy are listed in a `ChaosRegistry` (by default `registry`), which the
admin endpoint (`chaos.admin`) uses to switch them on and off per policy at runtime.

A policy built in code takes them in its slot (``Policy("llm", ..., chaos=[...])``). A policy built
from a plan file (`resilience.load_plan`) has no place for code in its file, so `inject` puts the
strategies just inside it, the same innermost position::

    llm = plan.policy("llm-primary", fallback=cached_answer)

    @llm
    @inject(llm, FaultInjection(aiohttp.ClientError), LatencyInjection(5.0))
    async def ask_llm(prompt: str) -> str: ...

Added in 0.1.0.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import math
import random
import time
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any, ClassVar, Generic, ParamSpec, Protocol, TypeVar, cast

from resilience import ChaosInjected, ConfigError
from resilience.layers import Call, CallContext, Emitter, Sleeper, Step, SyncStep, compose
from resilience.layers import sleep as _default_sleep

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")

FAULT_KINDS = ("fault", "latency", "outcome", "behaviour")
"""The `fault` label of each strategy, as in `ChaosInjected.fault` and the metric."""

DEFAULT_INJECTION_RATE = 0.001
"""Polly's default: one call in a thousand once a strategy is enabled."""


def _check_rate(value: object, what: str = "injection_rate") -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{what}: expected a number between 0 and 1, got {value!r}")
    rate = float(value)
    if not (0.0 <= rate <= 1.0) or math.isnan(rate):
        raise ConfigError(f"{what}: expected a number between 0 and 1, got {value!r}")
    return rate


class Injection:
    """Base of the chaos strategies: the enabled switch, the injection rate and the random draw."""

    mechanism: str = "chaos"
    fault: ClassVar[str] = ""

    def __init__(
        self,
        *,
        injection_rate: float = DEFAULT_INJECTION_RATE,
        enabled: bool | Callable[[], bool] = False,
        rng: random.Random | Callable[[], float] | None = None,
    ) -> None:
        self._rate = _check_rate(injection_rate)
        self._enabled: bool | Callable[[], bool] = enabled
        if rng is None:
            rng = random.Random()
        self._rng: Callable[[], float] = rng.random if isinstance(rng, random.Random) else rng
        self._policies: tuple[str, ...] = ()
        self.injected = 0
        """How many calls this strategy has injected so far."""

    # ------------------------------------------------------------------------- runtime switch

    @property
    def injection_rate(self) -> float:
        """Probability in [0, 1] that an enabled strategy injects one call."""
        return self._rate

    @injection_rate.setter
    def injection_rate(self, value: float) -> None:
        self._rate = _check_rate(value)

    @property
    def enabled(self) -> bool:
        """Whether the strategy injects now (evaluates the `enabled` callable, if one was given)."""
        flag = self._enabled
        return bool(flag()) if callable(flag) else flag

    def enable(self, injection_rate: float | None = None) -> None:
        """Switch on (replacing an `enabled` callable), optionally with a new rate."""
        if injection_rate is not None:
            self.injection_rate = injection_rate
        self._enabled = True

    def disable(self) -> None:
        """Switch off (replacing an `enabled` callable): calls pass straight through."""
        self._enabled = False

    @property
    def policies(self) -> tuple[str, ...]:
        """Names of the policies this strategy is bound to."""
        return self._policies

    # ---------------------------------------------------------------------------- Layer protocol

    def bind(self, policy: str, emitter: Emitter) -> None:
        """Learn the policy's name and list this strategy in the default registry under it."""
        if policy not in self._policies:
            self._policies = (*self._policies, policy)
        registry.add(policy, self)

    def settings(self) -> str:
        """The strategy-specific settings, for `describe`."""
        return ""

    def describe(self) -> str:
        """Every setting as one line of text."""
        flag = self._enabled
        enabled = "callable" if callable(flag) else str(flag)
        extra = self.settings()
        extra = f", {extra}" if extra else ""
        return f"{type(self).__name__}(injection_rate={self._rate:g}, enabled={enabled}{extra})"

    def _should_inject(self) -> bool:
        flag = self._enabled
        if flag is False:  # the common case: chaos off costs one comparison
            return False
        if callable(flag) and not flag():
            return False
        return self._rng() < self._rate

    def _injected(self, ctx: CallContext) -> None:
        self.injected += 1
        if ctx.emitter.handlers:
            ctx.emitter.emit(ChaosInjected(ctx.policy, self.fault))

    def run(self, nxt: Step[T], call: Call[T], ctx: CallContext) -> Coroutine[Any, Any, T]:
        """Run one call, injecting with probability `injection_rate` when enabled."""
        if self._enabled is False:
            # Chaos off: hand back the inner coroutine itself, no frame of ours on the call.
            return nxt(call, ctx)
        return self._run(nxt, call, ctx)

    async def _run(self, nxt: Step[T], call: Call[T], ctx: CallContext) -> T:
        if not self._should_inject():
            return await nxt(call, ctx)
        self._injected(ctx)
        return await self._inject(nxt, call, ctx)

    def run_sync(self, nxt: SyncStep[T], call: Callable[[], T], ctx: CallContext) -> T:
        """The sync counterpart of `run` (for policies decorating sync functions)."""
        if not self._should_inject():
            return nxt(call, ctx)
        self._injected(ctx)
        return self._inject_sync(nxt, call, ctx)

    async def _inject(self, nxt: Step[T], call: Call[T], ctx: CallContext) -> T:
        raise NotImplementedError

    def _inject_sync(self, nxt: SyncStep[T], call: Callable[[], T], ctx: CallContext) -> T:
        raise NotImplementedError


class FaultInjection(Injection):
    """Raise `fault` instead of calling the dependency.

    `fault` is an exception instance, an exception class (instantiated without arguments per
    injection) or a zero-argument callable returning an exception.
    """

    fault: ClassVar[str] = "fault"

    def __init__(
        self,
        fault: BaseException | type[BaseException] | Callable[[], BaseException],
        *,
        injection_rate: float = DEFAULT_INJECTION_RATE,
        enabled: bool | Callable[[], bool] = False,
        rng: random.Random | Callable[[], float] | None = None,
    ) -> None:
        super().__init__(injection_rate=injection_rate, enabled=enabled, rng=rng)
        if not (isinstance(fault, BaseException) or callable(fault)):
            raise ConfigError(
                f"FaultInjection fault: expected an exception, an exception class or a "
                f"callable returning one, got {fault!r}"
            )
        self._fault = fault

    def make_fault(self) -> BaseException:
        """The exception one injection raises."""
        fault = self._fault
        if isinstance(fault, BaseException):
            # A fresh traceback each time: re-raising one instance would grow its traceback.
            return fault.with_traceback(None)
        made = fault()
        if not isinstance(made, BaseException):
            raise TypeError(f"FaultInjection fault factory returned {made!r}, not an exception")
        return made

    def settings(self) -> str:
        """The fault, for `describe`."""
        fault = self._fault
        name = getattr(fault, "__name__", None) or repr(fault)
        return f"fault={name}"

    async def _inject(self, nxt: Step[T], call: Call[T], ctx: CallContext) -> T:
        raise self.make_fault()

    def _inject_sync(self, nxt: SyncStep[T], call: Callable[[], T], ctx: CallContext) -> T:
        raise self.make_fault()


class LatencyInjection(Injection):
    """Delay the call by `latency` seconds (a number or a zero-argument callable), then make it.

    The delay happens inside the attempt, so an attempt timeout around it fires as it would for a
    slow dependency. `latency` may be changed at runtime (the admin endpoint does).
    """

    fault: ClassVar[str] = "latency"

    def __init__(
        self,
        latency: float | Callable[[], float],
        *,
        injection_rate: float = DEFAULT_INJECTION_RATE,
        enabled: bool | Callable[[], bool] = False,
        rng: random.Random | Callable[[], float] | None = None,
        sleeper: Sleeper | None = None,
    ) -> None:
        super().__init__(injection_rate=injection_rate, enabled=enabled, rng=rng)
        self.latency = latency
        self._sleep: Sleeper = sleeper or _default_sleep

    @property
    def latency(self) -> float | Callable[[], float]:
        """Seconds of delay per injection, or a callable returning them."""
        return self._latency

    @latency.setter
    def latency(self, value: float | Callable[[], float]) -> None:
        if not callable(value):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"LatencyInjection latency: expected seconds, got {value!r}")
            try:
                seconds = float(value)
            except OverflowError:  # an int past float's range (10**400): not finite either
                seconds = math.inf
            if not (0 <= seconds < math.inf):
                raise ConfigError(
                    f"LatencyInjection latency: expected finite seconds >= 0, got {value!r}"
                )
            value = seconds
        self._latency: float | Callable[[], float] = value

    def delay(self) -> float:
        """Seconds one injection waits."""
        latency = self._latency
        return max(0.0, float(latency() if callable(latency) else latency))

    def settings(self) -> str:
        """The latency, for `describe`."""
        latency = self._latency
        return "latency=callable" if callable(latency) else f"latency={latency:g}s"

    async def _inject(self, nxt: Step[T], call: Call[T], ctx: CallContext) -> T:
        await self._sleep(self.delay())
        return await nxt(call, ctx)

    def _inject_sync(self, nxt: SyncStep[T], call: Callable[[], T], ctx: CallContext) -> T:
        time.sleep(self.delay())
        return nxt(call, ctx)


class OutcomeInjection(Injection, Generic[R]):
    """Return `outcome` instead of calling the dependency (e.g. a fake HTTP 503 or 429 response).

    `outcome` is the value itself, or a zero-argument callable making a fresh one per injection
    (to inject a callable as the result, wrap it: ``lambda: my_callable``). The body of an
    ``async with`` block has no result to replace, so blocks are never injected.
    """

    fault: ClassVar[str] = "outcome"

    def __init__(
        self,
        outcome: R | Callable[[], R],
        *,
        injection_rate: float = DEFAULT_INJECTION_RATE,
        enabled: bool | Callable[[], bool] = False,
        rng: random.Random | Callable[[], float] | None = None,
    ) -> None:
        super().__init__(injection_rate=injection_rate, enabled=enabled, rng=rng)
        self._outcome = outcome

    def make_outcome(self) -> R:
        """The result one injection returns."""
        outcome = self._outcome
        if callable(outcome):
            made: R = outcome()
            return made
        return outcome

    def settings(self) -> str:
        """The outcome, for `describe`."""
        outcome = self._outcome
        return "outcome=callable" if callable(outcome) else f"outcome={outcome!r}"

    async def _run(self, nxt: Step[T], call: Call[T], ctx: CallContext) -> T:
        if ctx.once:
            return await nxt(call, ctx)
        return await super()._run(nxt, call, ctx)

    async def _inject(self, nxt: Step[T], call: Call[T], ctx: CallContext) -> T:
        return cast(T, self.make_outcome())

    def _inject_sync(self, nxt: SyncStep[T], call: Callable[[], T], ctx: CallContext) -> T:
        return cast(T, self.make_outcome())


class BehaviourInjection(Injection):
    """Run `behaviour()` (sync or async, e.g. drop a cache, exhaust a pool), then make the call."""

    fault: ClassVar[str] = "behaviour"

    def __init__(
        self,
        behaviour: Callable[[], Awaitable[object] | object],
        *,
        injection_rate: float = DEFAULT_INJECTION_RATE,
        enabled: bool | Callable[[], bool] = False,
        rng: random.Random | Callable[[], float] | None = None,
    ) -> None:
        super().__init__(injection_rate=injection_rate, enabled=enabled, rng=rng)
        if not callable(behaviour):
            raise ConfigError(
                f"BehaviourInjection behaviour: expected a callable, got {behaviour!r}"
            )
        self._behaviour = behaviour

    def settings(self) -> str:
        """The behaviour's name, for `describe`."""
        return f"behaviour={getattr(self._behaviour, '__qualname__', repr(self._behaviour))}"

    async def _inject(self, nxt: Step[T], call: Call[T], ctx: CallContext) -> T:
        result = self._behaviour()
        if inspect.isawaitable(result):
            await result
        return await nxt(call, ctx)

    def _inject_sync(self, nxt: SyncStep[T], call: Callable[[], T], ctx: CallContext) -> T:
        result = self._behaviour()
        if inspect.isawaitable(result):
            # A sync call cannot await: close a coroutine so it does not warn, and say why.
            if asyncio.iscoroutine(result):
                result.close()
            raise TypeError("BehaviourInjection: an async behaviour cannot run in a sync call")
        return nxt(call, ctx)


class _HasEmitter(Protocol):
    name: str
    emitter: Emitter


def inject(
    policy: _HasEmitter, *injections: Injection
) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Awaitable[T]]]:
    """Decorate a coroutine function with `injections`, reporting through `policy`.

    Put it *inside* the policy's own decorator: each attempt the policy makes goes through the
    strategies, which bind to the policy's name and emitter (so `ChaosInjected` is labelled with
    the policy and the admin endpoint finds them under its name). Added in 0.1.0.
    """
    for injection in injections:
        if not isinstance(injection, Injection):
            raise ConfigError(f"inject: expected chaos strategies, got {injection!r}")
        injection.bind(policy.name, policy.emitter)
    step = compose(list(injections))

    def decorator(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"inject: {fn!r} is not a coroutine function (async def)")

        @functools.wraps(fn)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            ctx = CallContext(policy.name, policy.emitter, args, kwargs)
            result: T = await step(functools.partial(fn, *args, **kwargs), ctx)
            return result

        return wrapper

    return decorator


class ChaosRegistry:
    """The chaos strategies of each policy, for switching them at runtime (weakly referenced)."""

    def __init__(self) -> None:
        self._by_policy: dict[str, weakref.WeakSet[Injection]] = {}

    def add(self, policy: str, injection: Injection) -> None:
        """List `injection` under `policy` (idempotent)."""
        self._by_policy.setdefault(policy, weakref.WeakSet()).add(injection)

    def policies(self) -> list[str]:
        """Names of the policies that have at least one live strategy, sorted."""
        return sorted(name for name, items in self._by_policy.items() if len(items))

    def injections(self, policy: str, fault: str | None = None) -> list[Injection]:
        """The live strategies of `policy` (of one `fault` kind when given), in a stable order."""
        items = self._by_policy.get(policy)
        if items is None:
            return []
        found = [i for i in items if fault is None or i.fault == fault]
        return sorted(found, key=lambda i: (FAULT_KINDS.index(i.fault), id(i)))

    def __iter__(self) -> Iterator[tuple[str, Injection]]:
        for policy in self.policies():
            for injection in self.injections(policy):
                yield policy, injection

    def disable_all(self) -> int:
        """Switch every strategy off (a universal rollback); returns how many were switched."""
        count = 0
        for _, injection in self:
            injection.disable()
            count += 1
        return count

    def clear(self) -> None:
        """Forget every strategy (tests)."""
        self._by_policy.clear()


registry = ChaosRegistry()
"""The default registry: every strategy bound to a policy is listed here."""
