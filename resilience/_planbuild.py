"""From a plan's resolved configuration to mechanisms: what `load_plan` and `reload` build.

`Built` holds the layers of one policy built from one configuration, before they go into a
`PlanPolicy` (resilience/plan.py): on a reload it keeps the live mechanisms, unchanged or resized
in place (their `reconfigure` / `resize`, applied at the swap), so state survives a reload.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import tenacity

from resilience._core import Layer
from resilience._errors import ConfigError
from resilience.breaker import CircuitBreaker, CircuitBreakerSettings
from resilience.bulkhead import Bulkhead
from resilience.config import (
    CircuitBreakerConfig,
    ExponentialOpenDuration,
    FallbackConfig,
    PolicyConfig,
    RetryConfig,
    StorageConfig,
    WaitFullJitter,
    resolve_dotted_path,
)
from resilience.fallback import Fallback
from resilience.hedge import Hedge
from resilience.ratelimiter import RateLimiter
from resilience.retry import FullJitterBackoff, Retry, RetryBudget
from resilience.timeout import Timeout

if TYPE_CHECKING:
    from resilience.plan import PlanPolicy

Handler = Callable[..., Any]
"""A fallback handler supplied by code."""


def _classes(paths: list[str]) -> tuple[type[BaseException], ...]:
    return tuple(resolve_dotted_path(p) for p in paths)  # type: ignore[misc]


def _function(path: str | None) -> Any:
    return None if path is None else resolve_dotted_path(path)


def _set(section: Any) -> dict[str, Any]:
    """The options set in a section (None means "library default" and is left out)."""
    return {
        f: getattr(section, f) for f in section.model_fields_set if getattr(section, f) is not None
    }


_JITTER_HAS_MULTIPLIER = (
    "multiplier" in inspect.signature(tenacity.wait_exponential_jitter).parameters
)


def _wait(config: Any) -> Any:
    options = _set(config)
    kind = options.pop("kind")
    if isinstance(config, WaitFullJitter):
        return FullJitterBackoff(**options)
    if kind == "exponential_jitter" and "initial" in options and _JITTER_HAS_MULTIPLIER:
        # tenacity ≥ 9.1 renamed `initial` to `multiplier` (same meaning) and warns on `initial`.
        options["multiplier"] = options.pop("initial")
    return getattr(tenacity, f"wait_{kind}")(**options)


def _open_duration(config: ExponentialOpenDuration) -> Callable[[int], float]:
    initial, multiplier, cap = config.initial, config.multiplier, config.max

    def open_duration(consecutive_opens: int) -> float:
        # Exponent capped so a long outage never overflows the float.
        return min(cap, initial * multiplier ** min(max(consecutive_opens - 1, 0), 1000))

    open_duration.__name__ = f"exponential(initial={initial:g}, x{multiplier:g}, max={cap:g})"
    return open_duration


def _breaker_options(config: CircuitBreakerConfig) -> dict[str, Any]:
    """The `CircuitBreaker` keywords a section sets (library defaults for the rest)."""
    options = _set(config)
    for key in ("record_on", "ignore_on"):
        if key in options:
            options[key] = _classes(options[key])
    if "failure_if_result" in options:
        options["failure_if_result"] = _function(options["failure_if_result"])
    if isinstance(options.get("open_duration"), ExponentialOpenDuration):
        options["open_duration"] = _open_duration(options["open_duration"])
    return options


def build_breaker(name: str, config: CircuitBreakerConfig, storage: Any = None) -> CircuitBreaker:
    """`CircuitBreaker(name, ...)` from its section (`storage`: the plan's shared state)."""
    return CircuitBreaker(name, storage=storage, **_breaker_options(config))


def build_retry(config: RetryConfig) -> Retry:
    """`Retry(...)` from its section."""
    options = _set(config)
    if "wait" in options:
        options["wait"] = _wait(options["wait"])
    if "retry_on" in options:
        options["retry_on"] = _classes(options["retry_on"])
    if "retry_if_result" in options:
        options["retry_if_result"] = _function(options["retry_if_result"])
    if "budget" in options:
        options["budget"] = RetryBudget(**_set(options["budget"]))
    return Retry(**options)


def build_fallback(config: FallbackConfig | None, handler: Handler | None) -> Layer:
    """`Fallback(handler, on, if_result)`: the handler from code wins over the file's."""
    options = _set(config) if config is not None else {}
    file_handler = options.pop("handler", None)
    if "on" in options:
        options["on"] = _classes(options["on"])
    if "if_result" in options:
        options["if_result"] = _function(options["if_result"])
    chosen = handler if handler is not None else _function(file_handler)
    return Fallback(chosen, **options)


_BUILDERS: dict[str, Callable[[str, Any], Layer]] = {
    "circuit_breaker": build_breaker,
    "retry": lambda _name, c: build_retry(c),
    "bulkhead": lambda _name, c: Bulkhead(**_set(c)),
    "rate_limiter": lambda _name, c: RateLimiter(**_set(c)),
    "hedge": lambda _name, c: Hedge(**_set(c)),
}


def _build_shared(section: str, name: str, config: Any, storage: Any) -> Layer:
    """A breaker or rate limiter sharing its state through the plan's `storage` section."""
    if section == "circuit_breaker":
        return build_breaker(name, config, storage)
    options = _set(config)
    options.setdefault("key", name)
    return RateLimiter(storage=storage, **options)


def build_storage(config: StorageConfig | None) -> Any:
    """The plan's `storage` section as a `RedisStorage` (None without one)."""
    if config is None:
        return None
    try:
        from resilience.storage.redis import RedisStorage
    except ImportError as exc:
        raise Problem("storage.redis", str(exc)) from None
    options = _set(config.redis)
    try:
        return RedisStorage(options.pop("url"), **options)
    except ConfigError as exc:
        # "RedisStorage: url expected ..." → the field's path in the plan, the rest as the problem.
        field, _, problem = str(exc).removeprefix("RedisStorage: ").partition(" ")
        raise Problem(f"storage.redis.{field}", problem) from None


_SLOT = {
    "circuit_breaker": "breaker",
    "retry": "retry",
    "bulkhead": "bulkhead",
    "rate_limiter": "rate_limiter",
    "hedge": "hedge",
}
# What `reconfigure` gives a kept breaker for a setting the new section leaves out: the default.
_BREAKER_DEFAULTS: dict[str, Any] = {
    key: parameter.default
    for key, parameter in inspect.signature(CircuitBreaker).parameters.items()
    if key in CircuitBreakerSettings.__optional_keys__
}

Change = Callable[[], None]
"""A live mechanism taking its new settings, applied when the new configuration is swapped in."""


def _breaker_change(breaker: CircuitBreaker, config: CircuitBreakerConfig) -> Change:
    """`breaker` following `config` in place (validated now, applied at the swap)."""
    settings = CircuitBreaker.check_settings(**{**_BREAKER_DEFAULTS, **_breaker_options(config)})
    return lambda: breaker.reconfigure(**settings)


def _bulkhead_change(bulkhead: Bulkhead, config: Any) -> Change:
    probe = Bulkhead(**_set(config))  # validates; the live bulkhead takes its limits
    return lambda: bulkhead.resize(max_concurrent=probe.capacity, max_wait=probe.max_wait)


def _limiter_change(limiter: RateLimiter, config: Any) -> Change | None:
    options = _set(config)
    if options.get("key", limiter.key if limiter.storage is not None else None) != limiter.key:
        return None  # another shared bucket: another limiter
    probe = RateLimiter(**{k: v for k, v in options.items() if k != "key"})
    return lambda: limiter.reconfigure(
        rate_per_s=probe.rate_per_s, burst=probe.burst, max_wait=probe.max_wait
    )


def _hedge_change(hedge: Hedge, config: Any) -> Change:
    probe = Hedge(**_set(config))
    return lambda: hedge.reconfigure(
        delay=probe.delay,
        max_hedges=probe.max_hedges,
        min_samples=probe.min_samples,
        sample_size=probe.sample_size,
    )


def _in_place(section: str, old_layer: Layer, config: Any) -> Change | None:
    """How the live `old_layer` takes the new `config` in place, or None (build a new one)."""
    if section == "circuit_breaker" and isinstance(old_layer, CircuitBreaker):
        return _breaker_change(old_layer, config)
    if section == "bulkhead" and isinstance(old_layer, Bulkhead):
        return _bulkhead_change(old_layer, config)
    if section == "rate_limiter" and isinstance(old_layer, RateLimiter):
        return _limiter_change(old_layer, config)
    if section == "hedge" and isinstance(old_layer, Hedge):
        return _hedge_change(old_layer, config)
    return None


def _kept_budget(old_layer: Layer | None, old: Any, new: RetryConfig) -> RetryBudget | None:
    """The live retry budget (its counts), when the new section's budget is the same."""
    if not isinstance(old_layer, Retry) or old is None or new.budget is None:
        return None
    return old_layer.budget if old.budget == new.budget else None


def _layer_of(previous: PlanPolicy | Built | None, slot: str) -> Layer | None:
    """The layer in `slot` of the live policy (or of the configuration built before)."""
    if previous is None:
        return None
    if isinstance(previous, Built):
        layer = previous.slots.get(slot)
        return layer if isinstance(layer, Layer) else None
    return getattr(previous, slot, None)


class Problem(Exception):
    """A mechanism that cannot be built: the field path and what went wrong."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class Built:
    """The layers of one policy built from one resolved configuration (not yet in a Policy).

    `needs_handler` is true when the plan declares a fallback without a handler and code gave
    none: such a policy is built only once `plan.policy(name, fallback=...)` supplies one.
    """

    def __init__(
        self,
        name: str,
        config: PolicyConfig,
        fallback: Handler | None,
        previous: PlanPolicy | Built | None,
        storage: Any = None,
        chaos: tuple[Layer, ...] = (),
    ) -> None:
        self.config = config
        self.sections: dict[str, Any] = {}
        self.slots: dict[str, Any] = {"critical": bool(config.critical)}
        # Live mechanisms taking new settings in place when this configuration is swapped in.
        self.changes: list[Change] = []
        for section, builder in _BUILDERS.items():
            value = getattr(config, section)
            if value is None:
                continue
            self.sections[section] = value
            slot = _SLOT[section]
            old_layer = _layer_of(previous, slot)
            old_config = previous.sections.get(section) if previous is not None else None
            try:
                if old_layer is not None and old_config == value:
                    layer = old_layer  # unchanged: keep its state
                elif (
                    old_layer is not None
                    and old_config is not None
                    and (change := _in_place(section, old_layer, value)) is not None
                ):
                    # Resized in place, keeping its state (permits, waiters, tokens, window,
                    # samples); applied only when the plan is swapped in, so a reload that fails
                    # on another policy changes nothing.
                    layer = old_layer
                    self.changes.append(change)
                elif storage is not None and section in ("circuit_breaker", "rate_limiter"):
                    layer = _build_shared(section, name, value, storage)
                else:
                    layer = builder(name, value)
                    budget = _kept_budget(old_layer, old_config, value) if slot == "retry" else None
                    if budget is not None and isinstance(layer, Retry):
                        layer.budget = budget  # the retries already spent still count
            except (ValueError, TypeError) as exc:
                raise Problem(f"mechanisms.{name}.{section}", str(exc)) from None
            self.slots[slot] = layer
        if chaos:
            self.slots["chaos"] = chaos  # from code, like a fallback handler: kept on reload
        if config.timeout is not None:
            self.slots["timeout"] = Timeout(config.timeout)
        if config.deadline is not None:
            self.slots["deadline"] = config.deadline
        self.needs_handler = (
            fallback is None and config.fallback is not None and config.fallback.handler is None
        )
        if (config.fallback is not None or fallback is not None) and not self.needs_handler:
            old = _layer_of(previous, "fallback")
            same = previous is not None and previous.sections.get("fallback") == config.fallback
            try:
                if isinstance(old, Fallback) and same and fallback in (None, old.handler):
                    # Kept: a function decorated with `policy.fallback` (the aiohttp client
                    # middleware's rule) keeps following the plan's fallback.
                    self.slots["fallback"] = old
                else:
                    self.slots["fallback"] = build_fallback(config.fallback, fallback)
            except (ValueError, TypeError) as exc:
                raise Problem(f"mechanisms.{name}.fallback", str(exc)) from None
        self.sections["fallback"] = config.fallback

    def check_handler(self, name: str) -> None:
        """Raise when the plan's fallback for `name` still has no handler."""
        if self.needs_handler:
            raise Problem(
                f"mechanisms.{name}.fallback",
                f"no handler: pass plan.policy({name!r}, fallback=handler) "
                "or set fallback.handler in the file",
            )
