"""From a plan's resolved configuration to mechanisms: what `load_plan` and `reload` build.

`Built` holds the layers of one policy built from one configuration, before they go into a
`PlanPolicy` (resilience/plan.py): on a reload it keeps the live mechanisms, unchanged or resized
in place (their `reconfigure` / `resize`, applied at the swap), so state survives a reload.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import tenacity

from resilience._core import Layer
from resilience._errors import ConfigError
from resilience.adaptive import AdaptiveLimiter
from resilience.breaker import CircuitBreaker, CircuitBreakerSettings
from resilience.bulkhead import Bulkhead
from resilience.config import (
    AdaptiveLimiterConfig,
    CircuitBreakerConfig,
    ExponentialOpenDuration,
    FallbackConfig,
    OutlierDetectionConfig,
    PolicyConfig,
    RetryConfig,
    StorageConfig,
    WaitFullJitter,
)
from resilience.fallback import Fallback
from resilience.hedge import Hedge
from resilience.keyed import KeyedBreaker, OutlierDetector
from resilience.names import Names
from resilience.ratelimiter import RateLimiter
from resilience.retry import FullJitterBackoff, Retry, RetryBudget
from resilience.shedding import Shares
from resilience.timeout import Timeout

Handler = Callable[..., Any]
"""A fallback handler supplied by code."""


def _classes(paths: list[str], names: Names) -> tuple[type[BaseException], ...]:
    return tuple(names.exception(p) for p in paths)


def _function(path: str | None, names: Names) -> Any:
    return None if path is None else names.function(path)


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


def _breaker_options(config: CircuitBreakerConfig, names: Names) -> dict[str, Any]:
    """The `CircuitBreaker` keywords a section sets (library defaults for the rest)."""
    options = _set(config)
    for key in ("record_on", "ignore_on"):
        if key in options:
            options[key] = _classes(options[key], names)
    if "failure_if_result" in options:
        options["failure_if_result"] = _function(options["failure_if_result"], names)
    if isinstance(options.get("open_duration"), ExponentialOpenDuration):
        options["open_duration"] = _open_duration(options["open_duration"])
    return options


def build_breaker(
    name: str, config: CircuitBreakerConfig, names: Names, storage: Any = None
) -> CircuitBreaker:
    """`CircuitBreaker(name, ...)` from its section (`storage`: the plan's shared state)."""
    return CircuitBreaker(name, storage=storage, **_breaker_options(config, names))


def build_retry(config: RetryConfig, names: Names) -> Retry:
    """`Retry(...)` from its section."""
    options = _set(config)
    if "wait" in options:
        options["wait"] = _wait(options["wait"])
    if "retry_on" in options:
        options["retry_on"] = _classes(options["retry_on"], names)
    if "retry_if_result" in options:
        options["retry_if_result"] = _function(options["retry_if_result"], names)
    if "budget" in options:
        options["budget"] = RetryBudget(**_set(options["budget"]))
    return Retry(**options)


def build_fallback(config: FallbackConfig | None, handler: Handler | None, names: Names) -> Layer:
    """`Fallback(handler, on, if_result)`: the handler from code wins over the file's."""
    options = _set(config) if config is not None else {}
    file_handler = options.pop("handler", None)
    if "on" in options:
        options["on"] = _classes(options["on"], names)
    if "if_result" in options:
        options["if_result"] = _function(options["if_result"], names)
    chosen = handler if handler is not None else _function(file_handler, names)
    return Fallback(chosen, **options)


def _build_rate_limiter(name: str, config: Any, names: Names, storage: Any = None) -> Layer:
    if storage is None:
        return RateLimiter(**_set(config))
    options = _set(config)
    options.setdefault("key", name)  # one bucket per policy across the fleet unless keyed
    return RateLimiter(storage=storage, **options)


def build_adaptive_limiter(config: AdaptiveLimiterConfig, names: Names) -> AdaptiveLimiter:
    """`AdaptiveLimiter(...)` from its section (``shares`` as `Shares`)."""
    options = _set(config)
    if "shares" in options:
        options["shares"] = Shares(**_set(options["shares"]))
    if "drop_on" in options:
        options["drop_on"] = _classes(options["drop_on"], names)
    return AdaptiveLimiter(**options)


DEFAULT_MAX_HOSTS = 1024
"""Hosts an outlier detector tracks, and breakers its keyed breaker keeps, unless set."""


def build_keyed_breaker(
    name: str,
    breaker: CircuitBreakerConfig | None,
    detection: OutlierDetectionConfig,
    names: Names,
) -> KeyedBreaker:
    """A `KeyedBreaker` with outlier detection: one breaker per host, `breaker`'s settings each.

    Its breakers stay in-process (no shared storage): they are per host of this process's
    view, and one storage key per policy would merge them.
    """
    options = _set(detection)
    max_hosts = options.setdefault("max_hosts", DEFAULT_MAX_HOSTS)
    settings = _breaker_options(breaker, names) if breaker is not None else {}
    return KeyedBreaker(
        name, max_keys=max_hosts, outlier_detection=OutlierDetector(**options), **settings
    )


def _keyed_slot(
    name: str, config: PolicyConfig, previous: Live | Built | None, names: Names
) -> Layer:
    """The circuit-breaker slot of a policy with outlier detection (kept when unchanged)."""
    old = _layer_of(previous, "circuit_breaker")
    if (
        isinstance(old, KeyedBreaker)
        and previous is not None
        and previous.sections.get("circuit_breaker") == config.circuit_breaker
        and previous.sections.get("outlier_detection") == config.outlier_detection
    ):
        return old  # unchanged: its hosts, breakers and ejections carry over
    assert config.outlier_detection is not None
    try:
        return build_keyed_breaker(name, config.circuit_breaker, config.outlier_detection, names)
    except (ValueError, TypeError) as exc:
        raise Problem(f"mechanisms.{name}.outlier_detection", str(exc)) from None


@dataclass(frozen=True, slots=True)
class _Section:
    """How one mechanism section of a policy becomes a layer (in the `Policy` slot of the same
    name: `resilience.policy.ORDER`)."""

    build: Callable[[str, Any, Names, Any], Layer]
    """(policy name, section, the registered names, storage or None) → the layer."""
    shared: bool = False
    """Whether the layer shares its state through the plan's `storage` section."""


_SECTIONS: dict[str, _Section] = {
    "circuit_breaker": _Section(build_breaker, shared=True),
    "retry": _Section(lambda _name, c, names, _s: build_retry(c, names)),
    "bulkhead": _Section(lambda _name, c, _names, _s: Bulkhead(**_set(c))),
    "rate_limiter": _Section(_build_rate_limiter, shared=True),
    "hedge": _Section(lambda _name, c, _names, _s: Hedge(**_set(c))),
    "adaptive_limiter": _Section(lambda _name, c, names, _s: build_adaptive_limiter(c, names)),
}


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


# What `reconfigure` gives a kept breaker for a setting the new section leaves out: the default.
_BREAKER_DEFAULTS: dict[str, Any] = {
    key: parameter.default
    for key, parameter in inspect.signature(CircuitBreaker).parameters.items()
    if key in CircuitBreakerSettings.__optional_keys__
}

Change = Callable[[], None]
"""A live mechanism taking its new settings, applied when the new configuration is swapped in."""


def _breaker_change(breaker: CircuitBreaker, config: CircuitBreakerConfig, names: Names) -> Change:
    """`breaker` following `config` in place (validated now, applied at the swap)."""
    settings = CircuitBreaker.check_settings(
        **{**_BREAKER_DEFAULTS, **_breaker_options(config, names)}
    )
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
        rate_per_second=probe.rate_per_second, burst=probe.burst, max_wait=probe.max_wait
    )


def _hedge_change(hedge: Hedge, config: Any) -> Change:
    probe = Hedge(**_set(config))
    return lambda: hedge.reconfigure(
        delay=probe.delay,
        max_hedges=probe.max_hedges,
        min_samples=probe.min_samples,
        sample_size=probe.sample_size,
    )


def _adaptive_change(limiter: AdaptiveLimiter, old: Any, config: Any) -> Change | None:
    """A new `max_limit` alone (a resized bulkhead) moves the live limiter's bound in place."""
    if old is None or old.model_copy(update={"max_limit": None}) != config.model_copy(
        update={"max_limit": None}
    ):
        return None
    bound = config.max_limit if config.max_limit is not None else AdaptiveLimiter().max_limit
    return lambda: limiter.resize(bound)


def _in_place(
    section: str, old_layer: Layer, config: Any, names: Names, old: Any = None
) -> Change | None:
    """How the live `old_layer` takes the new `config` in place, or None (build a new one)."""
    if section == "circuit_breaker" and isinstance(old_layer, CircuitBreaker):
        return _breaker_change(old_layer, config, names)
    if section == "bulkhead" and isinstance(old_layer, Bulkhead):
        return _bulkhead_change(old_layer, config)
    if section == "rate_limiter" and isinstance(old_layer, RateLimiter):
        return _limiter_change(old_layer, config)
    if section == "hedge" and isinstance(old_layer, Hedge):
        return _hedge_change(old_layer, config)
    if section == "adaptive_limiter" and isinstance(old_layer, AdaptiveLimiter):
        return _adaptive_change(old_layer, old, config)
    return None


def _kept_budget(old_layer: Layer | None, old: Any, new: RetryConfig) -> RetryBudget | None:
    """The live retry budget (its counts), when the new section's budget is the same."""
    if not isinstance(old_layer, Retry) or old is None or new.budget is None:
        return None
    return old_layer.budget if old.budget == new.budget else None


def _layer_of(previous: Live | Built | None, slot: str) -> Layer | None:
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


class Live(Protocol):
    """What a reload reads of the policy a `Built` replaces (a `PlanPolicy`): the sections it
    was built from, and its layers by slot (as attributes)."""

    sections: dict[str, Any]


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
        previous: Live | Built | None,
        storage: Any = None,
        chaos: tuple[Layer, ...] = (),
        names: Names | None = None,
    ) -> None:
        names = names if names is not None else Names()
        self.config = config
        self.sections: dict[str, Any] = {}
        self.slots: dict[str, Any] = {"critical": bool(config.critical)}
        # Live mechanisms taking new settings in place when this configuration is swapped in.
        self.changes: list[Change] = []
        for section, how in _SECTIONS.items():
            value = getattr(config, section)
            if value is None:
                continue
            self.sections[section] = value
            slot = section
            if slot == "circuit_breaker" and config.outlier_detection is not None:
                continue  # a keyed breaker, built below with the outlier detection
            old_layer = _layer_of(previous, slot)
            if isinstance(old_layer, KeyedBreaker):
                old_layer = None  # outlier detection switched off: a plain breaker again
            old_config = previous.sections.get(section) if previous is not None else None
            try:
                if old_layer is not None and old_config == value:
                    layer = old_layer  # unchanged: keep its state
                elif (
                    old_layer is not None
                    and old_config is not None
                    and (change := _in_place(section, old_layer, value, names, old_config))
                    is not None
                ):
                    # Resized in place, keeping its state (permits, waiters, tokens, window,
                    # samples); applied only when the plan is swapped in, so a reload that fails
                    # on another policy changes nothing.
                    layer = old_layer
                    self.changes.append(change)
                else:
                    layer = how.build(name, value, names, storage if how.shared else None)
                    budget = _kept_budget(old_layer, old_config, value) if slot == "retry" else None
                    if budget is not None and isinstance(layer, Retry):
                        layer.budget = budget  # the retries already spent still count
            except (ValueError, TypeError) as exc:
                raise Problem(f"mechanisms.{name}.{section}", str(exc)) from None
            self.slots[slot] = layer
        if config.outlier_detection is not None:
            self.sections["outlier_detection"] = config.outlier_detection
            self.sections["circuit_breaker"] = config.circuit_breaker
            self.slots["circuit_breaker"] = _keyed_slot(name, config, previous, names)
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
                    self.slots["fallback"] = build_fallback(config.fallback, fallback, names)
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
