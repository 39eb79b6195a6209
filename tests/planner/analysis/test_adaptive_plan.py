"""Issue 21 part 4, by value: the inbound adaptive limit, criticality shares from a spec's
`request_criticality`, and outlier detection for targets with 3+ replicas; each figure computed
here by hand from the spec, then the plan round trip (`reliability plan --format yaml` →
`load_plan`) builds mechanisms that behave as planned, in virtual time."""

from __future__ import annotations

import asyncio
import contextlib
import math
from pathlib import Path
from typing import Any

import pytest

import resilience
from planner.analysis import build_plan
from planner.analysis.mechanisms.limits import max_ejection_percent
from planner.cli import main
from planner.errors import SpecError
from planner.spec import parse_spec
from resilience.keyed import HostEjectedError, KeyedBreaker, OutlierDetector, call_key_var
from resilience.shedding import Criticality


def spec_doc(
    criticality: dict[str, float] | None = None,
    replicas: int = 6,
    min_healthy: int = 4,
    kind: str = "search",
) -> dict[str, Any]:
    web: dict[str, Any] = {
        "name": "web",
        "kind": "service",
        "entry_point": True,
        "rps": 100,
        "latency": {"p50": "50ms", "p99": "200ms"},
        "dependencies": [{"target": "search"}],
    }
    if criticality is not None:
        web["request_criticality"] = criticality
    search = {
        "name": "search",
        "kind": kind,
        "replicas": replicas,
        "min_healthy": min_healthy,
        "availability": 99.9,
        "latency": {"p50": "20ms", "p99": "100ms"},
    }
    return {"version": 1, "system": "shop", "tier": "high", "components": [web, search]}


def table(doc: dict[str, Any]) -> Any:
    return build_plan(parse_spec(doc)).mechanism_table


# By hand: L = 100 rps × 200 ms = 20 in flight (the calls: 100/s × 100 ms = 10, smaller);
# B = ⌈max(20 × 1.5, 20 + 3√20)⌉ = ⌈max(30, 33.42)⌉ = 34; the floor L / B = 20/34 = 0.588 → 0.59.
BULKHEAD = 34
FLOOR = 0.59


def test_hand_computed_bulkhead_and_floor() -> None:
    assert math.ceil(max(20 * 1.5, 20 + 3 * math.sqrt(20))) == BULKHEAD
    assert math.ceil(20 / BULKHEAD * 100) / 100 == FLOOR


def test_the_inbound_adaptive_limit_is_bounded_by_the_bulkhead() -> None:
    web = table(spec_doc())["web"]
    assert web["bulkhead"] == {"max_concurrent": BULKHEAD}
    assert web["adaptive_limiter"] == {
        "algorithm": "gradient2",
        "initial_limit": BULKHEAD,
        "min_limit": 1,
        "max_limit": BULKHEAD,
        "shares": {"default": 1.0, "sheddable": 1.0},  # no request_criticality: no classes
    }
    plan = build_plan(parse_spec(spec_doc()))
    mechanisms = {r.mechanism for r in plan.mechanisms if r.policy == "web"}
    assert "adaptive_limiter" in mechanisms and "load_shedder" not in mechanisms


@pytest.mark.parametrize(
    ("declared", "default", "sheddable"),
    [
        # c = 0.2, s = 0.3: default = max(1 − 0.2, 0.59) = 0.8; sheddable = max(0.3, 0.59) = 0.59
        ({"critical": 0.2, "sheddable": 0.3}, 0.8, FLOOR),
        # c = 0.05, s = 0.7: default = 0.95; sheddable = max(0.7, 0.59) = 0.7
        ({"critical": 0.05, "sheddable": 0.7}, 0.95, 0.7),
        # c = 0.6 (d gets the rest 0.4, s 0): default = max(0.4, 0.59) = 0.59, sheddable 0.59
        ({"critical": 0.6}, FLOOR, FLOOR),
    ],
)
def test_criticality_shares_by_hand(
    declared: dict[str, float], default: float, sheddable: float
) -> None:
    web = table(spec_doc(declared))["web"]
    assert web["adaptive_limiter"]["shares"] == {"default": default, "sheddable": sheddable}
    plan = build_plan(parse_spec(spec_doc(declared)))
    row = next(r for r in plan.mechanisms if r.mechanism == "load_shedder")
    assert row.policy == "web" and row.inbound
    assert row.figures["default_share"].value == default
    assert row.figures["sheddable_share"].value == sheddable
    assert "web.request_criticality" in row.reason and f"{FLOOR:.0%}" in row.reason


def test_undeclared_classes_get_what_the_declared_ones_leave() -> None:
    spec = parse_spec(spec_doc({"critical": 0.1, "default": 0.6}))
    declared = spec.component("web").request_criticality
    assert declared is not None
    assert declared.shares() == (0.1, 0.6, pytest.approx(0.3))
    only = parse_spec(spec_doc({"sheddable": 0.25})).component("web").request_criticality
    assert only is not None and only.shares() == (0.0, 0.75, 0.25)


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        ({"critical": 0.7, "sheddable": 0.5}, "add up to 1.2, expected at most 1"),
        ({"critical": 0.2, "default": 0.2, "sheddable": 0.2}, "three shares add up to 0.6"),
        ({}, "at least one of critical, default, sheddable"),
        ({"critical": 1.5}, "critical"),
        ({"critcal": 0.2}, "did you mean 'critical'"),
    ],
)
def test_a_bad_request_criticality_is_one_clear_message(
    declared: dict[str, float], message: str
) -> None:
    with pytest.raises(SpecError, match="request_criticality") as caught:
        parse_spec(spec_doc(declared), "s.yaml")
    assert message in str(caught.value)
    assert "Traceback" not in str(caught.value)


def test_request_criticality_needs_an_entry_point_with_rps() -> None:
    doc = spec_doc()
    doc["components"][1]["request_criticality"] = {"critical": 0.5}
    with pytest.raises(SpecError, match=r"components\[1\] \(search\): request_criticality is only"):
        parse_spec(doc, "s.yaml")


# -- outlier detection ---------------------------------------------------------------------


def test_outlier_detection_for_six_replicas_needing_four() -> None:
    detection = table(spec_doc())["search"]["outlier_detection"]
    # 100 × (6 − 4) / 6 = 33.333… rounded up to 1e-4; the rest are Envoy's documented defaults
    assert detection == {
        "consecutive_5xx": 5,
        "interval": 10.0,
        "base_ejection_time": 30.0,
        "max_ejection_time": 300.0,
        "max_ejection_percent": 33.3334,
        "success_rate_minimum_hosts": 5,
        "success_rate_request_volume": 100,
        "success_rate_stdev_factor": 1.9,
    }
    plan = build_plan(parse_spec(spec_doc()))
    row = next(r for r in plan.mechanisms if r.mechanism == "outlier_detection")
    assert row.policy == "search" and row.caller == "web"
    # a healthy host at 99.9 % fails 5 in a row with probability 0.001⁵ = 10^-15
    assert row.figures["false_ejection"].value == pytest.approx(1e-15)
    assert "100 × (6 − 4) / 6" in row.reason
    # 100/s × 10 s / 6 hosts = 167 calls per host per interval ≥ 100: the sweep acts
    assert "167 calls per host" in row.reason


@pytest.mark.parametrize(("replicas", "min_healthy"), [(2, 1), (1, 1), (3, 3), (4, 4)])
def test_no_outlier_detection_without_three_replicas_and_one_to_spare(
    replicas: int, min_healthy: int
) -> None:
    search = table(spec_doc(replicas=replicas, min_healthy=min_healthy))["search"]
    assert "outlier_detection" not in search
    plan = build_plan(parse_spec(spec_doc(replicas=replicas, min_healthy=min_healthy)))
    assert all(r.mechanism != "outlier_detection" for r in plan.mechanisms)


@pytest.mark.parametrize("kind", ["database", "cache", "queue", "external_api", "llm_api"])
def test_no_outlier_detection_where_the_client_sees_no_hosts(kind: str) -> None:
    assert "outlier_detection" not in table(spec_doc(kind=kind))["search"]


def test_three_replicas_eject_only_by_consecutive_failures() -> None:
    plan = build_plan(parse_spec(spec_doc(replicas=3, min_healthy=2)))
    row = next(r for r in plan.mechanisms if r.mechanism == "outlier_detection")
    assert plan.mechanism_table["search"]["outlier_detection"]["max_ejection_percent"] == 33.3334
    assert "with 3 only consecutive failures eject" in row.reason


@pytest.mark.parametrize("replicas", range(3, 40))
def test_the_runtime_never_ejects_below_min_healthy(replicas: int) -> None:
    """Every host failing: the detector built with the planned percent ejects exactly R − k."""
    for needed in range(1, replicas):
        detector = OutlierDetector(
            consecutive_5xx=1,
            max_ejection_percent=max_ejection_percent(replicas, needed),
            clock=lambda: 0.0,
        )
        hosts = [f"h{i}" for i in range(replicas)]
        for host in hosts:
            detector.record(host, True)
        for host in hosts:
            detector.record(host, False)
        assert len(detector.ejected()) == replicas - needed, (replicas, needed)


# -- the round trip --------------------------------------------------------------------------


def plan_file(tmp_path: Path, doc: dict[str, Any]) -> Path:
    import yaml

    spec = tmp_path / "system.yaml"
    spec.write_text(yaml.safe_dump(doc))
    out = tmp_path / "plan.yaml"
    assert main(["plan", str(spec), "--format", "yaml", "-o", str(out)]) == 0
    return out


async def test_round_trip_the_limiter_sheds_by_class_with_the_planned_numbers(
    tmp_path: Path,
) -> None:
    registry = resilience.load_plan(
        plan_file(tmp_path, spec_doc({"critical": 0.2, "sheddable": 0.3}))
    )
    web = registry.policy("web")
    limiter = web.adaptive_limiter
    assert isinstance(limiter, resilience.AdaptiveLimiter)
    assert (limiter.limit, limiter.min_limit, limiter.max_limit) == (BULKHEAD, 1, BULKHEAD)
    assert (limiter.shares.default, limiter.shares.sheddable) == (0.8, FLOOR)
    # admitted while in flight < ⌊34 × share⌋: sheddable 20, default 27, critical 34
    assert [limiter.try_acquire(Criticality.SHEDDABLE) for _ in range(21)] == [True] * 20 + [False]
    assert [limiter.try_acquire(Criticality.DEFAULT) for _ in range(8)] == [True] * 7 + [False]
    assert [limiter.try_acquire(Criticality.CRITICAL) for _ in range(8)] == [True] * 7 + [False]
    for _ in range(BULKHEAD):
        limiter.release(None)
    # through the policy: a sheddable request over its share is refused with Retry-After
    release = asyncio.Event()

    async def hold() -> None:
        async with web:
            await release.wait()

    holders = [asyncio.create_task(hold()) for _ in range(20)]
    await asyncio.sleep(0)
    with (
        resilience.shedding.criticality("sheddable"),
        pytest.raises(resilience.LimitExceededError) as refused,
    ):
        async with web:
            pass
    assert refused.value.retry_after == 1.0
    async with web:  # a default request still fits (20 < 27)
        pass
    release.set()
    await asyncio.gather(*holders)


async def test_round_trip_ejects_a_host_after_five_consecutive_failures(tmp_path: Path) -> None:
    registry = resilience.load_plan(plan_file(tmp_path, spec_doc()))
    search = registry.policy("search")
    keyed = search.circuit_breaker
    assert isinstance(keyed, KeyedBreaker)
    detector = keyed.outlier_detection
    assert isinstance(detector, OutlierDetector)
    assert (detector.consecutive_5xx, detector.base_ejection_time) == (5, 30.0)
    assert (detector.max_ejection_percent, detector.interval) == (33.3334, 10.0)

    attempts: dict[str, int] = {}

    @search
    async def request(host: str, ok: bool) -> str:
        attempts[host] = attempts.get(host, 0) + 1
        if not ok:
            raise ConnectionError(f"{host} failed")
        return host

    async def call(host: str, ok: bool) -> str:
        token = call_key_var.set(host)  # what the aiohttp / httpx integrations set
        try:
            return await request(host, ok)
        finally:
            call_key_var.reset(token)

    for host in ("h0", "h1", "h2", "h3", "h4", "h5"):
        assert await call(host, True) == host
    with pytest.raises(HostEjectedError) as ejected:
        for _ in range(5):  # each call may retry (the plan retries search): count attempts
            with contextlib.suppress(ConnectionError):
                await call("h1", False)
    assert attempts["h1"] == 1 + 5  # the healthy call, then 5 failures in a row: ejected
    assert 0 < (ejected.value.retry_after or 0) <= 30
    assert await call("h2", True) == "h2"  # the others keep serving
    assert detector.ejected() == ["h1"]
    with pytest.raises(HostEjectedError):
        await call("h1", True)
    assert attempts["h1"] == 6  # refused without reaching the host
    await asyncio.sleep(30)  # virtual time: the base ejection time passes
    assert await call("h1", True) == "h1"
