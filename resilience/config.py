"""The plan file's schema: pydantic models of the mechanism table, durations and dotted paths.

This module is the contract between the planner (which writes plan files from these models) and the
runtime (`resilience.load_plan`, which reads them). A plan file looks like::

    version: 1
    system: ai-gateway
    tier: critical            # optional: standard | high | critical | ultra
    slo: 99.99                # optional, percent
    mechanisms:
      defaults: {timeout: 2s}                 # optional, inherited by every policy
      llm-primary:
        base: other-policy                    # optional inheritance
        critical: true
        timeout: 2.5s                         # per attempt
        deadline: 10s                         # over all attempts and backoff
        retry: {max_attempts: 3, wait: {kind: exponential_jitter, initial: 0.2, max: 5}}
        circuit_breaker: {failure_rate_threshold: 0.5, open_duration: 30s}
        bulkhead: {max_concurrent: 40}
        rate_limiter: {rate_per_s: 50, burst: 100}
        fallback: {on: [aiohttp.ClientError]}
        hedge: {delay: p95, max_hedges: 1}
    storage:                  # optional: share breakers and rate limits across instances
      redis: {url: "redis://cache:6379/0", namespace: ai-gateway, sync_interval: 1s}
    report: {...}             # the planner's report: ignored by load_plan

Rules:

- Every option of every mechanism has the same name as the keyword argument in code. Options that
  are functions in code (`retry_if_result`, `failure_if_result`, a fallback `handler`, `if_result`)
  are dotted paths to an importable callable (`myservice.checks.is_overloaded`).
- Durations are seconds (`2.5`) or strings with a unit (`"250ms"`, `"2s"`, `"1.5m"`, `"1h"`).
- Exception classes are dotted paths (`aiohttp.ClientError`, or a builtin name such as
  `TimeoutError`), imported by `load_plan`, which names the field when one does not import.
- Unknown keys are errors, everywhere except the top-level `report` section.
- Inheritance: a policy's own fields, then its `base` policy's (recursively), then `defaults`, then
  the library defaults. Mechanism sections merge option by option; a value (a number, a list, a
  `wait`, a `budget`, an `open_duration`) replaces the inherited one whole: lists replace, they
  don't merge. An explicit `null` switches an inherited mechanism off (`retry: null`).

`plan_json_schema()` returns the JSON Schema of the file (`reliability schema` prints it).
Added in 0.1.0.
"""

from __future__ import annotations

import builtins
import functools
import importlib
import math
import re
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

__all__ = [
    "BulkheadConfig",
    "CircuitBreakerConfig",
    "ExponentialOpenDuration",
    "FallbackConfig",
    "HedgeConfig",
    "PlanFile",
    "PolicyConfig",
    "RateLimiterConfig",
    "RedisStorageConfig",
    "RetryBudgetConfig",
    "RetryConfig",
    "StorageConfig",
    "WaitConfig",
    "parse_duration",
    "plan_json_schema",
    "plan_to_dict",
    "resolve_dotted_path",
]

RESOLVE_IMPORTS = "resolve_imports"
"""Validation-context key: when true, dotted paths are imported while the file is validated."""

DEFAULTS = "defaults"
"""The reserved `mechanisms` entry every policy inherits from."""

TIERS: dict[str, float] = {"standard": 99.9, "high": 99.95, "critical": 99.99, "ultra": 99.999}
"""Availability target (percent) of each tier."""

# ---------------------------------------------------------------------------------------- durations

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ns|us|µs|ms|s|m|h)?\s*$")
_DURATION_EXPECTED = (
    "expected seconds as a number (2.5) or a string with a unit ('250ms', '2s', '1m')"
)


def parse_duration(value: object) -> float:
    """Seconds from a number (`2.5`) or a string with an optional unit (`"250ms"`, `"2s"`, `"1m"`).

    Units: ns, us (or µs), ms, s, m, h; no unit means seconds. Negative, infinite and boolean values
    are refused with `ValueError`.
    """
    if isinstance(value, bool):
        raise ValueError(f"{_DURATION_EXPECTED}, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        match = _DURATION_RE.match(value)
        if match is None:
            raise ValueError(f"{_DURATION_EXPECTED}, got {value!r}")
        seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    else:
        raise ValueError(f"{_DURATION_EXPECTED}, got {value!r}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{_DURATION_EXPECTED} (finite, not negative), got {value!r}")
    return seconds


_DURATION_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "number", "minimum": 0},
        {"type": "string", "pattern": _DURATION_RE.pattern},
    ],
    "description": "seconds, or a string with a unit: '250ms', '2s', '1m'",
}

Duration: TypeAlias = Annotated[
    float, BeforeValidator(parse_duration), WithJsonSchema(_DURATION_SCHEMA)
]
"""Seconds, ≥ 0, read from a number or a string with a unit."""

PositiveDuration: TypeAlias = Annotated[
    float,
    BeforeValidator(parse_duration),
    Field(gt=0),
    WithJsonSchema({**_DURATION_SCHEMA, "description": "seconds (> 0), or '250ms', '2s', '1m'"}),
]
"""Seconds, > 0."""

# ------------------------------------------------------------------------------------ dotted paths

_DOTTED_RE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


@functools.cache
def resolve_dotted_path(path: str) -> object:
    """Import `package.module.Name` (or a builtin such as `TimeoutError`) and return the object.

    Raises `ImportError` with the reason when nothing by that name can be imported.
    """
    if "." not in path:
        if hasattr(builtins, path):
            return getattr(builtins, path)
        raise ImportError(f"{path!r} is not a builtin name; use a dotted path such as module.Name")
    parts = path.split(".")
    last_error: Exception | None = None
    # The longest importable module prefix wins, the rest are attributes (handles nested classes).
    for cut in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            obj: object = importlib.import_module(module_name)
        except ImportError as exc:
            last_error = exc
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            missing = ".".join(parts[cut:])
            raise ImportError(f"module {module_name!r} has no attribute {missing!r}") from None
        return obj
    raise ImportError(f"cannot import {path!r} ({last_error})")


def _check_path_format(value: str, what: str) -> None:
    if not _DOTTED_RE.match(value):
        raise ValueError(f"expected a dotted path to {what}, got {value!r}")


def _exception_path(value: str, info: ValidationInfo) -> str:
    _check_path_format(value, "an exception class (aiohttp.ClientError)")
    if info.context and info.context.get(RESOLVE_IMPORTS):
        try:
            obj = resolve_dotted_path(value)
        except ImportError as exc:
            raise ValueError(f"expected an importable exception class, {exc}") from None
        if not (isinstance(obj, type) and issubclass(obj, BaseException)):
            raise ValueError(f"expected an exception class, {value!r} is {obj!r}")
    return value


def _callable_path(value: str, info: ValidationInfo) -> str:
    _check_path_format(value, "a function (myservice.checks.is_bad)")
    if info.context and info.context.get(RESOLVE_IMPORTS):
        try:
            obj = resolve_dotted_path(value)
        except ImportError as exc:
            raise ValueError(f"expected an importable function, {exc}") from None
        if not callable(obj):
            raise ValueError(f"expected a callable, {value!r} is {obj!r}")
    return value


ExceptionPath: TypeAlias = Annotated[
    str,
    AfterValidator(_exception_path),
    Field(description="dotted path to an exception class, e.g. aiohttp.ClientError"),
]
"""A dotted path to an exception class."""

CallablePath: TypeAlias = Annotated[
    str,
    AfterValidator(_callable_path),
    Field(description="dotted path to a function, e.g. myservice.checks.is_overloaded"),
]
"""A dotted path to a callable."""

ExceptionList: TypeAlias = Annotated[list[ExceptionPath], Field(max_length=64)]

# ------------------------------------------------------------------------------------------ models


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)


class WaitFixed(_Model):
    """`tenacity.wait_fixed(wait)`: the same pause before every retry."""

    kind: Literal["fixed"]
    wait: Duration


class WaitNone(_Model):
    """`tenacity.wait_none()`: retry at once."""

    kind: Literal["none"]


class WaitRandom(_Model):
    """`tenacity.wait_random(min, max)`: uniform between min and max."""

    kind: Literal["random"]
    min: Duration | None = None
    max: Duration | None = None


class WaitIncrementing(_Model):
    """`tenacity.wait_incrementing(start, increment, max)`: linear backoff."""

    kind: Literal["incrementing"]
    start: Duration | None = None
    increment: Duration | None = None
    max: Duration | None = None


class WaitExponential(_Model):
    """`tenacity.wait_exponential(multiplier, max, exp_base, min)`: no jitter."""

    kind: Literal["exponential"]
    multiplier: Annotated[float, Field(gt=0)] | None = None
    max: Duration | None = None
    exp_base: Annotated[float, Field(gt=1)] | None = None
    min: Duration | None = None


class WaitRandomExponential(_Model):
    """`tenacity.wait_random_exponential(...)`: full jitter, uniform in [min, exponential cap]."""

    kind: Literal["random_exponential"]
    multiplier: Annotated[float, Field(gt=0)] | None = None
    max: Duration | None = None
    exp_base: Annotated[float, Field(gt=1)] | None = None
    min: Duration | None = None


class WaitExponentialJitter(_Model):
    """`tenacity.wait_exponential_jitter(initial, max, exp_base, jitter)`: exponential + jitter."""

    kind: Literal["exponential_jitter"]
    initial: Duration | None = None
    max: Duration | None = None
    exp_base: Annotated[float, Field(gt=1)] | None = None
    jitter: Duration | None = None


class WaitFullJitter(_Model):
    """`resilience.retry.FullJitterBackoff(initial, max, multiplier)`: the library default.

    Attempt n waits uniformly in [0, min(max, initial × multiplier^(n−1))].
    """

    kind: Literal["full_jitter"]
    initial: PositiveDuration | None = None
    max: PositiveDuration | None = None
    multiplier: Annotated[float, Field(ge=1)] | None = None


WaitConfig: TypeAlias = Annotated[
    WaitFullJitter
    | WaitFixed
    | WaitNone
    | WaitRandom
    | WaitIncrementing
    | WaitExponential
    | WaitRandomExponential
    | WaitExponentialJitter,
    Field(discriminator="kind"),
]
"""A wait strategy chosen by `kind`; the other keys are that function's arguments.

`full_jitter` is the library default (`FullJitterBackoff`); the others are tenacity's `wait_<kind>`.
"""

WAIT_KINDS = frozenset(
    {
        "full_jitter",
        "fixed",
        "none",
        "random",
        "incrementing",
        "exponential",
        "random_exponential",
        "exponential_jitter",
    }
)


class RetryBudgetConfig(_Model):
    """`RetryBudget(ratio, min_per_second, ttl)`: retries ≤ ratio × calls, Envoy style."""

    ratio: Annotated[float, Field(ge=0, le=1)] | None = None
    min_per_second: Annotated[float, Field(ge=0)] | None = None
    ttl: Annotated[int, Field(ge=1, le=3600)] | None = None


class RetryConfig(_Model):
    """`Retry(...)` options; `max_attempts` counts the first call."""

    max_attempts: Annotated[int, Field(ge=1, le=100)] | None = None
    wait: WaitConfig | None = None
    retry_on: ExceptionList | None = None
    retry_if_result: CallablePath | None = None
    max_retry_after: Duration | None = None
    budget: RetryBudgetConfig | None = None
    retry_when_nested: bool | None = Field(
        default=None,
        description="retry even inside another retry's call (default: one attempt there)",
    )


class ExponentialOpenDuration(_Model):
    """An open duration growing with consecutive opens: `min(max, initial × multiplier^(n−1))`."""

    initial: PositiveDuration
    multiplier: Annotated[float, Field(ge=1)] = 2.0
    max: PositiveDuration

    @field_validator("max")
    @classmethod
    def _max_not_below_initial(cls, value: float, info: ValidationInfo) -> float:
        initial = info.data.get("initial")
        if initial is not None and value < initial:
            raise ValueError(f"expected max ≥ initial ({initial}s), got {value}s")
        return value


def _open_duration_tag(value: object) -> str:
    return "exponential" if isinstance(value, dict | ExponentialOpenDuration) else "seconds"


OpenDuration: TypeAlias = Annotated[
    Annotated[PositiveDuration, Tag("seconds")]
    | Annotated[ExponentialOpenDuration, Tag("exponential")],
    Discriminator(_open_duration_tag),
]
"""Seconds, or `{initial, multiplier, max}` for an open duration growing per consecutive open."""

Rate: TypeAlias = Annotated[float, Field(gt=0, le=1)]


class CircuitBreakerConfig(_Model):
    """`CircuitBreaker(name, ...)` options (the name is the policy's)."""

    failure_rate_threshold: Rate | None = None
    slow_call_rate_threshold: Rate | None = None
    slow_call_duration: PositiveDuration | None = None
    minimum_calls: Annotated[int, Field(ge=1)] | None = None
    window_type: Literal["count", "time"] | None = None
    window_size: Annotated[int, Field(ge=1, le=100_000)] | None = None
    half_open_calls: Annotated[int, Field(ge=1)] | None = None
    max_wait_in_half_open: Duration | None = None
    open_duration: OpenDuration | None = None
    record_on: ExceptionList | None = None
    ignore_on: ExceptionList | None = None
    failure_if_result: CallablePath | None = None
    automatic_half_open: bool | None = Field(
        default=None,
        description="move open → half_open on a timer when open_duration ends (resilience4j's "
        "automaticTransitionFromOpenToHalfOpenEnabled), not on the next call",
    )
    max_retry_after: Duration | None = Field(
        default=None,
        description="a failure with a Retry-After hint (HTTP 429/503) opens the breaker that "
        "long, at most this many seconds; 0 (default) ignores hints",
    )


class BulkheadConfig(_Model):
    """`Bulkhead(max_concurrent, max_wait)` options; `max_concurrent` is required."""

    max_concurrent: Annotated[int, Field(ge=1)] | None = None
    max_wait: Duration | None = None


class RateLimiterConfig(_Model):
    """`RateLimiter(rate_per_s, burst, max_wait, key)` options; `rate_per_s` is required."""

    rate_per_s: Annotated[float, Field(gt=0)] | None = None
    burst: Annotated[int, Field(ge=1)] | None = None
    max_wait: Duration | None = None
    key: Annotated[str, Field(min_length=1)] | None = Field(
        default=None,
        description="bucket key in the shared storage (default: the policy name); policies "
        "with the same key share one bucket, e.g. one provider account",
    )


class FallbackConfig(_Model):
    """`Fallback(handler, on, if_result)` options; the handler usually comes from code."""

    handler: CallablePath | None = None
    on: ExceptionList | None = None
    if_result: CallablePath | None = None


_PERCENTILE_RE = re.compile(r"^p(\d{1,2}(\.\d+)?)$")


def _percentile(value: str) -> str:
    if not _PERCENTILE_RE.match(value) or not 0 < float(value[1:]) < 100:
        raise ValueError(
            f"expected seconds or a percentile of observed latency ('p95'), got {value!r}"
        )
    return value


def _hedge_delay_tag(value: object) -> str:
    return "percentile" if isinstance(value, str) and value.startswith("p") else "seconds"


HedgeDelay: TypeAlias = Annotated[
    Annotated[Duration, Tag("seconds")]
    | Annotated[str, AfterValidator(_percentile), Tag("percentile")],
    Discriminator(_hedge_delay_tag),
]
"""Seconds, or `"pNN"`: that percentile of the latency observed so far."""


class HedgeConfig(_Model):
    """`Hedge(delay, max_hedges, ...)` options; `delay` is required."""

    delay: HedgeDelay | None = None
    max_hedges: Annotated[int, Field(ge=1, le=10)] | None = None
    min_samples: Annotated[int, Field(ge=1)] | None = None
    sample_size: Annotated[int, Field(ge=1, le=100_000)] | None = None


MECHANISMS = ("retry", "circuit_breaker", "bulkhead", "rate_limiter", "fallback", "hedge")
"""The mechanism sections of a policy entry, in file order."""


class PolicyConfig(_Model):
    """One entry of the mechanism table: the settings of one named `Policy`.

    Every field is optional: what is not set is inherited (base → defaults → library defaults).
    """

    base: str | None = Field(default=None, description="name of the policy to inherit from")
    critical: bool | None = Field(
        default=None, description="readiness fails while this policy's breaker is open"
    )
    timeout: PositiveDuration | None = Field(default=None, description="per-attempt timeout")
    deadline: PositiveDuration | None = Field(
        default=None, description="total deadline over all attempts and backoff"
    )
    retry: RetryConfig | None = None
    circuit_breaker: CircuitBreakerConfig | None = None
    bulkhead: BulkheadConfig | None = None
    rate_limiter: RateLimiterConfig | None = None
    fallback: FallbackConfig | None = None
    hedge: HedgeConfig | None = None


class RedisStorageConfig(_Model):
    """`RedisStorage(url, namespace, sync_interval, key_ttl, timeout, max_backoff)` options;
    `url` required."""

    url: str = Field(description="redis-py URL: redis://host:6379/0, rediss:// (TLS) or unix://")
    namespace: Annotated[str, Field(min_length=1)] | None = Field(
        default=None, description="key prefix: keys are {namespace}:{policy}"
    )
    sync_interval: PositiveDuration | None = Field(
        default=None, description="how often each breaker merges its window with the fleet's"
    )
    key_ttl: PositiveDuration | None = None
    timeout: PositiveDuration | None = None
    max_backoff: PositiveDuration | None = Field(
        default=None, description="longest pause before trying a failed Redis again"
    )

    @field_validator("url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        # The message never repeats the URL: it may carry a password.
        if not re.match(r"^(redis|rediss|unix)://\S+$", value):
            raise ValueError("expected a redis://, rediss:// or unix:// URL")
        return value


class StorageConfig(_Model):
    """Shared state for every circuit breaker and rate limiter of the plan."""

    redis: RedisStorageConfig


_NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"

PolicyName: TypeAlias = Annotated[str, Field(pattern=_NAME_RE)]


class PlanFile(_Model):
    """A whole plan file. Unknown top-level keys are errors, except `report` (ignored)."""

    version: Literal[1] = Field(description="plan file format version")
    system: Annotated[str, Field(min_length=1)] = Field(description="name of the system")
    tier: Literal["standard", "high", "critical", "ultra"] | None = None
    slo: Annotated[float, Field(gt=0, lt=100)] | None = Field(
        default=None, description="availability objective in percent, e.g. 99.99"
    )
    mechanisms: dict[PolicyName, PolicyConfig] = Field(
        description="policy name → its mechanisms; the entry 'defaults' is inherited by all"
    )
    storage: StorageConfig | None = Field(
        default=None, description="share breaker state and rate limits across instances (Redis)"
    )
    report: Any = Field(default=None, description="the planner's report; ignored by load_plan")

    @field_validator("mechanisms")
    @classmethod
    def _defaults_has_no_base(cls, value: dict[str, PolicyConfig]) -> dict[str, PolicyConfig]:
        defaults = value.get(DEFAULTS)
        if defaults is not None and defaults.base is not None:
            raise ValueError("expected no 'base' in 'defaults': every policy inherits from it")
        return value


def plan_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a plan file, generated from the models."""
    schema = PlanFile.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "reliability-os plan",
        **{k: v for k, v in schema.items() if k != "title"},
    }


def plan_to_dict(plan: PlanFile) -> dict[str, Any]:
    """The plan as plain data to write as YAML or JSON: only the fields that were set.

    Unset fields stay out (so they inherit); an explicit `None` stays (it switches a mechanism off).
    """
    return plan.model_dump(mode="json", exclude_unset=True)
