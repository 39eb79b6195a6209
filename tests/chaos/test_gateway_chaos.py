"""The chaos experiments generated from the AI gateway's plan, run against the real gateway."""

from __future__ import annotations

import io
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from chaos import load_experiment
from chaos.runner import run_experiment
from examples.ai_gateway import demo
from planner import cli

pytestmark = pytest.mark.integration

TOKEN = "test-chaos-token"


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[str]:
    """Two model backends and the gateway (plan loaded, chaos strategies mounted) on loopback."""
    procs = demo.Processes(tmp_path)
    ports = {name: demo.free_port() for name in ("primary", "secondary", "gateway")}
    url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    py = [sys.executable, "-m"]
    try:
        started = {
            name: procs.start(
                name,
                [
                    *py,
                    "examples.ai_gateway.backend",
                    "--port",
                    str(ports[name]),
                    "--name",
                    name,
                    "--p50",
                    "0.01",
                    "--p99",
                    "0.05",
                ],
            )
            for name in ("primary", "secondary")
        }
        started["gateway"] = procs.start(
            "gateway",
            [
                *py,
                "examples.ai_gateway.gateway",
                "--port",
                str(ports["gateway"]),
                "--primary",
                url["primary"],
                "--secondary",
                url["secondary"],
                "--chaos-token",
                TOKEN,
            ],
        )
        async with aiohttp.ClientSession() as session:
            for name, proc in started.items():
                probe = "/healthz" if name == "gateway" else "/admin/behaviour"
                await demo.wait_ready(session, url[name] + probe, procs, name, proc)
        yield url["gateway"]
    finally:
        procs.stop_all()


@pytest.mark.parametrize(
    "experiment", ["fm-003-llm-primary-outage-5xx", "fm-007-llm-primary-rate-limited"]
)
async def test_generated_experiment_holds_against_the_gateway(
    gateway: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, experiment: str
) -> None:
    base = gateway
    out = tmp_path / "experiments"
    code = cli.main(
        [
            "chaos",
            "generate",
            str(demo.SPEC),
            "-o",
            str(out),
            "--url",
            f"{base}/v1/complete",
            "--admin-url",
            f"{base}/admin/chaos",
            "--metrics-url",
            f"{base}/metrics",
        ]
    )
    assert code == 0
    monkeypatch.setenv("RELIABILITY_CHAOS_TOKEN", TOKEN)
    result = await run_experiment(
        load_experiment(out / f"{experiment}.yaml"), stream=io.StringIO(), live=False
    )
    verdict = result.verdict
    assert verdict.status == "completed", verdict
    assert verdict.held, verdict
    assert verdict.rollbacks_run >= 1 and verdict.rollbacks_failed == 0
    # the faults really were injected: the chaos counter of the gateway moved
    async with aiohttp.ClientSession() as session, session.get(f"{base}/metrics") as resp:
        metrics = await resp.text()
    injected = [
        line
        for line in metrics.splitlines()
        if line.startswith("resilience_chaos_injections_total{") and 'policy="llm-primary"' in line
    ]
    assert injected and sum(float(line.rsplit(" ", 1)[1]) for line in injected) > 0
