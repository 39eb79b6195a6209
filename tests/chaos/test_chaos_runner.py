"""The experiment runner against a real aiohttp service on 127.0.0.1, and the admin endpoint."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from chaos.experiment import parse_experiment
from chaos.runner import run_experiment
from chaos.verdict import format_verdict
from resilience import CircuitBreaker, Fallback, FullJitterBackoff, Policy, Retry
from tests.chaos_service import TOKEN, running_service

pytestmark = pytest.mark.integration

POLICY = "llm-primary"


def plan_mechanisms() -> Policy:
    """The mechanisms a plan gives a hard dependency with a fallback (small waits: a test)."""
    return Policy(
        POLICY,
        retry=Retry(max_attempts=3, wait=FullJitterBackoff(initial=0.001, max=0.005)),
        circuit_breaker=CircuitBreaker(
            POLICY,
            minimum_calls=20,
            window_size=50,
            failure_rate_threshold=0.5,
            open_duration=0.2,
        ),
        fallback=Fallback(lambda failure, *a, **k: "cached answer"),
    )


def experiment(base_url: str, rate: float = 0.5) -> dict[str, Any]:
    return {
        "title": f"{POLICY} failing half of its calls is contained",
        "configuration": {"base_url": base_url, "admin_url": f"{base_url}/admin/chaos"},
        "steady-state-hypothesis": {
            "title": "the gateway's SLO holds",
            "probes": [
                {
                    "type": "probe",
                    "name": "ask-error-ratio",
                    "provider": {
                        "type": "http",
                        "url": "${base_url}/ask",
                        "requests": 150,
                        "concurrency": 10,
                    },
                    "tolerance": {"type": "range", "range": [0, 0.01], "target": "error_ratio"},
                }
            ],
        },
        "method": [
            {
                "type": "action",
                "name": "fail-half-of-llm-primary",
                "provider": {
                    "type": "injection",
                    "admin_url": "${admin_url}",
                    "policy": POLICY,
                    "fault": "fault",
                    "enabled": True,
                    "injection_rate": rate,
                },
            },
            {
                "type": "action",
                "name": "drive-load",
                "provider": {
                    "type": "load",
                    "url": "${base_url}/ask",
                    "requests": 100,
                    "concurrency": 10,
                },
            },
            {
                "type": "probe",
                "name": "fallback-served",
                "provider": {
                    "type": "metric",
                    "url": "${base_url}/metrics",
                    "name": "resilience_calls_total",
                    "labels": {"policy": POLICY, "outcome": "fallback"},
                    "mode": "increase",
                },
                "tolerance": {"type": "range", "range": [1, float("inf")]},
            },
        ],
        "rollbacks": [
            {
                "type": "action",
                "name": "stop-failing-llm-primary",
                "provider": {
                    "type": "injection",
                    "admin_url": "${admin_url}",
                    "policy": POLICY,
                    "enabled": False,
                },
            }
        ],
    }


@pytest.fixture(autouse=True)
def admin_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELIABILITY_CHAOS_TOKEN", TOKEN)


async def test_with_the_plans_mechanisms_the_hypothesis_holds_under_half_faults(
    tmp_path: Path,
) -> None:
    async with running_service(POLICY, plan_mechanisms) as service:
        exp = parse_experiment(experiment(service.base_url), "inline")
        journal_path = tmp_path / "journal.json"
        result = await run_experiment(exp, journal_path=journal_path, stream=io.StringIO())
        # Faults were injected until the breaker opened and short-circuited to the fallback.
        assert service.fault.injected >= 10
        opened = service.registry.get_sample_value(
            "resilience_circuit_breaker_transitions_total",
            {"policy": POLICY, "from_state": "closed", "to_state": "open"},
        )
        assert opened is not None and opened >= 1
        counted = service.registry.get_sample_value(
            "resilience_chaos_injections_total", {"policy": POLICY, "fault": "fault"}
        )
        assert counted == service.fault.injected  # exported for dashboards
        assert not service.fault.enabled  # rolled back
    verdict = result.verdict
    assert verdict.held, format_verdict(verdict)
    assert (verdict.held_before, verdict.held_after, verdict.deviations) == (True, True, [])
    journal = json.loads(journal_path.read_text())
    assert journal["status"] == "completed"
    assert journal["deviated"] is False
    assert journal["steady_states"]["after"]["probes"][0]["output"]["error_ratio"] <= 0.01
    assert [r["status"] for r in journal["rollbacks"]] == ["succeeded"]
    assert journal["run"][2]["output"] >= 1  # the fallback served during the fault


async def test_without_mechanisms_it_deviates_says_so_and_still_rolls_back(
    tmp_path: Path,
) -> None:
    async with running_service(POLICY, None) as service:
        exp = parse_experiment(experiment(service.base_url), "inline")
        journal_path = tmp_path / "journal.json"
        result = await run_experiment(exp, journal_path=journal_path, stream=io.StringIO())
        assert not service.fault.enabled  # rolled back even though the hypothesis failed
    verdict = result.verdict
    assert not verdict.held
    assert verdict.held_before is True and verdict.held_after is False
    after = [d for d in verdict.deviations if d.phase == "after"]
    assert len(after) == 1 and after[0].probe == "ask-error-ratio"
    assert 0.35 <= after[0].got <= 0.65  # about half the requests failed
    assert any(d.phase == "method" and d.probe == "fallback-served" for d in verdict.deviations)
    text = format_verdict(verdict)
    assert "steady state after the method: DEVIATED" in text
    assert "the hypothesis did NOT hold" in text
    assert "rollbacks: 1 run, 0 failed" in text
    journal = json.loads(journal_path.read_text())
    assert journal["deviated"] is True
    assert [r["status"] for r in journal["rollbacks"]] == ["succeeded"]


async def test_failed_action_aborts_the_method_and_rollbacks_still_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with running_service(POLICY, plan_mechanisms) as service:
        data = experiment(service.base_url)
        data["method"][0]["provider"]["policy"] = "no-such-policy"
        stream = io.StringIO()
        result = await run_experiment(parse_experiment(data, "inline"), stream=stream)
        assert not service.fault.enabled
    assert result.verdict.status == "aborted"
    assert result.verdict.held_after is None
    assert "no-such-policy" in result.verdict.failed_activities[0]
    assert result.verdict.rollbacks_run == 1
    assert "fail-half-of-llm-primary: failed" in stream.getvalue()


async def test_a_steady_state_broken_before_the_method_skips_it() -> None:
    async with running_service(POLICY, None) as service:
        service.fault.enable(1.0)  # already broken before the experiment starts
        result = await run_experiment(
            parse_experiment(experiment(service.base_url), "inline"), stream=io.StringIO()
        )
        assert not service.fault.enabled
    assert result.verdict.status == "failed"
    assert result.verdict.held_before is False
    assert result.journal["run"] == []
    assert result.verdict.rollbacks_run == 1


async def test_an_interrupted_run_still_rolls_back_and_writes_its_journal(
    tmp_path: Path,
) -> None:
    async with running_service(POLICY, plan_mechanisms) as service:
        data = experiment(service.base_url)
        data["method"][1]["pauses"] = {"before": 30}  # interrupted while the fault is on
        journal_path = tmp_path / "journal.json"
        switched = asyncio.Event()

        class Progress(io.StringIO):
            def isatty(self) -> bool:
                return True  # a terminal: the runner draws each activity as it starts

            def write(self, text: str) -> int:
                if "method action drive-load" in text:
                    switched.set()  # the switch is done; drive-load waits 30 s before it starts
                return super().write(text)

        run = asyncio.create_task(
            run_experiment(
                parse_experiment(data, "inline"),
                journal_path=journal_path,
                stream=Progress(),
                live=False,
            )
        )
        await switched.wait()
        assert service.fault.enabled
        run.cancel()  # what Ctrl-C does to asyncio.run's main task
        with pytest.raises(asyncio.CancelledError):
            await run
        assert not service.fault.enabled
    journal = json.loads(journal_path.read_text())  # strict JSON: the "inf" bound is a string
    assert journal["status"] == "interrupted"
    assert [r["status"] for r in journal["rollbacks"]] == ["succeeded"]
    assert journal["experiment"]["method"][2]["tolerance"]["range"] == [1.0, "inf"]


async def test_live_steady_state_line_and_progress_bar_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    async with running_service(POLICY, plan_mechanisms) as service:
        data = experiment(service.base_url)
        data["runtime"] = {"hypothesis_frequency": 0.05}
        # Small samples and a long enough method: a few live readings even on a slow machine.
        data["steady-state-hypothesis"]["probes"][0]["provider"]["requests"] = 20
        data["method"][1]["pauses"] = {"after": 0.5}
        stream = Tty()
        result = await run_experiment(parse_experiment(data, "inline"), stream=stream)
    out = stream.getvalue()
    assert "█" in out and "6/6" in out  # 2 steady-state probes, 3 method steps, 1 rollback
    assert "steady state: ask-error-ratio 0 ✓" in out
    assert result.journal["steady_states"]["during"]
    assert all(s["steady_state_met"] for s in result.journal["steady_states"]["during"])


async def test_admin_endpoint_refuses_without_its_token_and_changes_nothing() -> None:
    async with running_service(POLICY, None) as service, aiohttp.ClientSession() as http:
        url = f"{service.base_url}/admin/chaos"
        body = {"enabled": True, "injection_rate": 1.0}
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            async with http.post(f"{url}/{POLICY}", json=body, headers=headers) as response:
                assert response.status == 401
            async with http.get(url, headers=headers) as response:
                assert response.status == 401
        assert not service.fault.enabled
        async with http.get(f"{service.base_url}/ask") as response:
            assert response.status == 200  # chaos off by default

        auth = {"Authorization": f"Bearer {TOKEN}"}
        async with http.post(
            f"{url}/{POLICY}",
            json={"enabled": True, "fault": "latency", "latency": 0.01},
            headers=auth,
        ) as response:
            assert response.status == 200
            state = await response.json()
        assert state["injections"] == [
            {
                "fault": "latency",
                "enabled": True,
                "injection_rate": 0.001,
                "injected": 0,
                "latency": 0.01,
            }
        ]
        assert service.latency.enabled and not service.fault.enabled
        for bad in (
            {"enabled": "yes"},
            {"enabled": True, "injection_rate": 2},
            {"enabled": True, "colour": "red"},
            {"enabled": True, "fault": "fire"},
        ):
            async with http.post(f"{url}/{POLICY}", json=bad, headers=auth) as response:
                assert response.status == 400, bad
        async with http.post(f"{url}/other", json={"enabled": True}, headers=auth) as response:
            assert response.status == 404
        async with http.post(f"{url}/reset", headers=auth) as response:
            assert (await response.json())["disabled"] == 2
        assert not service.latency.enabled
