"""`Policy`: the mechanisms of one dependency composed in one fixed, documented order."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import Any, Final, ParamSpec, TypedDict, TypeVar, Unpack, overload

from resilience._core import (
    CallContext,
    Layer,
    Step,
    SyncStep,
    compose,
    compose_sync,
    decorate,
    enter_block,
    exit_block,
)
from resilience._errors import ConfigError
from resilience._events import Emitter, Hook, PolicyInfo
from resilience.timeout import Deadline, Timeout

P = ParamSpec("P")
T = TypeVar("T")

ORDER: Final = (
    "fallback",
    "deadline",
    "retry",
    "hedge",
    "circuit_breaker",
    "rate_limiter",
    "adaptive_limiter",
    "timeout",
    "bulkhead",
    "chaos",
)
"""The slots of a policy, outermost first: `Policy`'s keywords, the plan file's keys and the
mechanisms' names (`Layer.mechanism`, the ``mechanism`` label of our metrics) are these words.
Public as `resilience.layers.ORDER`."""


def chaos_tuple(policy: str, chaos: Layer | Sequence[Layer] | None) -> tuple[Layer, ...]:
    """The ``chaos`` slot of `policy` as a tuple (one layer, a sequence, or none), checked."""
    if chaos is None:
        return ()
    layers = (chaos,) if isinstance(chaos, Layer) else tuple(chaos)
    for layer in layers:
        if not isinstance(layer, Layer):
            raise ConfigError(
                f"Policy {policy!r} chaos: expected a resilience mechanism (bind, describe, run), "
                f"got {layer!r}"
            )
    return layers


class PolicySlots(TypedDict, total=False):
    """The layers of a policy by slot: `Policy`'s keywords (but `hooks`), as `_replace` takes them.

    A slot left out is empty (``critical``: False). Added in 0.1.0.
    """

    circuit_breaker: Layer | None
    retry: Layer | None
    timeout: Layer | float | None
    deadline: float | None
    bulkhead: Layer | None
    fallback: Layer | None
    rate_limiter: Layer | None
    hedge: Layer | None
    chaos: Layer | Sequence[Layer] | None
    critical: bool
    adaptive_limiter: Layer | None


class Policy:
    """The mechanisms protecting one dependency, composed in a fixed order whatever the arguments.

    Outside in::

        Fallback → Timeout(deadline) → Retry → Hedge → CircuitBreaker → RateLimiter
                 → AdaptiveLimiter → Timeout(attempt) → Bulkhead → chaos → call

    So the fallback sees the final outcome; the total deadline (`deadline=` seconds) covers every
    attempt and backoff; each retry attempt is recorded by the breaker, rate-limited and gets its
    own attempt timeout. The adaptive limiter (``adaptive_limiter=``) measures each attempt
    around its attempt timeout, so a timed-out attempt reaches it as a `TimeoutError`: a
    congestion signal. Hedge (not in DESIGN.md's list) sits between Retry and CircuitBreaker so
    every hedged attempt is recorded by the breaker and gets its own attempt timeout. `chaos` is
    one layer or a sequence of layers, all innermost, so injected faults look like the
    dependency's own. Any object implementing `resilience.layers.Layer` fits a slot.

    Works as a decorator of coroutine functions (and of sync functions when every layer supports
    them) and as ``async with`` (one attempt: no retry, no hedge, no fallback for a block).
    Hooks: `resilience.add_hook` for every policy, ``hooks=[...]`` for this one.

    Added in 0.1.0.
    """

    circuit_breaker: Layer | None
    retry: Layer | None
    timeout: Layer | None
    deadline: Deadline | None
    bulkhead: Layer | None
    fallback: Layer | None
    rate_limiter: Layer | None
    hedge: Layer | None
    chaos: tuple[Layer, ...]
    critical: bool
    adaptive_limiter: Layer | None
    layers: tuple[Layer, ...]
    """Every layer in the order calls run through them, outermost first."""
    reads_call_key: bool
    """True when a layer has a true ``reads_call_key`` attribute (a `KeyedBreaker`): it reads
    `resilience.keyed.call_key_var`, which the httpx transports then set to each request's host
    (and spare that work for the other policies). Added in 0.2.0."""
    info: PolicyInfo
    emitter: Emitter
    _step: Step[Any]
    _block_step: Step[Any]

    def __init__(
        self,
        name: str,
        *,
        circuit_breaker: Layer | None = None,
        retry: Layer | None = None,
        timeout: Layer | float | None = None,
        deadline: float | None = None,
        bulkhead: Layer | None = None,
        fallback: Layer | None = None,
        rate_limiter: Layer | None = None,
        hedge: Layer | None = None,
        chaos: Layer | Sequence[Layer] | None = None,
        hooks: Iterable[Hook] = (),
        critical: bool = False,
        adaptive_limiter: Layer | None = None,
        breaker: Layer | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"Policy name: expected a non-empty string, got {name!r}")
        if breaker is not None:
            if circuit_breaker is not None:
                raise ConfigError(
                    f"Policy {name!r}: give circuit_breaker= only (breaker= is its "
                    "deprecated alias)"
                )
            warnings.warn(
                "Policy(breaker=...) is deprecated: use Policy(circuit_breaker=...)",
                DeprecationWarning,
                stacklevel=2,
            )
            circuit_breaker = breaker
        self.name = name
        self._set_slots(
            PolicySlots(
                circuit_breaker=circuit_breaker,
                retry=retry,
                timeout=timeout,
                deadline=deadline,
                bulkhead=bulkhead,
                fallback=fallback,
                rate_limiter=rate_limiter,
                hedge=hedge,
                chaos=chaos,
                critical=critical,
                adaptive_limiter=adaptive_limiter,
            )
        )
        self.emitter = Emitter(self.info, hooks)
        self._bind_layers()

    def _replace(self, **slots: Unpack[PolicySlots]) -> None:
        """Take new layers in every slot, keeping this policy's `name` and `emitter`.

        The seam for a policy whose configuration changes in place (`PlanPolicy` on a plan
        reload): `slots` are the constructor's keywords (a slot not given is emptied). Everything
        is validated first, so a bad slot raises `ConfigError` and changes nothing. The layers are
        bound to the same emitter and its hooks re-bind to the new `PolicyInfo`, so hooks stay
        attached and see each event once. Functions decorated by a plain `Policy` captured its
        pipeline when they were decorated; a subclass that wants them to follow a replacement
        reads `_step` per call, as `PlanPolicy` does. Added in 0.1.0.
        """
        self._set_slots(slots)
        self._bind_layers()
        self.emitter.rebind(self.info)

    def _set_slots(self, slots: PolicySlots) -> None:
        """Validate `slots` completely, then install them with the pipelines they compose."""
        name = self.name
        timeout = slots.get("timeout")
        if isinstance(timeout, bool):
            raise ConfigError(
                f"Policy {name!r} timeout: expected seconds or a Timeout, got {timeout!r}"
            )
        seconds = slots.get("deadline")
        fallback = slots.get("fallback")
        deadline = None if seconds is None else Deadline(seconds)
        retry = slots.get("retry")
        hedge = slots.get("hedge")
        breaker = slots.get("circuit_breaker")
        rate_limiter = slots.get("rate_limiter")
        attempt_timeout = Timeout(timeout) if isinstance(timeout, int | float) else timeout
        bulkhead = slots.get("bulkhead")
        adaptive_limiter = slots.get("adaptive_limiter")
        chaos_layers = chaos_tuple(name, slots.get("chaos"))
        by_slot: dict[str, Layer | None] = {
            "fallback": fallback,
            "deadline": deadline,
            "retry": retry,
            "hedge": hedge,
            "circuit_breaker": breaker,
            "rate_limiter": rate_limiter,
            "timeout": attempt_timeout,
            "bulkhead": bulkhead,
            "adaptive_limiter": adaptive_limiter,
        }
        # ORDER is the one statement of the pipeline's order (chaos, a tuple, goes last).
        ordered = [(slot, by_slot[slot]) for slot in ORDER if slot != "chaos"]
        for slot, layer in ordered:
            if layer is not None and not isinstance(layer, Layer):
                raise ConfigError(
                    f"Policy {name!r} {slot}: expected a resilience mechanism (bind, describe, "
                    f"run), got {layer!r}"
                )
        # Nothing raises from here on: the policy changes all at once or not at all.
        self.fallback, self.deadline, self.retry, self.hedge = fallback, deadline, retry, hedge
        self.circuit_breaker, self.rate_limiter = breaker, rate_limiter
        self.timeout, self.bulkhead, self.chaos = attempt_timeout, bulkhead, chaos_layers
        self.critical = bool(slots.get("critical", False))
        self.adaptive_limiter = adaptive_limiter
        self.layers = (*(layer for _, layer in ordered if layer is not None), *chaos_layers)
        self.reads_call_key = any(
            getattr(ly, "reads_call_key", False) is True for ly in self.layers
        )
        self.info = self._info()
        self._step = compose(self.layers)
        # async with runs the block once: the fallback cannot stand in for a block's value (nor
        # for the response an HTTP client middleware returns: `_decorate_without_fallback`).
        self._block_step = compose([ly for ly in self.layers if ly is not fallback])

    def _bind_layers(self) -> None:
        for layer in self.layers:
            layer.bind(self.name, self.emitter)

    def _info(self) -> PolicyInfo:
        breaker = self.circuit_breaker
        bulkhead = self.bulkhead
        limiter = self.adaptive_limiter
        has_state = getattr(breaker, "state", None) is not None
        # Readiness and gauges read the effective state: an open breaker past its open_duration
        # is half_open to them, though it only moves there on the next call.
        state_attr = "effective_state" if hasattr(breaker, "effective_state") else "state"
        return PolicyInfo(
            name=self.name,
            mechanisms=tuple(layer.mechanism for layer in self.layers),
            breaker_state=(lambda: str(getattr(breaker, state_attr, ""))) if has_state else None,
            bulkhead_in_flight=(
                (lambda: int(getattr(bulkhead, "in_flight", 0)))
                if hasattr(bulkhead, "in_flight")
                else None
            ),
            bulkhead_capacity=(
                (lambda: int(getattr(bulkhead, "capacity", 0)))
                if hasattr(bulkhead, "capacity")
                else None
            ),
            critical=self.critical,
            adaptive_limit=(
                (lambda: int(getattr(limiter, "limit", 0))) if hasattr(limiter, "limit") else None
            ),
        )

    def describe(self) -> str:
        """The order of the layers and every setting, one layer per line, outermost first."""
        lines = [f"Policy {self.name!r} (outermost first):"]
        if not self.layers:
            lines.append("  (no mechanisms: calls pass straight through)")
        for i, layer in enumerate(self.layers, 1):
            lines.append(f"  {i}. {layer.describe()}")
        lines.append(f"  {len(self.layers) + 1}. call")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Policy({self.name!r}, layers={[ly.mechanism for ly in self.layers]})"

    @overload
    def __call__(
        self, fn: Callable[P, Coroutine[Any, Any, T]]
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...

    @overload
    def __call__(self, fn: Callable[P, T]) -> Callable[P, T]: ...

    def __call__(self, fn: Callable[P, Any]) -> Callable[P, Any]:
        """Decorate `fn` so every call runs through this policy.

        The decorated function keeps `fn`'s parameters and return type for type checkers: a
        coroutine function stays one returning the same type, a sync function returns what `fn`
        returns.
        """
        step, sync_step = self._pipelines()
        return decorate(fn, self.name, self.emitter, step, sync_step)

    def _decorate_without_fallback(self, fn: Callable[P, Any]) -> Callable[P, Any]:
        """`fn` run through every layer but the fallback (for a caller that cannot use the
        fallback's value, such as an HTTP client middleware that must return a response)."""
        step, sync_step = self._pipelines(fallback=False)
        return decorate(fn, self.name, self.emitter, step, sync_step)

    def _pipelines(self, *, fallback: bool = True) -> tuple[Step[Any], Callable[[], SyncStep[Any]]]:
        """What a decorated function runs: the pipeline, and how to get its sync counterpart.

        A subclass whose layers change in place (`PlanPolicy`) returns steps that look the current
        pipeline up on every call.
        """
        if not fallback:
            return self._block_step, lambda: compose_sync(
                [ly for ly in self.layers if ly is not self.fallback]
            )
        return self._step, lambda: compose_sync(self.layers)

    async def __aenter__(self) -> None:
        await enter_block(self._block_step, CallContext(self.name, self.emitter, once=True))

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> bool:
        return await exit_block(exc)
