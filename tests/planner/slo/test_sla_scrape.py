"""`reliability sla --metrics-url`: since-start availability from one scrape of a live /metrics."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from exporters.aiohttp import setup
from planner.cli import main
from planner.errors import PlannerError, UpstreamError
from planner.slo.definition import definitions_from_spec
from planner.slo.scrape import measure_scrape, parse_exposition, section_from_scrape
from planner.spec import parse_spec
from tests.servers import free_port

SPEC = {
    "version": 1,
    "system": "shop",
    "tier": "standard",
    "components": [{"name": "gateway", "kind": "service", "entry_point": True}],
}


async def _chat(request: web.Request) -> web.Response:
    if request.query.get("fail"):
        raise web.HTTPInternalServerError()
    return web.Response(text="ok")


@pytest.fixture
async def service() -> AsyncIterator[str]:
    """An aiohttp service with the exporters' SLI middleware and /metrics on loopback."""
    app = web.Application()
    app.router.add_post("/v1/chat", _chat)
    setup(app, registry=CollectorRegistry())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.mark.integration
async def test_since_start_availability_from_a_live_service(service: str) -> None:
    async with aiohttp.ClientSession() as session:
        for i in range(40):
            params = {"fail": "1"} if i % 6 == 0 else {}  # 7 of 40 fail
            async with session.post(f"{service}/v1/chat", params=params) as resp:
                await resp.read()
    # the spec declares no SLO: the default SLI (5xx of the entry point's requests)
    (slo,) = definitions_from_spec(parse_spec(SPEC))
    (section,) = await measure_scrape([slo], f"{service}/metrics")
    (row,) = section.rows
    assert row.actual is not None and row.budget_used is not None
    assert row.actual.value == pytest.approx(100 * (1 - 7 / 40))
    assert row.actual.inputs["bad"] == 7 and row.actual.inputs["total"] == 40
    assert row.status == "Breached"  # 82.5 % against 99.9 %
    assert row.budget_used.value == pytest.approx(17.5 / 0.1 * 100)


@pytest.mark.integration
async def test_cli_metrics_url_no_data_then_check_fails(
    service: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "system.yaml"
    spec.write_text(json.dumps(SPEC))
    argv = ["sla", str(spec), "--metrics-url", f"{service}/metrics", "--check"]
    # The CLI runs its own event loop: call it from a thread while this loop serves requests.
    # no traffic yet: no data, never 100 %, and --check fails (a silent SLI never passes a gate)
    assert await asyncio.to_thread(main, argv) == 1
    out, err = capsys.readouterr()
    assert "Since start" in out and "No data" in out and "100%" not in out
    assert err.count("\n") == 1 and "check failed" in err and "no data in since start" in err
    async with aiohttp.ClientSession() as session:
        for params in ({}, {"fail": "1"}):
            async with session.post(f"{service}/v1/chat", params=params) as resp:
                await resp.read()
    assert await asyncio.to_thread(main, argv) == 1  # 50 % against 99.9 %: breached
    assert "Breached" in capsys.readouterr().out


@pytest.mark.integration
def test_cli_unreachable_metrics_url_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "system.yaml"
    spec.write_text(json.dumps(SPEC))
    url = f"http://127.0.0.1:{free_port()}/metrics"
    assert main(["sla", str(spec), "--metrics-url", url]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unreachable" in err and url in err


def test_scrape_of_nothing_is_no_data() -> None:
    (slo,) = definitions_from_spec(parse_spec(SPEC))
    section = section_from_scrape(slo, parse_exposition("", "x"), "x", now=0)
    (row,) = section.rows
    assert row.status == "No data" and row.actual is None


def test_job_and_instance_matchers_are_ignored_other_labels_are_not() -> None:
    text = (
        "# TYPE http_server_request_duration_seconds histogram\n"
        'http_server_request_duration_seconds_bucket{http_request_method="GET",http_route="/",'
        'http_response_status_code="200",le="+Inf"} 90\n'
        'http_server_request_duration_seconds_count{http_request_method="GET",http_route="/",'
        'http_response_status_code="200"} 90\n'
        'http_server_request_duration_seconds_sum{http_request_method="GET",http_route="/",'
        'http_response_status_code="200"} 1\n'
        'http_server_request_duration_seconds_bucket{http_request_method="GET",http_route="/",'
        'http_response_status_code="503",le="+Inf"} 10\n'
        'http_server_request_duration_seconds_count{http_request_method="GET",http_route="/",'
        'http_response_status_code="503"} 10\n'
        'http_server_request_duration_seconds_sum{http_request_method="GET",http_route="/",'
        'http_response_status_code="503"} 1\n'
    )
    (slo,) = definitions_from_spec(parse_spec(SPEC))
    (row,) = section_from_scrape(slo, parse_exposition(text, "x"), "x", now=0).rows
    assert row.actual is not None and row.actual.value == pytest.approx(90.0)


def test_probe_slis_need_prometheus() -> None:
    spec = {**SPEC, "slos": [{"name": "up", "sli": {"probe": 'probe_success{job="x"}'}}]}
    (slo,) = definitions_from_spec(parse_spec(spec))
    with pytest.raises(PlannerError, match="probe"):
        section_from_scrape(slo, [], "x", now=0)


def test_garbage_is_not_an_exposition() -> None:
    with pytest.raises(UpstreamError, match="not a Prometheus text exposition"):
        parse_exposition("this is { not metrics", "http://x/metrics")
