"""The Alertmanager config of `reliability rules --alertmanager`: amtool accepts it and routes
pages and tickets, and a real Alertmanager inhibits what it says it inhibits."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from planner.slo.rules import alertmanager_inhibition
from tests.servers import free_port, require_binary


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "alertmanager.yml"
    path.write_text(alertmanager_inhibition())
    return path


def _amtool(*args: str) -> subprocess.CompletedProcess[str]:
    amtool = require_binary("amtool")
    return subprocess.run([amtool, *args], capture_output=True, text=True, timeout=30, check=False)


@pytest.mark.integration
def test_amtool_accepts_the_config_and_routes_page_and_ticket(config: Path) -> None:
    checked = _amtool("check-config", str(config))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "3 inhibit rules" in checked.stdout
    for labels, receiver in (
        (["alertname=ErrorBudgetBurn", "severity=page"], "page"),
        (["alertname=ErrorBudgetBurn", "severity=ticket"], "ticket"),
        (["alertname=CircuitBreakerOpen", "severity=page", "derived=true"], "page"),
        (["alertname=CpuSaturation", "severity=warning", "derived=true"], "ticket"),
    ):
        routed = _amtool("config", "routes", "test", f"--config.file={config}", *labels)
        assert routed.stdout.strip() == receiver, labels


@pytest.fixture
def alertmanager(config: Path, tmp_path: Path) -> Iterator[str]:
    binary = require_binary("prometheus-alertmanager")
    port = free_port()
    log = open(tmp_path / "am.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def _alert(name: str, severity: str, **labels: str) -> dict[str, Any]:
    base = {"alertname": name, "service": "shop", "slo": "availability", "severity": severity}
    return {"labels": base | labels}


@pytest.mark.integration
def test_a_page_inhibits_the_ticket_and_the_derived_alerts_of_its_slo(alertmanager: str) -> None:
    derived = {"derived": "true", "target": "db"}
    alerts = [
        _alert("ErrorBudgetBurn", "page"),
        _alert("ErrorBudgetBurn", "ticket"),
        _alert("CircuitBreakerOpen", "page", **derived),
        _alert("CircuitBreakerOpen", "warning", **derived),
        _alert("ErrorBudgetBurn", "ticket", slo="latency-api"),  # another SLO: not inhibited
        _alert("CpuSaturation", "warning", slo="latency-api", derived="true", target="api"),
    ]
    request = urllib.request.Request(
        f"{alertmanager}/api/v2/alerts",
        data=json.dumps(alerts).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as resp:
        assert resp.status == 200
    inhibited: dict[tuple[str, str, str], bool] = {}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # inhibition is computed as the alerts arrive
        with urllib.request.urlopen(f"{alertmanager}/api/v2/alerts", timeout=5) as resp:
            got = json.load(resp)
        inhibited = {
            (a["labels"]["alertname"], a["labels"]["severity"], a["labels"]["slo"]): bool(
                a["status"]["inhibitedBy"]
            )
            for a in got
        }
        if (
            len(inhibited) == len(alerts)
            and inhibited[("ErrorBudgetBurn", "ticket", "availability")]
        ):
            break
        time.sleep(0.05)
    assert inhibited == {
        ("ErrorBudgetBurn", "page", "availability"): False,
        ("ErrorBudgetBurn", "ticket", "availability"): True,
        ("CircuitBreakerOpen", "page", "availability"): True,  # derived: the page says it
        ("CircuitBreakerOpen", "warning", "availability"): True,
        ("ErrorBudgetBurn", "ticket", "latency-api"): False,
        ("CpuSaturation", "warning", "latency-api"): False,
    }
