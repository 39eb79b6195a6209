"""The Chaos Toolkit export, checked by Chaos Toolkit itself (chaostoolkit-lib): it validates, and
`chaoslib` runs it against the service with the same verdict as our runner."""

from __future__ import annotations

import asyncio
import json
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaos.ctk import to_chaostoolkit
from chaos.experiment import parse_experiment
from planner.cli import main
from tests.chaos.test_chaos_generate import POLICY, from_plan
from tests.chaos.test_chaos_runner import experiment
from tests.chaos_service import TOKEN, Service, running_service

chaoslib_experiment = pytest.importorskip(
    "chaoslib.experiment", reason="chaostoolkit-lib is a dev dependency (pip install -e .[dev])"
)


def exported(base_url: str) -> dict[str, Any]:
    return to_chaostoolkit(parse_experiment(experiment(base_url), "inline"))


def test_export_is_a_valid_chaos_toolkit_experiment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELIABILITY_CHAOS_TOKEN", TOKEN)  # chaoslib checks that secrets resolve
    data = json.loads(json.dumps(exported("http://127.0.0.1:1"), allow_nan=False))
    chaoslib_experiment.ensure_experiment_is_valid(data)


def test_export_reads_the_token_from_the_variable_named_on_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("RELIABILITY_CHAOS_TOKEN", raising=False)
    monkeypatch.setenv("STAGING_CHAOS_TOKEN", TOKEN)
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(experiment("http://127.0.0.1:1")))
    assert main(["chaos", "export", str(path), "--token-env", "STAGING_CHAOS_TOKEN"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["secrets"] == {
        "reliability": {"chaos_admin_token": {"type": "env", "key": "STAGING_CHAOS_TOKEN"}}
    }
    chaoslib_experiment.ensure_experiment_is_valid(data)


@contextmanager
def service_in_thread(mechanisms: bool) -> Iterator[Service]:
    """The service on its own loop in a thread: chaoslib must run in the main thread (signals)."""
    started: queue.Queue[Service | BaseException] = queue.Queue()
    stop = threading.Event()

    async def serve() -> None:
        try:
            async with running_service(POLICY, from_plan if mechanisms else None) as service:
                started.put(service)
                await asyncio.get_running_loop().run_in_executor(None, stop.wait)
        except BaseException as exc:  # surface start-up failures in the test
            started.put(exc)

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    got = started.get(timeout=10)
    if isinstance(got, BaseException):
        raise got
    try:
        yield got
    finally:
        stop.set()
        thread.join(timeout=10)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("mechanisms", "deviated"), [(True, False), (False, True)], ids=["held", "deviated"]
)
def test_chaos_toolkit_runs_the_export_against_the_service(
    monkeypatch: pytest.MonkeyPatch, mechanisms: bool, deviated: bool
) -> None:
    monkeypatch.setenv("RELIABILITY_CHAOS_TOKEN", TOKEN)
    with service_in_thread(mechanisms) as service:
        journal = chaoslib_experiment.run_experiment(exported(service.base_url))
        assert not service.fault.enabled  # Chaos Toolkit ran the rollback (strategy: always)
        injected = service.fault.injected
    assert journal["status"] == "completed"
    assert journal["deviated"] is deviated
    assert injected > 0  # the native http action switched the injection on
    assert [r["status"] for r in journal["rollbacks"]] == ["succeeded"]
    switch = journal["run"][1]  # after the metric baseline probe
    assert switch["activity"]["name"] == "fail-half-of-llm-primary"
    assert switch["status"] == "succeeded"
