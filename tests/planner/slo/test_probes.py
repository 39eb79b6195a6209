"""`reliability probes`: a real prometheus-blackbox-exporter runs the generated modules against a
loopback aiohttp service, Prometheus accepts the scrape config, promtool the probe SLO's rules."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web

from exporters.aiohttp import setup
from planner import cli
from tests.servers import free_port, require_binary

SPEC = """\
version: 1
system: shop
tier: standard
components:
  - name: api
    kind: service
    entry_point: true
    replicas: 2
    availability: 99.95
    latency: {p50: 50ms, p99: 200ms}
    rps: 10
    latency_budget: 500ms
    probe: {url: "http://127.0.0.1:PORT", routes: [/v1/items, /v1/broken]}
"""


def _generate(tmp_path: Path, port: int, *extra: str) -> dict[str, Any]:
    spec = tmp_path / "system.yaml"
    spec.write_text(SPEC.replace("PORT", str(port)))
    out = tmp_path / "out"
    out.mkdir()
    assert cli.main(["probes", str(spec), "-o", str(out), *extra]) == 0
    return {p.name: p.read_text() for p in out.iterdir()}


def test_probes_writes_modules_jobs_and_a_probe_slo(tmp_path: Path) -> None:
    files = _generate(tmp_path, 8080, "--blackbox-address", "blackbox:9115")
    modules = yaml.safe_load(files["blackbox.yml"])["modules"]
    assert sorted(modules) == ["health", "readiness", "route_api"]
    assert modules["route_api"]["timeout"] == "0.5s"  # api's p99 critical threshold (its budget)
    assert modules["health"]["timeout"] == "5s"
    (job,) = yaml.safe_load(files["prometheus-probes.yml"])["scrape_configs"]
    assert job["job_name"] == "probe-api" and job["metrics_path"] == "/probe"
    assert [
        (g["labels"]["probe"], g["labels"]["__param_module"], g["targets"])
        for g in job["static_configs"]
    ] == [
        ("health", "health", ["http://127.0.0.1:8080/healthz"]),
        ("readiness", "readiness", ["http://127.0.0.1:8080/readyz"]),
        (
            "route",
            "route_api",
            ["http://127.0.0.1:8080/v1/items", "http://127.0.0.1:8080/v1/broken"],
        ),
    ]
    assert job["relabel_configs"][-1] == {
        "target_label": "__address__",
        "replacement": "blackbox:9115",
    }
    rules = yaml.safe_load(files["probe-rules.yml"])
    ratio = next(
        r for r in rules["groups"][0]["rules"] if r.get("record") == "slo:sli_error:ratio_rate5m"
    )
    assert ratio["labels"] == {"service": "shop", "slo": "probe-api"}
    assert 'probe_success{job="probe-api",probe=~"health|route"}' in ratio["expr"]


@pytest.mark.integration
def test_generated_files_pass_promtool(tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    _generate(tmp_path, 8080)
    out = tmp_path / "out"
    for args in (
        ["check", "config", "prometheus-probes.yml"],
        ["check", "rules", "probe-rules.yml"],
    ):
        result = subprocess.run(
            [promtool, *args], cwd=out, capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def blackbox(tmp_path: Path) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """A blackbox exporter on loopback with the modules generated for a service on `service`."""
    binary = require_binary("prometheus-blackbox-exporter")
    service, port = free_port(), free_port()
    files = _generate(tmp_path, service)
    config = tmp_path / "out" / "blackbox.yml"
    log = open(tmp_path / "blackbox.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [binary, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield service, port, yaml.safe_load(files["prometheus-probes.yml"])
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def _success(text: str) -> float:
    (line,) = [ln for ln in text.splitlines() if ln.startswith("probe_success ")]
    return float(line.split()[1])


@pytest.mark.integration
async def test_a_real_blackbox_exporter_probes_the_service(
    blackbox: tuple[int, int, dict[str, Any]],
) -> None:
    service, port, scrape = blackbox

    async def items(request: web.Request) -> web.Response:
        return web.json_response({"items": []})

    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=500)

    app = web.Application()
    setup(app)
    app.router.add_get("/v1/items", items)
    app.router.add_get("/v1/broken", broken)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", service).start()
    results: dict[str, float] = {}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            for _ in range(100):  # the exporter is up within a few seconds
                try:
                    async with session.get(f"http://127.0.0.1:{port}/-/healthy") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.05)
            # what Prometheus does with the generated job: /probe?module=…&target=… per target
            (job,) = scrape["scrape_configs"]
            for group in job["static_configs"]:
                module = group["labels"]["__param_module"]
                for target in group["targets"]:
                    params = {"module": module, "target": target}
                    async with session.get(f"http://127.0.0.1:{port}/probe", params=params) as resp:
                        assert resp.status == 200
                        results[target.rsplit("/", 1)[-1]] = _success(await resp.text())
    finally:
        await runner.cleanup()
    assert results == {"healthz": 1.0, "readyz": 1.0, "items": 1.0, "broken": 0.0}


def test_bad_probe_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "system.yaml"
    spec.write_text(SPEC.replace("http://127.0.0.1:PORT", "file:///etc/passwd"))
    assert cli.main(["probes", str(spec)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "components[0] (api).probe.url: " in err
    spec.write_text(SPEC.replace("PORT", "8080").replace("/v1/items", "v1/items"))
    assert cli.main(["probes", str(spec)]) == 2
    assert "expected a path starting with /" in capsys.readouterr().err
    spec.write_text(SPEC.replace("PORT", "8080"))
    assert cli.main(["probes", str(spec), "--blackbox-address", "no port"]) == 2
    assert capsys.readouterr().err == (
        "reliability: error: --blackbox-address: expected HOST:PORT, got 'no port'\n"
    )
    no_probe = "\n".join(line for line in SPEC.splitlines() if "probe:" not in line)
    spec.write_text(no_probe)
    assert cli.main(["probes", str(spec)]) == 2
    assert (
        "no entry point has a probe (add probe: {url: http://host:port, routes: [/path]} to an"
        " entry point)\n"
    ) in capsys.readouterr().err
