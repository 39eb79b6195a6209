"""A `CircuitBreaker`'s vocabulary: its states, its settings and how each setting is checked.

The constructor and `CircuitBreaker.reconfigure` validate through the same table, so a setting
means the same thing (and fails with the same message) whichever way it arrives.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any, TypedDict, cast

from resilience._errors import ConfigError

ExceptionTypes = tuple[type[BaseException], ...]


class BreakerState(StrEnum):
    """The state of a circuit breaker; compares equal to its string (``state == "open"``)."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"
    DISABLED = "disabled"
    FORCED_OPEN = "forced_open"
    METRICS_ONLY = "metrics_only"


CLOSED = BreakerState.CLOSED
OPEN = BreakerState.OPEN
HALF_OPEN = BreakerState.HALF_OPEN
DISABLED = BreakerState.DISABLED
FORCED_OPEN = BreakerState.FORCED_OPEN
METRICS_ONLY = BreakerState.METRICS_ONLY


def _fraction(value: float, field: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value <= 1:
        raise ConfigError(f"CircuitBreaker.{field}: expected a number in (0, 1], got {value!r}")
    return float(value)


def positive_int(value: int, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"CircuitBreaker.{field}: expected an integer >= 1, got {value!r}")
    return value


def _seconds(value: float, field: str, *, zero_ok: bool = False) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not zero_ok):
        expected = "a number of seconds >= 0" if zero_ok else "a positive number of seconds"
        raise ConfigError(f"CircuitBreaker.{field}: expected {expected}, got {value!r}")
    return float(value)


def _types(value: Any, field: str) -> ExceptionTypes:
    if isinstance(value, type) and issubclass(value, BaseException):
        return (value,)
    if isinstance(value, tuple | list) and all(
        isinstance(t, type) and issubclass(t, BaseException) for t in value
    ):
        return tuple(value)
    raise ConfigError(f"CircuitBreaker.{field}: expected exception classes, got {value!r}")


def _open_duration(value: Any, field: str) -> float | Callable[[int], float]:
    if callable(value):
        return value  # type: ignore[no-any-return]
    return _seconds(value, field)


def _window_type(value: Any, field: str) -> str:
    if value not in ("count", "time"):
        raise ConfigError(f"CircuitBreaker.{field}: expected 'count' or 'time', got {value!r}")
    return str(value)


def _flag(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"CircuitBreaker.{field}: expected true or false, got {value!r}")
    return value


def _predicate(value: Any, field: str) -> Callable[[Any], bool] | None:
    if value is not None and not callable(value):
        raise ConfigError(f"CircuitBreaker.{field}: expected a callable or None, got {value!r}")
    return value  # type: ignore[no-any-return]


class CircuitBreakerSettings(TypedDict, total=False):
    """The settings `CircuitBreaker.reconfigure` can change on a live breaker (same meaning as
    the constructor's): all but the name, the clock and the storage. Added in 0.1.0.
    """

    failure_rate_threshold: float
    slow_call_rate_threshold: float
    slow_call_duration: float
    minimum_calls: int
    half_open_calls: int
    max_wait_in_half_open: float
    open_duration: float | Callable[[int], float]
    record_on: type[BaseException] | tuple[type[BaseException], ...]
    ignore_on: type[BaseException] | tuple[type[BaseException], ...]
    failure_if_result: Callable[[Any], bool] | None
    window_type: str
    window_size: int
    automatic_half_open: bool
    max_retry_after: float


class SettingsAttributes:
    """The reconfigurable settings as a `CircuitBreaker`'s attributes, declared once next to how
    each is checked: set by its constructor and `reconfigure` (the constructor's arguments)."""

    failure_rate_threshold: float
    slow_call_rate_threshold: float
    slow_call_duration: float
    minimum_calls: int
    half_open_calls: int
    max_wait_in_half_open: float
    open_duration: float | Callable[[int], float]
    record_on: ExceptionTypes
    ignore_on: ExceptionTypes
    failure_if_result: Callable[[Any], bool] | None
    automatic_half_open: bool
    max_retry_after: float


_CHECKS: dict[str, Callable[[Any, str], Any]] = {
    "failure_rate_threshold": _fraction,
    "slow_call_rate_threshold": _fraction,
    "slow_call_duration": _seconds,
    "minimum_calls": positive_int,
    "half_open_calls": positive_int,
    "max_wait_in_half_open": lambda value, field: _seconds(value, field, zero_ok=True),
    "open_duration": _open_duration,
    "record_on": _types,
    "ignore_on": _types,
    "failure_if_result": _predicate,
    "window_type": _window_type,
    "window_size": positive_int,
    "automatic_half_open": _flag,
    "max_retry_after": lambda value, field: _seconds(value, field, zero_ok=True),
}
"""How each reconfigurable setting is validated and normalised, by name."""

RECONFIGURABLE: tuple[str, ...] = tuple(_CHECKS)
"""The names `CircuitBreaker.reconfigure` accepts (the keys of `CircuitBreakerSettings`)."""


def checked(settings: Mapping[str, Any]) -> dict[str, Any]:
    """`settings` validated and normalised; `ConfigError` names the first bad one."""
    return {key: _CHECKS[key](value, key) for key, value in settings.items()}


def check_reconfigurable(settings: Mapping[str, Any]) -> CircuitBreakerSettings:
    """`settings` for `CircuitBreaker.reconfigure`, validated; `ConfigError` names what is wrong."""
    unknown = sorted(set(settings) - set(RECONFIGURABLE))
    if unknown:
        raise ConfigError(
            f"CircuitBreaker.reconfigure: cannot change {', '.join(unknown)} on a live breaker; "
            f"expected some of: {', '.join(RECONFIGURABLE)}"
        )
    return cast(CircuitBreakerSettings, checked(settings))


def describe_settings(breaker: Any) -> str:
    """Every setting of `breaker` as ``key=value, ...``, with its storage when the state is
    shared (for `CircuitBreaker.describe`)."""
    opens = breaker.open_duration
    open_text = getattr(opens, "__name__", "callable") if callable(opens) else f"{opens:g}"
    return (
        f"failure_rate_threshold={breaker.failure_rate_threshold:g}, "
        f"slow_call_rate_threshold={breaker.slow_call_rate_threshold:g}, "
        f"slow_call_duration={breaker.slow_call_duration:g}, "
        f"minimum_calls={breaker.minimum_calls}, "
        f"window_type={breaker.window_type!r}, window_size={breaker.window_size}, "
        f"half_open_calls={breaker.half_open_calls}, "
        f"max_wait_in_half_open={breaker.max_wait_in_half_open:g}, open_duration={open_text}, "
        f"record_on={_names(breaker.record_on)}, ignore_on={_names(breaker.ignore_on)}, "
        f"failure_if_result={'set' if breaker.failure_if_result else 'None'}"
        f"{', automatic_half_open=True' if breaker.automatic_half_open else ''}"
        f"{f', max_retry_after={breaker.max_retry_after:g}' if breaker.max_retry_after else ''}"
        f"{_storage_text(breaker.storage)}"
    )


def _storage_text(storage: Any) -> str:
    if storage is None:
        return ""
    describe = getattr(storage, "describe", None)
    return f", storage={describe() if callable(describe) else repr(storage)}"


def _names(types: ExceptionTypes) -> str:
    return "(" + ", ".join(t.__name__ for t in types) + ")"
