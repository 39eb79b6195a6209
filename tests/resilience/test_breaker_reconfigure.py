"""CircuitBreaker.reconfigure: new settings on a live breaker, which keeps its state and window."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml

from resilience import CircuitBreaker, ConfigError, PlanError, load_plan
from tests.resilience.test_breaker import Boom, make, run


async def test_a_lower_threshold_judges_the_window_already_recorded() -> None:
    breaker, call = make(minimum_calls=4, window_size=10, failure_rate_threshold=0.5)
    await run(call, "ok", "ok", "ok", "fail")
    breaker.reconfigure(failure_rate_threshold=0.3)
    assert breaker.state == "closed" and breaker.window_counts() == (4, 1, 0)  # window kept
    await run(call, "fail")  # 2 of 5 = 0.4: under the old 0.5, over the new 0.3
    assert breaker.state == "open"
    assert breaker.failure_rate_threshold == 0.3


async def test_a_lower_minimum_calls_applies_to_the_next_outcome() -> None:
    breaker, call = make(minimum_calls=10, window_size=10)
    await run(call, "fail", "fail")
    assert breaker.failure_rate is None  # 2 calls < 10
    breaker.reconfigure(minimum_calls=2)
    assert breaker.failure_rate == 1.0  # the readout follows at once
    assert breaker.state == "closed"  # judged on the next outcome, as resilience4j does
    await run(call, "fail")
    assert breaker.state == "open"


async def test_an_open_breaker_stays_open_and_a_new_open_duration_waits_for_the_next_open() -> None:
    breaker, call = make(minimum_calls=1, window_size=1, open_duration=10, half_open_calls=1)
    await run(call, "fail")
    breaker.reconfigure(open_duration=2)
    assert breaker.state == "open"
    await asyncio.sleep(5)
    assert await run(call, "ok") == ["rejected"]  # the open that started keeps its 10 s
    await asyncio.sleep(5)
    assert await run(call, "fail") == ["Boom"]  # the probe fails: open again, now for 2 s
    await asyncio.sleep(2)
    assert await run(call, "ok") == ["ok"]
    assert breaker.state == "closed"


async def test_new_half_open_calls_apply_from_the_next_half_open_period() -> None:
    breaker, call = make(minimum_calls=10, window_size=2, half_open_calls=2, open_duration=1)
    await run(call, "fail", "fail")
    await asyncio.sleep(1)
    gate = asyncio.Event()

    @breaker
    async def held() -> str:
        await gate.wait()
        raise Boom

    probes = [asyncio.ensure_future(held()) for _ in range(2)]
    await asyncio.sleep(0)
    assert breaker.state == "half_open"
    breaker.reconfigure(half_open_calls=3)
    assert await run(call, "ok") == ["rejected"]  # this half-open period admits its 2 probes
    gate.set()
    assert [type(e) for e in await asyncio.gather(*probes, return_exceptions=True)] == [Boom] * 2
    assert breaker.state == "open"
    await asyncio.sleep(1)
    gate.clear()
    probes = [asyncio.ensure_future(held()) for _ in range(3)]
    await asyncio.sleep(0)
    assert await run(call, "ok") == ["rejected"]  # the next one admits 3, not 2 and not 4
    gate.set()
    await asyncio.gather(*probes, return_exceptions=True)
    assert breaker.window_counts() == (3, 3, 0)  # all three probes were judged


async def test_ignore_on_and_record_on_change_how_outcomes_count() -> None:
    breaker, call = make(minimum_calls=100, window_size=100)
    await run(call, "fail")
    assert breaker.window_counts() == (1, 1, 0)
    breaker.reconfigure(ignore_on=Boom)
    await run(call, "fail")
    assert breaker.window_counts() == (1, 1, 0)  # ignored now
    breaker.reconfigure(ignore_on=(), record_on=(KeyError,))
    await run(call, "fail", "ok")
    assert breaker.window_counts() == (3, 1, 0)  # Boom is outside record_on: a success


def test_bad_settings_change_nothing_and_say_which() -> None:
    breaker = CircuitBreaker("dep", failure_rate_threshold=0.5, minimum_calls=5)
    before = breaker.describe()
    with pytest.raises(ConfigError, match=r"CircuitBreaker\.minimum_calls: expected an integer"):
        breaker.reconfigure(failure_rate_threshold=0.2, minimum_calls=0)
    with pytest.raises(ConfigError, match=r"cannot change name on a live breaker"):
        breaker.reconfigure(name="other")  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match=r"window_type: expected 'count' or 'time'"):
        breaker.reconfigure(window_size=5, window_type="sliding")  # type: ignore[typeddict-item]
    with pytest.raises(ConfigError, match=r"failure_if_result: expected a callable or None"):
        breaker.reconfigure(failure_if_result="yes")  # type: ignore[arg-type]
    assert breaker.describe() == before


def test_describe_shows_the_new_settings() -> None:
    breaker = CircuitBreaker("dep")
    breaker.reconfigure(slow_call_duration=2.5, max_wait_in_half_open=30)
    assert "slow_call_duration=2.5" in breaker.describe()
    assert "max_wait_in_half_open=30" in breaker.describe()
    assert breaker.slow_call_duration == 2.5 and breaker.max_wait_in_half_open == 30.0


# ------------------------------------------------------------------------------ plan reloads


def _write(path: Path, **mechanisms: Any) -> Path:
    path.write_text(yaml.safe_dump({"version": 1, "system": "s", "mechanisms": mechanisms}))
    return path


async def test_a_reload_that_fails_elsewhere_leaves_a_kept_breaker_as_it_was(
    tmp_path: Path,
) -> None:
    breaker_section = {"minimum_calls": 5, "failure_rate_threshold": 0.5}
    path = _write(tmp_path / "plan.yaml", db={"circuit_breaker": breaker_section}, llm={})
    plan = load_plan(path)
    db, _llm = plan.policy("db"), plan.policy("llm")
    breaker = db.circuit_breaker
    assert isinstance(breaker, CircuitBreaker)
    bad = _write(
        tmp_path / "bad.yaml",
        db={"circuit_breaker": {**breaker_section, "failure_rate_threshold": 0.1}},
        llm={"retry": {"max_attempts": 0}},
    )
    with pytest.raises(PlanError, match=r"mechanisms\.llm\.retry\.max_attempts"):
        plan.reload(bad)
    assert breaker.failure_rate_threshold == 0.5


async def test_a_setting_left_out_on_reload_goes_back_to_its_default(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "plan.yaml",
        db={"circuit_breaker": {"failure_rate_threshold": 0.9, "half_open_calls": 2}},
    )
    plan = load_plan(path)
    db = plan.policy("db")
    breaker = db.circuit_breaker
    plan.reload(_write(path, db={"circuit_breaker": {"half_open_calls": 4}}))
    assert db.circuit_breaker is breaker and isinstance(
        breaker, CircuitBreaker
    )  # half_open_calls: kept
    assert breaker.failure_rate_threshold == CircuitBreaker("x").failure_rate_threshold
    assert breaker.half_open_calls == 4


async def test_a_new_window_size_keeps_the_most_recent_outcomes() -> None:
    breaker, call = make(minimum_calls=4, window_size=10, failure_rate_threshold=0.9)
    await run(call, "fail", "fail", "ok", "ok", "fail", "ok", "fail")
    assert breaker.window_counts() == (7, 4, 0)
    breaker.reconfigure(window_size=4)  # the last four: ok, fail, ok, fail
    assert (breaker.window_size, breaker.window_counts()) == (4, (4, 2, 0))
    await run(call, "fail", "fail")  # the window now ends ok, fail, fail, fail: 3/4 < 0.9
    assert breaker.state == "closed" and breaker.failure_rate == 0.75
    breaker.reset()
    await run(call, "ok", "ok", "fail")
    breaker.reconfigure(window_size=20)
    assert breaker.window_counts() == (3, 1, 0)  # all kept, room for more
    await run(call, *["ok"] * 17)
    assert breaker.window_counts() == (20, 1, 0)
    await run(call, "ok", "ok", "ok")
    assert breaker.window_counts() == (20, 0, 0)  # the three kept outcomes were the oldest


async def test_a_time_window_resized_keeps_the_last_seconds() -> None:
    breaker, call = make(minimum_calls=100, window_type="time", window_size=10)
    for outcome in ("fail", "ok", "fail", "ok", "ok"):  # one call per second at t = 0..4
        await run(call, outcome)
        await asyncio.sleep(1)
    assert breaker.window_counts() == (5, 2, 0)
    breaker.reconfigure(window_size=3)  # seconds 2, 3, 4 of the clock (now is 5: 3, 4, 5)
    assert breaker.window_counts() == (2, 0, 0)
    breaker.reconfigure(window_size=30)
    assert breaker.window_counts() == (2, 0, 0)


async def test_another_window_type_starts_empty_and_keeps_the_state() -> None:
    breaker, call = make(minimum_calls=2, window_size=2, open_duration=10)
    await run(call, "fail", "fail")
    assert breaker.state == "open"
    breaker.reconfigure(window_type="time", window_size=60)
    assert breaker.state == "open" and breaker.window_type == "time"
    await asyncio.sleep(10)
    assert await run(call, "ok", "ok") == ["ok", "ok"]  # half-open probes, then closed
    assert breaker.state == "closed" and breaker.window_counts() == (0, 0, 0)
