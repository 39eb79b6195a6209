"""Part of the plan file's schema (`resilience.config`): the adaptive limiter with its criticality
shares, and outlier detection.

``adaptive_limiter`` is `resilience.adaptive.AdaptiveLimiter`'s keywords (``shares`` is
`resilience.shedding.Shares`' two fractions; ``drop_on`` names exception classes).
``outlier_detection`` is `resilience.keyed.OutlierDetector`'s keywords: a policy with it gets a
`resilience.keyed.KeyedBreaker` in its circuit-breaker slot, one breaker per host (the key the
aiohttp and httpx integrations set) with the policy's ``circuit_breaker`` settings, at most
``max_hosts`` of them. Everything here is re-exported by `resilience.config`. Added in 0.2.0.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from resilience._config_names import ExceptionList
from resilience._config_waits import StrictModel
from resilience.durations import Duration, PositiveDuration

__all__ = ["AdaptiveLimiterConfig", "OutlierDetectionConfig", "SharesConfig"]

Fraction = Annotated[float, Field(gt=0, le=1)]
Limit = Annotated[int, Field(ge=1)]


class SharesConfig(StrictModel):
    """`Shares(default, sheddable)`: the fraction of the limit each class below ``critical``
    may fill (library defaults 0.9 and 0.5)."""

    default: Fraction | None = None
    sheddable: Fraction | None = None

    @model_validator(mode="after")
    def _sheddable_not_above_default(self) -> SharesConfig:
        default = 0.9 if self.default is None else self.default
        sheddable = 0.5 if self.sheddable is None else self.sheddable
        if sheddable > default:
            raise ValueError(
                f"expected sheddable ({sheddable:g}) ≤ default ({default:g}): sheddable requests"
                " are refused first"
            )
        return self


class AdaptiveLimiterConfig(StrictModel):
    """`AdaptiveLimiter(...)` options: a concurrency limit moved by the measured latency."""

    algorithm: Literal["vegas", "gradient2", "aimd"] | None = None
    initial_limit: Limit | None = None
    min_limit: Limit | None = None
    max_limit: Limit | None = Field(
        default=None, description="upper bound of the limit (the planned bulkhead)"
    )
    shares: SharesConfig | None = Field(
        default=None, description="fraction of the limit default and sheddable requests may fill"
    )
    drop_on: ExceptionList | None = Field(
        default=None,
        description="exception classes that are a congestion signal (default: TimeoutError)",
    )
    retry_after: PositiveDuration | None = None
    sample_window: Annotated[int, Field(ge=1, le=100_000)] | None = None

    @model_validator(mode="after")
    def _ordered(self) -> AdaptiveLimiterConfig:
        low, high = self.min_limit, self.max_limit
        if low is not None and high is not None and low > high:
            raise ValueError(f"expected min_limit ({low}) ≤ max_limit ({high})")
        return self


class OutlierDetectionConfig(StrictModel):
    """`OutlierDetector(...)` options (Envoy's outlier detection), per host of the policy."""

    consecutive_5xx: Annotated[int, Field(ge=1, le=100_000)] | None = None
    interval: PositiveDuration | None = None
    base_ejection_time: Duration | None = None
    max_ejection_time: Duration | None = None
    max_ejection_percent: Annotated[float, Field(ge=0, le=100)] | None = None
    success_rate_minimum_hosts: Annotated[int, Field(ge=1, le=100_000)] | None = None
    success_rate_request_volume: Annotated[int, Field(ge=1, le=10**9)] | None = None
    success_rate_stdev_factor: Annotated[float, Field(ge=0, le=100)] | None = None
    max_hosts: Annotated[int, Field(ge=1, le=1_000_000)] | None = Field(
        default=None, description="hosts tracked, and breakers kept (one per host); default 1024"
    )
