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
        rate_limiter: {rate_per_second: 50, burst: 100}
        fallback: {on: [aiohttp.ClientError]}
        hedge: {delay: p95, max_hedges: 1}
      gateway:
        adaptive_limiter:                     # an inbound limit moved by measured latency
          algorithm: vegas
          initial_limit: 27
          min_limit: 1
          max_limit: 27                       # the planned bulkhead
          shares: {default: 0.8, sheddable: 0.5}   # of the limit, below critical requests
      search:
        outlier_detection:                    # one breaker per host; bad hosts ejected
          consecutive_5xx: 5
          max_ejection_percent: 33
          base_ejection_time: 30s
    storage:                  # optional: share breakers and rate limits across instances
      redis: {url: "redis://cache:6379/0", namespace: ai-gateway, sync_interval: 1s}
    report: {...}             # the planner's report: ignored by load_plan

Rules:

- Every option of every mechanism has the same name as the keyword argument in code. Options that
  are functions in code (`retry_if_result`, `failure_if_result`, a fallback `handler`, `if_result`)
  name a function the service registers (`load_plan(path, names={"is_overloaded": f})`).
- Durations are seconds (`2.5`) or strings with units (`"250ms"`, `"2s"`, `"1m30s"`, `"1d"`):
  the one grammar of `resilience.durations`, shared with system specs and experiments.
- Exception classes are names: a built-in (`TimeoutError`), one of asyncio, aiohttp, httpx or
  requests (`aiohttp.ClientError`), or one the service registers; nothing is imported from the
  file (see `resilience.names`). `load_plan` names the field when a name is not registered.
- Unknown keys are errors, everywhere except the top-level `report` section.
- Inheritance: a policy's own fields, then its `base` policy's (recursively), then `defaults`, then
  the library defaults. Mechanism sections merge option by option; a value (a number, a list, a
  `wait`, a `budget`, an `open_duration`) replaces the inherited one whole: lists replace, they
  don't merge. An explicit `null` switches an inherited mechanism off (`retry: null`).

`plan_json_schema()` returns the JSON Schema of the file (`reliability schema` prints it).
Added in 0.1.0.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal, TypeAlias

from pydantic import (
    AfterValidator,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
)

from resilience._config_limits import AdaptiveLimiterConfig, OutlierDetectionConfig, SharesConfig
from resilience._config_names import NAMES as NAMES
from resilience._config_names import CallablePath, ExceptionList
from resilience._config_names import ExceptionPath as ExceptionPath
from resilience._config_waits import (
    WAIT_KINDS,
    WaitConfig,
    WaitExponential,
    WaitExponentialJitter,
    WaitFixed,
    WaitFullJitter,
    WaitIncrementing,
    WaitNone,
    WaitRandom,
    WaitRandomExponential,
)
from resilience._config_waits import StrictModel as _Model
from resilience.durations import Duration, PositiveDuration, parse_duration

__all__ = [
    "WAIT_KINDS",
    "AdaptiveLimiterConfig",
    "BulkheadConfig",
    "CircuitBreakerConfig",
    "Duration",
    "ExponentialOpenDuration",
    "FallbackConfig",
    "HedgeConfig",
    "OutlierDetectionConfig",
    "PlanFile",
    "PolicyConfig",
    "PositiveDuration",
    "RateLimiterConfig",
    "RedisStorageConfig",
    "RetryBudgetConfig",
    "RetryConfig",
    "SharesConfig",
    "StorageConfig",
    "WaitConfig",
    "WaitExponential",
    "WaitExponentialJitter",
    "WaitFixed",
    "WaitFullJitter",
    "WaitIncrementing",
    "WaitNone",
    "WaitRandom",
    "WaitRandomExponential",
    "parse_duration",
    "plan_json_schema",
    "plan_to_dict",
]

DEFAULTS = "defaults"
"""The reserved `mechanisms` entry every policy inherits from."""

TIERS: dict[str, float] = {"standard": 99.9, "high": 99.95, "critical": 99.99, "ultra": 99.999}
"""Availability target (percent) of each tier."""

# ------------------------------------------------------------------------------------------ models


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
    """`RateLimiter(rate_per_second, burst, max_wait, key)` options; `rate_per_second` is
    required."""

    RENAMED: ClassVar[dict[str, str]] = {"rate_per_s": "rate_per_second"}

    rate_per_second: Annotated[float, Field(gt=0)] | None = None
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


MECHANISMS = (
    "retry",
    "circuit_breaker",
    "bulkhead",
    "rate_limiter",
    "fallback",
    "hedge",
    "adaptive_limiter",
    "outlier_detection",
)
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
    adaptive_limiter: AdaptiveLimiterConfig | None = None
    outlier_detection: OutlierDetectionConfig | None = Field(
        default=None,
        description="per-host ejection (Envoy); the circuit breaker becomes one per host",
    )


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
