"""`Policy`: the mechanisms of one dependency composed in one fixed, documented order."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, ParamSpec

from resilience._core import (
    CallContext,
    Layer,
    Step,
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

ORDER = (
    "fallback",
    "deadline",
    "retry",
    "hedge",
    "breaker",
    "rate_limiter",
    "timeout",
    "bulkhead",
    "chaos",
)
"""The slots of a policy, outermost first."""


class Policy:
    """The mechanisms protecting one dependency, composed in a fixed order whatever the arguments.

    Outside in::

        Fallback → Timeout(total) → Retry → Hedge → CircuitBreaker → RateLimiter
                 → Timeout(attempt) → Bulkhead → chaos → call

    So the fallback sees the final outcome; the total deadline (`deadline=` seconds) covers every
    attempt and backoff; each retry attempt is recorded by the breaker, rate-limited and gets its
    own attempt timeout. Hedge (not in DESIGN.md's list) sits between Retry and CircuitBreaker so
    every hedged attempt is recorded by the breaker and gets its own attempt timeout. `chaos` is
    one layer or a sequence of layers, all innermost, so injected faults look like the
    dependency's own. Any object implementing `resilience._core.Layer` fits a slot.

    Works as a decorator of coroutine functions (and of sync functions when every layer supports
    them) and as ``async with`` (one attempt: no retry, no hedge, no fallback for a block).
    Hooks: `resilience.add_hook` for every policy, ``hooks=[...]`` for this one.

    Added in 0.1.0.
    """

    def __init__(
        self,
        name: str,
        *,
        breaker: Layer | None = None,
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
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"Policy name: expected a non-empty string, got {name!r}")
        self.name = name
        self.breaker = breaker
        self.retry = retry
        if isinstance(timeout, bool):
            raise ConfigError(
                f"Policy {name!r} timeout: expected seconds or a Timeout, got {timeout!r}"
            )
        self.timeout: Layer | None = (
            Timeout(timeout) if isinstance(timeout, int | float) else timeout
        )
        self.deadline = None if deadline is None else Deadline(deadline)
        self.bulkhead = bulkhead
        self.fallback = fallback
        self.rate_limiter = rate_limiter
        self.hedge = hedge
        if chaos is None:
            self.chaos: tuple[Layer, ...] = ()
        elif isinstance(chaos, Layer):
            self.chaos = (chaos,)
        else:
            self.chaos = tuple(chaos)
        self.critical = critical
        slots: list[tuple[str, Layer | None]] = [
            ("fallback", self.fallback),
            ("deadline", self.deadline),
            ("retry", self.retry),
            ("hedge", self.hedge),
            ("breaker", self.breaker),
            ("rate_limiter", self.rate_limiter),
            ("timeout", self.timeout),
            ("bulkhead", self.bulkhead),
            *(("chaos", c) for c in self.chaos),
        ]
        for slot, layer in slots:
            if layer is not None and not isinstance(layer, Layer):
                raise ConfigError(
                    f"Policy {name!r} {slot}: expected a resilience mechanism (bind, describe, "
                    f"run), got {layer!r}"
                )
        self.layers: tuple[Layer, ...] = tuple(layer for _, layer in slots if layer is not None)
        self.info = self._info()
        self.emitter = Emitter(self.info, hooks)
        for layer in self.layers:
            layer.bind(name, self.emitter)
        self._step: Step[Any] = compose(self.layers)
        # async with runs the block once: the fallback cannot stand in for a block's value.
        self._block_step: Step[Any] = compose([ly for ly in self.layers if ly is not fallback])

    def _info(self) -> PolicyInfo:
        breaker = self.breaker
        bulkhead = self.bulkhead
        has_state = getattr(breaker, "state", None) is not None
        return PolicyInfo(
            name=self.name,
            mechanisms=tuple(layer.mechanism for layer in self.layers),
            breaker_state=(lambda: str(getattr(breaker, "state", ""))) if has_state else None,
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

    def __call__(self, fn: Callable[P, Any]) -> Callable[P, Any]:
        """Decorate `fn` so every call runs through this policy."""
        return decorate(fn, self.name, self.emitter, self._step, lambda: compose_sync(self.layers))

    async def __aenter__(self) -> None:
        await enter_block(self._block_step, CallContext(self.name, self.emitter, once=True))

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> bool:
        return await exit_block(exc)
