"""plan.reload: atomic swap under the same handles; state kept where it can be; all or nothing."""

from __future__ import annotations

import asyncio
import contextlib
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from resilience import (
    AttemptTimeoutError,
    CallFinished,
    CircuitBreaker,
    CircuitOpenError,
    ConfigError,
    PlanError,
    RateLimitedError,
    Retry,
    add_hook,
    load_plan,
    remove_hook,
)
from resilience.events import Event, PolicyInfo, StateChanged


def _write(path: Path, **mechanisms: Any) -> Path:
    path.write_text(yaml.safe_dump({"version": 1, "system": "s", "mechanisms": mechanisms}))
    return path


@pytest.fixture
def events() -> Any:
    seen: list[Event] = []
    add_hook(seen.append)
    yield seen
    remove_hook(seen.append)


async def test_new_calls_use_the_new_configuration_under_the_same_handle(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "plan.yaml", llm={"retry": {"max_attempts": 2, "wait": {"kind": "none"}}}
    )
    plan = load_plan(path)
    llm = plan.policy("llm")
    attempts = 0

    @llm
    async def flaky() -> None:
        nonlocal attempts
        attempts += 1
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        await flaky()
    assert attempts == 2
    _write(path, llm={"retry": {"max_attempts": 5, "wait": {"kind": "none"}}})
    plan.reload()  # re-reads the file it came from
    assert plan.policy("llm") is llm
    attempts = 0
    with pytest.raises(ConnectionError):
        await flaky()  # decorated before the reload, runs under the new plan
    assert attempts == 5
    assert isinstance(llm.retry, Retry) and llm.retry.max_attempts == 5


async def test_in_flight_calls_finish_under_the_configuration_they_started_with(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path / "plan.yaml", llm={"timeout": "2s"})
    plan = load_plan(path)

    @plan.policy("llm")
    async def slow() -> str:
        await asyncio.sleep(1.5)
        return "done"

    in_flight = asyncio.ensure_future(slow())
    await asyncio.sleep(0.5)
    plan.reload(_write(tmp_path / "tighter.yaml", llm={"timeout": "1s"}))
    assert await in_flight == "done"  # started under the 2s timeout
    with pytest.raises(AttemptTimeoutError):
        await slow()  # a new call gets the 1s timeout


async def test_breaker_state_survives_when_its_window_is_unchanged(tmp_path: Path) -> None:
    window = {"minimum_calls": 2, "window_size": 4}
    path = _write(tmp_path / "plan.yaml", db={"circuit_breaker": {**window, "open_duration": 60}})
    plan = load_plan(path)
    db = plan.policy("db")
    breaker = db.circuit_breaker
    assert isinstance(breaker, CircuitBreaker)

    @db
    async def query() -> None:
        raise ConnectionError("down")

    for _ in range(2):
        with pytest.raises(ConnectionError):
            await query()
    assert breaker.state == "open"

    plan.reload(
        _write(
            path,
            db={"circuit_breaker": {**window, "open_duration": 5, "failure_rate_threshold": 0.9}},
        )
    )
    assert db.circuit_breaker is breaker and breaker.state == "open"  # still open after the reload
    assert breaker.failure_rate_threshold == 0.9 and breaker.open_duration == 5
    with pytest.raises(CircuitOpenError):
        await query()

    plan.reload(_write(path, db={"circuit_breaker": {"minimum_calls": 2, "window_size": 8}}))
    assert (
        db.circuit_breaker is breaker and breaker.state == "open"
    )  # a resized window: same breaker
    assert breaker.window_size == 8 and breaker.open_duration == 60.0  # back to the default


async def test_a_resized_breaker_window_keeps_its_outcomes(tmp_path: Path) -> None:
    path = _write(tmp_path / "plan.yaml", db={"circuit_breaker": {"window_size": 10}})
    plan = load_plan(path)
    db = plan.policy("db")
    outcomes = iter([True, False, False, True, False])

    @db
    async def query() -> None:
        if next(outcomes):
            raise ConnectionError("down")

    for _ in range(5):
        with contextlib.suppress(ConnectionError):
            await query()
    breaker = db.circuit_breaker
    assert isinstance(breaker, CircuitBreaker) and breaker.window_counts() == (5, 2, 0)
    plan.reload(_write(path, db={"circuit_breaker": {"window_size": 3}}))
    assert db.circuit_breaker is breaker and breaker.window_counts() == (3, 1, 0)  # the last three


async def test_raising_a_bulkhead_under_load_never_runs_more_than_the_new_limit(
    tmp_path: Path,
) -> None:
    # 4 → 5 while 4 run and 6 wait: 5 at once, not 9 (the old bulkhead's 4 + a fresh one's 5).
    path = _write(tmp_path / "plan.yaml", llm={"bulkhead": {"max_concurrent": 4, "max_wait": 60}})
    plan = load_plan(path)
    llm = plan.policy("llm")
    running = peak = 0

    @llm
    async def complete() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(1)
        running -= 1

    calls = [asyncio.ensure_future(complete()) for _ in range(10)]
    await asyncio.sleep(0.5)
    before = llm.bulkhead
    plan.reload(_write(path, llm={"bulkhead": {"max_concurrent": 5, "max_wait": 60}}))
    later = [asyncio.ensure_future(complete()) for _ in range(10)]
    await asyncio.gather(*calls, *later)
    assert peak == 5
    assert llm.bulkhead is before and before.capacity == 5  # type: ignore[union-attr]


async def test_raising_a_rate_limit_does_not_refill_the_bucket(tmp_path: Path) -> None:
    # 10/s → 11/s right after the burst was spent: 0 more calls pass at once, not 11.
    path = _write(tmp_path / "plan.yaml", api={"rate_limiter": {"rate_per_second": 10}})
    plan = load_plan(path)
    api = plan.policy("api")
    passed = 0

    @api
    async def call() -> None:
        nonlocal passed
        passed += 1

    async def burst() -> None:
        for _ in range(25):
            with contextlib.suppress(RateLimitedError):
                await call()

    await burst()
    assert passed == 10
    plan.reload(_write(path, api={"rate_limiter": {"rate_per_second": 11}}))
    await burst()
    assert passed == 10  # 10 + 11 = 21 in 0 s if the reload had refilled the bucket
    await asyncio.sleep(1)
    await burst()
    assert passed == 21  # the new rate and burst from now on


async def test_a_hedge_keeps_its_latency_samples_and_a_retry_its_budget(tmp_path: Path) -> None:
    hedge = {"delay": "p50", "min_samples": 3}
    budget = {"ratio": 0.1, "min_per_second": 0.1, "ttl": 10}
    path = _write(
        tmp_path / "plan.yaml",
        llm={
            "hedge": hedge,
            "retry": {"max_attempts": 2, "wait": {"kind": "none"}, "budget": budget},
        },
    )
    plan = load_plan(path)
    llm = plan.policy("llm")

    @llm
    async def complete() -> None:
        await asyncio.sleep(0.2)

    for _ in range(3):
        await complete()
    retry = llm.retry
    assert isinstance(retry, Retry) and retry.budget is not None
    assert llm.hedge.current_delay() == pytest.approx(0.2)  # type: ignore[union-attr]
    plan.reload(
        _write(
            path,
            llm={
                "hedge": {**hedge, "max_hedges": 2},
                "retry": {"max_attempts": 3, "wait": {"kind": "none"}, "budget": budget},
            },
        )
    )
    assert llm.hedge.max_hedges == 2  # type: ignore[union-attr]
    assert llm.hedge.current_delay() == pytest.approx(0.2)  # type: ignore[union-attr]
    assert isinstance(llm.retry, Retry) and llm.retry.max_attempts == 3
    assert llm.retry.budget is retry.budget and retry.budget.calls == 3


async def test_unchanged_mechanisms_keep_their_state(tmp_path: Path) -> None:
    limiter = {"rate_per_second": 1, "burst": 2}
    path = _write(tmp_path / "plan.yaml", api={"rate_limiter": limiter, "timeout": 1})
    plan = load_plan(path)
    api = plan.policy("api")
    before = api.rate_limiter
    plan.reload(_write(path, api={"rate_limiter": limiter, "timeout": 2}))
    assert api.rate_limiter is before  # same tokens, not a fresh full bucket


async def test_a_bad_file_leaves_the_old_configuration_and_says_why(tmp_path: Path) -> None:
    path = _write(tmp_path / "plan.yaml", llm={"retry": {"max_attempts": 3}}, db={})
    plan = load_plan(path)
    llm = plan.policy("llm")
    layers = llm.layers
    bad = _write(tmp_path / "bad.yaml", llm={"retry": {"max_attempts": 0}}, db={})
    with pytest.raises(PlanError, match=rf"{bad}: mechanisms\.llm\.retry\.max_attempts: expected"):
        plan.reload(bad)
    assert llm.layers is layers and plan.source == str(path)
    # A half-good plan changes nothing either: db would be valid, llm is not.
    with pytest.raises(PlanError):
        plan.reload(_write(tmp_path / "half.yaml", llm={"hedge": {"max_hedges": 2}}, db={}))
    assert llm.layers is layers
    with pytest.raises(PlanError, match=r"mechanisms\.llm: missing, but the policy is in use"):
        plan.reload(_write(tmp_path / "gone.yaml", db={}))
    assert plan.names() == ["db", "llm"]


def test_reloading_a_plan_given_as_a_mapping_needs_a_source() -> None:
    plan = load_plan({"version": 1, "system": "s", "mechanisms": {"a": {}}})
    with pytest.raises(ConfigError, match="came from a mapping"):
        plan.reload()
    plan.reload({"version": 1, "system": "s", "mechanisms": {"a": {"timeout": 1}, "b": {}}})
    assert plan.names() == ["a", "b"]


async def test_hooks_stay_bound_and_see_each_event_once(
    tmp_path: Path, events: list[Event]
) -> None:
    infos: list[PolicyInfo] = []

    class Binding:
        def bind(self, policy: PolicyInfo) -> Any:
            infos.append(policy)
            return None

    path = _write(tmp_path / "plan.yaml", db={"timeout": 1})
    plan = load_plan(path)
    db = plan.policy("db")
    hook = Binding()
    add_hook(hook)
    try:
        plan.reload(
            _write(
                path,
                db={"circuit_breaker": {"minimum_calls": 1, "window_size": 1}, "timeout": None},
            )
        )
        plan.reload(
            _write(
                path, db={"circuit_breaker": {"minimum_calls": 1, "window_size": 1}, "timeout": 2}
            )
        )
    finally:
        remove_hook(hook)
    # Reloads do not pile up emitters on a kept breaker: it reports to the policy's one emitter.
    assert db.circuit_breaker is not None and db.circuit_breaker._emitters == (db.emitter,)  # type: ignore[attr-defined]
    # The hook re-bound with the live configuration: the breaker is now listed, its state readable.
    assert infos[-1].mechanisms == ("circuit_breaker", "timeout")
    assert infos[-1].breaker_state is not None and infos[-1].breaker_state() == "closed"

    @db
    async def down() -> None:
        raise ConnectionError

    with pytest.raises(ConnectionError):
        await down()
    assert [e for e in events if isinstance(e, StateChanged)] == [
        StateChanged("db", "closed", "open")
    ]
    assert len([e for e in events if isinstance(e, CallFinished)]) == 1


PLANS: list[dict[str, Any]] = [
    {
        "retry": {"max_attempts": 3, "wait": {"kind": "fixed", "wait": "10ms"}},
        "timeout": "500ms",
        "bulkhead": {"max_concurrent": 150, "max_wait": "5s"},
        "circuit_breaker": {"minimum_calls": 50, "failure_rate_threshold": 0.9},
        "rate_limiter": {"rate_per_second": 100000, "burst": 1000, "max_wait": 1},
        "deadline": None,  # a reload drops a mechanism in use only when told to
        "hedge": None,
    },
    {
        "retry": {"max_attempts": 4, "wait": {"kind": "none"}},
        "timeout": "400ms",
        "deadline": "10s",
        "bulkhead": {"max_concurrent": 120, "max_wait": "5s"},
        "circuit_breaker": {"minimum_calls": 50, "failure_rate_threshold": 0.95},
        "hedge": {"delay": "300ms"},
        "rate_limiter": None,
    },
]


async def test_reload_under_concurrent_load_drops_and_fails_no_call(
    tmp_path: Path, events: list[Event]
) -> None:
    path = _write(tmp_path / "plan.yaml", api=PLANS[0])
    plan = load_plan(path)
    api = plan.policy("api")
    rng = random.Random(3)
    loop = asyncio.get_running_loop()
    stop_at = loop.time() + 10.0

    @api
    async def backend() -> int:
        await asyncio.sleep(rng.uniform(0.005, 0.05))
        if rng.random() < 0.02:
            raise ConnectionError("transient")  # retried: never reaches the caller
        return 1

    completed = 0
    failures: list[BaseException] = []

    async def worker() -> None:
        nonlocal completed
        while loop.time() < stop_at:
            try:
                result = await backend()
                completed += result  # not `completed += await ...`: that reads before awaiting
            except Exception as exc:  # collected, asserted empty below
                failures.append(exc)

    async def reloader() -> int:
        reloads = 0
        while loop.time() < stop_at:
            await asyncio.sleep(0.25)
            reloads += 1
            plan.reload(_write(path, api=PLANS[reloads % 2]))
        return reloads

    reloading = asyncio.ensure_future(reloader())
    await asyncio.gather(*(worker() for _ in range(100)))
    reloads = await reloading
    assert failures == []
    assert reloads >= 35
    assert isinstance(api.retry, Retry)
    assert api.retry.max_attempts == (3, 4)[reloads % 2]  # the last reload took effect
    # 100 workers x 10 s / ~0.03 s per call: every call accounted for, none lost on a swap.
    assert completed > 30_000
    finished = [e for e in events if isinstance(e, CallFinished)]
    assert len(finished) == completed
    assert {e.outcome for e in finished} == {"success"}


async def test_readiness_follows_a_reload_of_critical() -> None:
    import gc

    from exporters.health import Readiness

    def plan(critical: bool) -> dict[str, Any]:
        breaker = {"minimum_calls": 1, "window_size": 1}
        return {
            "version": 1,
            "system": "s",
            "mechanisms": {"db": {"critical": critical, "circuit_breaker": breaker}},
        }

    readiness = Readiness()
    add_hook(readiness)
    try:
        registry = load_plan(plan(False))
        db = registry.policy("db")

        @db
        async def down() -> None:
            raise ConnectionError

        with pytest.raises(ConnectionError):
            await down()
        assert readiness.check().ready  # open, but not critical
        registry.reload(plan(True))
        gc.collect()
        assert readiness.check().open_critical == ("db",)  # same breaker, still open, now critical
        registry.reload(plan(False))
        gc.collect()
        assert readiness.check().ready
    finally:
        remove_hook(readiness)
