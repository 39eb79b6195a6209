"""load_plan's adaptive_limiter and outlier_detection sections: every option reaches the built
mechanism, bad values are named, and a reload keeps or resizes them in place."""

from __future__ import annotations

from typing import Any

import pytest

from resilience import (
    AdaptiveLimiter,
    CircuitBreaker,
    KeyedBreaker,
    OutlierDetector,
    PlanError,
    load_plan,
)
from resilience.config import OutlierDetectionConfig

DETECTION: dict[str, Any] = {
    "consecutive_5xx": 3,
    "interval": "20s",
    "base_ejection_time": "15s",
    "max_ejection_time": "2m",
    "max_ejection_percent": 40,
    "success_rate_minimum_hosts": 6,
    "success_rate_request_volume": 50,
    "success_rate_stdev_factor": 2.5,
    "max_hosts": 64,
}


def _plan(**mechanisms: Any) -> dict[str, Any]:
    return {"version": 1, "system": "s", "mechanisms": mechanisms}


def test_every_outlier_option_reaches_the_keyed_breaker() -> None:
    assert set(DETECTION) == set(OutlierDetectionConfig.model_fields)
    policy = load_plan(
        _plan(search={"circuit_breaker": {"minimum_calls": 7}, "outlier_detection": DETECTION})
    ).policy("search")
    keyed = policy.circuit_breaker
    assert isinstance(keyed, KeyedBreaker) and keyed.max_keys == 64
    detector = keyed.outlier_detection
    assert isinstance(detector, OutlierDetector)
    assert (detector.consecutive_5xx, detector.interval) == (3, 20.0)
    assert (detector.base_ejection_time, detector.max_ejection_time) == (15.0, 120.0)
    assert (detector.max_ejection_percent, detector.max_hosts) == (40.0, 64)
    assert detector.success_rate_minimum_hosts == 6
    assert detector.success_rate_request_volume == 50
    assert detector.success_rate_stdev_factor == 2.5
    assert keyed.breaker("h1").minimum_calls == 7  # the section's settings, per host


@pytest.mark.parametrize(
    ("section", "path", "message"),
    [
        (
            {"adaptive_limiter": {"shares": {"default": 0.4, "sheddable": 0.6}}},
            "mechanisms.p.adaptive_limiter.shares",
            "sheddable (0.6) ≤ default (0.4)",
        ),
        (
            {"adaptive_limiter": {"min_limit": 9, "max_limit": 3}},
            "mechanisms.p.adaptive_limiter",
            "min_limit (9) ≤ max_limit (3)",
        ),
        (
            {"adaptive_limiter": {"algorithm": "bbr"}},
            "mechanisms.p.adaptive_limiter.algorithm",
            "'vegas', 'gradient2' or 'aimd'",
        ),
        (
            {"outlier_detection": {"consecutive5xx": 3}},
            "mechanisms.p.outlier_detection",
            "unknown key 'consecutive5xx'; expected one of: consecutive_5xx",
        ),
        (
            {"outlier_detection": {"max_ejection_percent": 120}},
            "mechanisms.p.outlier_detection.max_ejection_percent",
            "less than or equal to 100",
        ),
        (
            {"adaptive_limiter": {"drop_on": ["os.system"]}},
            "mechanisms.p.adaptive_limiter.drop_on[0]",
            "os.system",
        ),
    ],
)
def test_a_bad_section_names_its_field(section: dict[str, Any], path: str, message: str) -> None:
    with pytest.raises(PlanError) as caught:
        load_plan(_plan(p=section))
    assert path in str(caught.value) and message in str(caught.value)


def test_a_reload_keeps_the_keyed_breaker_and_resizes_the_limit_in_place() -> None:
    first = _plan(
        web={"adaptive_limiter": {"initial_limit": 20, "max_limit": 30}},
        search={"outlier_detection": {"consecutive_5xx": 1}},
    )
    registry = load_plan(first)
    web, search = registry.policy("web"), registry.policy("search")
    limiter, keyed = web.adaptive_limiter, search.circuit_breaker
    assert isinstance(limiter, AdaptiveLimiter) and isinstance(keyed, KeyedBreaker)
    assert keyed.outlier_detection is not None
    keyed.outlier_detection.record("h1", True)
    keyed.outlier_detection.record("h1", False)
    assert keyed.outlier_detection.is_ejected("h1")

    resized = _plan(
        web={"adaptive_limiter": {"initial_limit": 20, "max_limit": 12}},
        search={"outlier_detection": {"consecutive_5xx": 1}},
    )
    registry.reload(resized)
    assert web.adaptive_limiter is limiter and limiter.max_limit == 12 and limiter.limit == 12
    assert search.circuit_breaker is keyed  # unchanged: its ejection carries over
    assert keyed.outlier_detection.is_ejected("h1")

    registry.reload(
        _plan(
            web={"adaptive_limiter": {"algorithm": "aimd"}},
            search={"circuit_breaker": {"minimum_calls": 5}, "outlier_detection": None},
        )
    )
    assert web.adaptive_limiter is not limiter  # another algorithm: a new limiter
    assert type(search.circuit_breaker) is CircuitBreaker  # detection off: one breaker again


async def test_a_call_without_a_key_is_never_ejected() -> None:
    policy = load_plan(_plan(db={"outlier_detection": {"consecutive_5xx": 1}})).policy("db")

    @policy
    async def query() -> None:
        raise ConnectionError("down")

    # no HTTP integration set a host: nothing to eject, each failure reaches the caller (with
    # the key "" ejected, the second call would be refused with HostEjectedError)
    for _ in range(3):
        with pytest.raises(ConnectionError):
            await query()
    keyed = policy.circuit_breaker
    assert isinstance(keyed, KeyedBreaker) and keyed.outlier_detection is not None
    assert keyed.outlier_detection.ejected() == []
