"""The FastAPI example end to end: the catalog under a real uvicorn on loopback, its dependencies
(another uvicorn), a real Prometheus scraping it; the SLI counts Prometheus holds equal the
requests made, and ``reliability sla --prometheus`` reads them. Also: the committed plan, rules
and dashboard are what the CLI writes now."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from planner import cli
from tests.servers import PrometheusServer, free_port

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "fastapi_service"
SPEC = "examples/fastapi_service/system.yaml"


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("plan.yaml", ["plan", SPEC, "--format", "yaml"]),
        ("rules.yml", ["rules", SPEC]),
        ("dashboard.json", ["dashboard", SPEC]),
    ],
)
def test_committed_file_matches_the_cli(
    name: str, args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    fresh = tmp_path / name
    assert cli.main([*args, "-o", str(fresh)]) == 0
    assert (EXAMPLE / name).read_text() == fresh.read_text(), (
        f"examples/fastapi_service/{name} is stale: regenerate it with the commands in "
        "examples/fastapi_service/README.md"
    )


@contextmanager
def process(*args: str, health: str) -> Iterator[subprocess.Popen[bytes]]:
    """A Python module run as a server; yields once `health` answers 200 (at most 60 s)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("RELIABILITY_CHAOS_TOKEN", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"{args[0]} exited with {proc.returncode}: {err[-2000:]}")
            try:
                if httpx.get(health, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{args[0]} did not answer {health} within 60 s")
            time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


def query(prom: str, promql: str) -> dict[str, float]:
    body: dict[str, Any] = httpx.get(f"{prom}/api/v1/query", params={"query": promql}).json()
    assert body["status"] == "success", body
    return {
        "/".join(f"{k}={v}" for k, v in sorted(r["metric"].items())): float(r["value"][1])
        for r in body["data"]["result"]
    }


def wait_for(prom: str, promql: str, expected: dict[str, float]) -> dict[str, float]:
    """Poll until `promql` gives `expected` (at most 20 s); the last result."""
    deadline = time.monotonic() + 20
    got: dict[str, float] = {}
    while time.monotonic() < deadline:
        got = query(prom, promql)
        if got == expected:
            break
        time.sleep(0.25)
    return got


# Product pages requested: p-1..p-3 answer 200 (p-2's recommendations fail: the fallback shows
# none), p-broken's pricing always answers 503 (the page is a 502), "nope" is a 404.
WARM_UP = {"p-1": 1, "p-broken": 1, "nope": 1}
MEASURED = {"p-1": 6, "p-2": 4, "p-3": 2, "p-broken": 3, "nope": 2}
LISTS_WARM_UP, LISTS_MEASURED = 1, 3
STATUS = {"p-1": 200, "p-2": 200, "p-3": 200, "p-broken": 502, "nope": 404}
SLI = "sum by (http_route, http_response_status_code) (http_server_request_duration_seconds_count)"


def send(url: str, pages: dict[str, int], lists: int) -> None:
    with httpx.Client(base_url=url, timeout=10) as client:
        for product, n in pages.items():
            for _ in range(n):
                response = client.get(f"/products/{product}")
                assert response.status_code == STATUS[product], response.text
        for _ in range(lists):
            assert client.get("/products").json() == ["p-1", "p-2", "p-3"]


def relaxed_plan(tmp_path: Path) -> Path:
    """The committed plan with 5 s attempt timeouts: this test counts requests, and on a loaded
    test machine the plan's 120 ms pricing timeout would turn a slow attempt into a 502."""
    plan = yaml.safe_load((EXAMPLE / "plan.yaml").read_text())
    for name in ("pricing", "recommendations"):
        plan["mechanisms"][name]["timeout"] = 5.0
        plan["mechanisms"][name]["deadline"] = 20.0
    plan["mechanisms"]["catalog"]["deadline"] = 30.0
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan))
    return path


@pytest.mark.integration
def test_prometheus_counts_the_requests_made_and_sla_reads_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backend_port, port = free_port(), free_port()
    backend = f"http://127.0.0.1:{backend_port}"
    url = f"http://127.0.0.1:{port}"
    serve_backend = ("examples.fastapi_service.backend", "--port", str(backend_port))
    serve_catalog = (
        "examples.fastapi_service.service",
        "--port",
        str(port),
        "--pricing",
        backend,
        "--recommendations",
        backend,
        "--plan",
        str(relaxed_plan(tmp_path)),
    )
    config = f"""
global: {{scrape_interval: 1s, scrape_timeout: 1s}}
scrape_configs:
  - job_name: catalog
    static_configs: [{{targets: ["127.0.0.1:{port}"]}}]
"""
    with (
        process(*serve_backend, health=f"{backend}/hits"),
        process(*serve_catalog, health=f"{url}/healthz"),
    ):
        # Every series exists before Prometheus' first scrape, so increase() over the data is
        # exactly the measured requests (a series born between scrapes loses its first value).
        send(url, WARM_UP, LISTS_WARM_UP)
        with PrometheusServer(config) as prom:
            warm: dict[str, float] = {
                "http_response_status_code=200/http_route=/products": 1,
                "http_response_status_code=200/http_route=/products/{product_id}": 1,
                "http_response_status_code=404/http_route=/products/{product_id}": 1,
                "http_response_status_code=502/http_route=/products/{product_id}": 1,
            }
            assert wait_for(prom.url, SLI, warm) == warm, prom.log_tail()
            send(url, MEASURED, LISTS_MEASURED)

            def made(status: int) -> int:
                return sum(
                    n + WARM_UP.get(p, 0) for p, n in MEASURED.items() if STATUS[p] == status
                )

            want: dict[str, float] = {
                "http_response_status_code=200/http_route=/products": LISTS_WARM_UP
                + LISTS_MEASURED,
                "http_response_status_code=200/http_route=/products/{product_id}": made(200),
                "http_response_status_code=404/http_route=/products/{product_id}": made(404),
                "http_response_status_code=502/http_route=/products/{product_id}": made(502),
            }
            # Scrapes, health checks and the warm-up are all the series hold: the SLI counts
            # equal the requests made, and /metrics itself is not among them.
            assert wait_for(prom.url, SLI, want) == want, prom.log_tail()
            fallbacks = 'resilience_calls_total{policy="recommendations",outcome="fallback"}'
            assert list(query(prom.url, fallbacks).values()) == [MEASURED["p-2"]]
            retries = query(prom.url, "resilience_retries_total")
            # p-broken's pricing: 3 attempts each (2 retries); p-2's recommendations one attempt:
            # a soft dependency with a fallback is not retried (the fallback is cheaper).
            pb = MEASURED["p-broken"] + WARM_UP["p-broken"]
            assert {k.split("policy=")[1]: v for k, v in retries.items()} == {"pricing": 2 * pb}

            argv = ["sla", str(EXAMPLE / "system.yaml"), "--prometheus", prom.url]
            assert cli.main(argv) == 0
            assert "availability" in capsys.readouterr().out
            assert cli.main([*argv, "--format", "json"]) == 0
            sections = json.loads(capsys.readouterr().out)

    bad = MEASURED["p-broken"]
    total = sum(MEASURED.values()) + LISTS_MEASURED
    (section,) = sections
    rows = {r["period"]: r for r in section["rows"]}
    month = rows["This month"]["actual"]
    assert month["inputs"]["bad"] == bad and month["inputs"]["total"] == total
    assert month["value"] == pytest.approx(100 * (1 - bad / total))
