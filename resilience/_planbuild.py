"""From a plan's resolved configuration to mechanisms: what `load_plan` and `reload` build.

`Built` holds the layers of one policy built from one configuration, before they go into a
`PlanPolicy` (resilience/plan.py): on a reload it keeps the live mechanisms whose settings did not
change and reconfigures a breaker whose window did not, so state survives where it can.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

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
)
from resilience.fallback import Fallback
from resilience.hedge import Hedge
from resilience.names import Names
from resilience.ratelimiter import RateLimiter
from resilience.retry import FullJitterBackoff, Retry, RetryBudget
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


_WINDOW = ("window_type", "window_size")
# What `reconfigure` gives a kept breaker for a setting the new section leaves out: the default.
_BREAKER_DEFAULTS: dict[str, Any] = {
    key: parameter.default
    for key, parameter in inspect.signature(CircuitBreaker).parameters.items()
    if key in CircuitBreakerSettings.__optional_keys__
}


def _breaker_settings(
    old_config: CircuitBreakerConfig, config: CircuitBreakerConfig, names: Names
) -> CircuitBreakerSettings | None:
    """What `reconfigure` must give a breaker built from `old_config` to follow `config`
    (validated), or None when the window changes and only a new breaker will do."""
    if any(getattr(old_config, k) != getattr(config, k) for k in _WINDOW):
        return None
    settings = {**_BREAKER_DEFAULTS, **_breaker_options(config, names)}
    for key in _WINDOW:
        settings.pop(key, None)
    return CircuitBreaker.check_settings(**settings)


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
        previous: Live | None,
        storage: Any = None,
        chaos: tuple[Layer, ...] = (),
        names: Names | None = None,
    ) -> None:
        names = names if names is not None else Names()
        self.config = config
        self.sections: dict[str, Any] = {}
        self.slots: dict[str, Any] = {"critical": bool(config.critical)}
        # A kept breaker and the settings it takes when this configuration is swapped in.
        self.reconfigure: tuple[CircuitBreaker, CircuitBreakerSettings] | None = None
        for section, how in _SECTIONS.items():
            value = getattr(config, section)
            if value is None:
                continue
            self.sections[section] = value
            slot = section
            old_layer = getattr(previous, slot, None) if previous is not None else None
            old_config = previous.sections.get(section) if previous is not None else None
            try:
                if old_layer is not None and old_config == value:
                    layer = old_layer  # unchanged: keep its state
                elif (
                    section == "circuit_breaker"
                    and isinstance(old_layer, CircuitBreaker)
                    and old_config is not None
                    and (settings := _breaker_settings(old_config, value, names)) is not None
                ):
                    # Kept with its state and window; reconfigured only when the plan is swapped
                    # in, so a reload that fails on another policy changes nothing.
                    layer = old_layer
                    self.reconfigure = (old_layer, settings)
                else:
                    layer = how.build(name, value, names, storage if how.shared else None)
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
            try:
                self.slots["fallback"] = build_fallback(config.fallback, fallback, names)
            except (ValueError, TypeError) as exc:
                raise Problem(f"mechanisms.{name}.fallback", str(exc)) from None

    def check_handler(self, name: str) -> None:
        """Raise when the plan's fallback for `name` still has no handler."""
        if self.needs_handler:
            raise Problem(
                f"mechanisms.{name}.fallback",
                f"no handler: pass plan.policy({name!r}, fallback=handler) "
                "or set fallback.handler in the file",
            )
