"""`reliability postmortem --prometheus` on a scripted incident, scraped live.

The example gateway runs with the example plan (the llm-primary breaker's window and open
duration shortened so the incident fits in seconds), a real Prometheus scrapes it every second
and evaluates the generated rules every second, load flows, and the primary model is hard down
from DOWN to UP. The post-mortem's timeline must put the failures' and the fallback's start at
DOWN, and the fallback's end after UP, within one scrape and one evaluation interval; the first
failing dependency must be matched to the plan's outage failure mode and its runbook.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
import yaml

from examples.ai_gateway import demo
from planner.cli import main
from resilience.files import unseal
from tests.servers import PrometheusServer

pytestmark = pytest.mark.integration

SCRAPE = 1.0  # seconds: scrape and rule evaluation interval
OPEN_FOR = 2.0  # the shortened open duration of the llm-primary breaker
TOLERANCE = SCRAPE + SCRAPE + 0.5  # one scrape + one evaluation (+ in-flight requests)


def _plan(tmp: Path) -> Path:
    """The example plan, the llm-primary breaker sized for a test of seconds."""
    plan = yaml.safe_load(unseal(demo.PLAN.read_text()))
    breaker = plan["mechanisms"]["llm-primary"]["circuit_breaker"]
    breaker.update(minimum_calls=10, window_size=2, half_open_calls=1)
    breaker["open_duration"] = OPEN_FOR
    path = tmp / "plan.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return path


@contextlib.asynccontextmanager
async def _system(
    tmp: Path, *, mechanisms: bool = True
) -> AsyncIterator[tuple[dict[str, str], PrometheusServer]]:
    procs = demo.Processes(tmp)
    ports = {name: demo.free_port() for name in ("primary", "secondary", "gateway")}
    url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    py = [sys.executable, "-m"]
    rules = tmp / "rules.yml"
    assert main(["rules", str(demo.SPEC), "-o", str(rules)]) == 0
    config = (
        f"global:\n  scrape_interval: {SCRAPE:g}s\n  evaluation_interval: {SCRAPE:g}s\n"
        f"rule_files: [{rules}]\n"
        f"scrape_configs:\n  - job_name: gateway\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{ports['gateway']}']\n"
    )
    try:
        started = {}
        for name in ("primary", "secondary"):
            started[name] = procs.start(
                name,
                [
                    *py,
                    "examples.ai_gateway.backend",
                    "--port",
                    str(ports[name]),
                    "--name",
                    name,
                    "--p50",
                    "0.005",
                    "--p99",
                    "0.02",
                ],
            )
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
                "--plan",
                str(_plan(tmp)),
                *([] if mechanisms else ["--no-mechanisms"]),
            ],
        )
        async with aiohttp.ClientSession() as session:
            for name, proc in started.items():
                probe = "/healthz" if name == "gateway" else "/admin/behaviour"
                await demo.wait_ready(session, url[name] + probe, procs, name, proc)
        with PrometheusServer(config) as prometheus:
            yield url, prometheus
    finally:
        procs.stop_all()


async def _load(session: aiohttp.ClientSession, url: str, until: float) -> int:
    """About 40 requests a second to the gateway until `until` (wall clock)."""
    sent = itertools.count()
    while time.time() < until:
        n = next(sent)
        with contextlib.suppress(aiohttp.ClientError):
            async with session.get(f"{url}/v1/complete", params={"prompt": f"q{n}"}) as resp:
                await resp.read()
        await asyncio.sleep(0.025)
    return next(sent)


def _times(text: str, event: str) -> list[float]:
    """The timeline's times of the lines ending in `event`."""
    out = []
    for line in text.splitlines():
        found = re.match(r"- (\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ) — (.*)$", line)
        if found and found[2] == event:
            at = datetime.strptime(found[1], "%Y-%m-%d %H:%M:%SZ").replace(tzinfo=UTC)
            out.append(at.timestamp())
    return out


async def _incident(
    url: dict[str, str], prometheus: PrometheusServer, tmp: Path
) -> dict[str, float]:
    """Load, the primary down from `down` to `up`, the post-mortem of it written to tmp."""
    async with aiohttp.ClientSession() as session:
        # wait for the first scrapes, so the counters' series exist before the incident
        begin = time.time()
        await asyncio.sleep(3 * SCRAPE)
        down = time.time() + 4.0
        up = down + 6.0
        end = up + 8.0
        loader = asyncio.create_task(_load(session, url["gateway"], end))
        await asyncio.sleep(down - time.time())
        await session.post(f"{url['primary']}/admin/behaviour", json={"down": True})
        await asyncio.sleep(up - time.time())
        await session.post(f"{url['primary']}/admin/behaviour", json={"down": False})
        sent = await loader
        await asyncio.sleep(2 * SCRAPE)  # the last scrape and evaluation
    argv = ["postmortem", str(demo.SPEC), "--prometheus", prometheus.url]
    argv += ["--from", f"{begin:.0f}", "--to", f"{time.time():.0f}", "-o", str(tmp / "pm.md")]
    assert await asyncio.to_thread(main, argv) == 0  # the CLI runs its own event loop
    return {"down": down, "up": up, "sent": sent}


async def test_the_timeline_of_a_scripted_outage_matches_the_script(tmp_path: Path) -> None:
    async with _system(tmp_path) as (url, prometheus):
        script = await _incident(url, prometheus, tmp_path)
    text = (tmp_path / "pm.md").read_text()
    down, up = script["down"], script["up"]
    assert script["sent"] > 300
    # whole seconds in the report: a time is at most one second earlier than the sample
    (failing,) = _times(text, "llm-primary starts failing")
    assert down - 1 <= failing <= down + TOLERANCE, (failing - down, text)
    (fallback,) = _times(text, "fallback of llm-primary starts")
    assert down - 1 <= fallback <= down + TOLERANCE, (fallback - down, text)
    (opened,) = _times(text, "circuit breaker of llm-primary opens")
    assert down - 1 <= opened <= up, (opened - down, text)
    closed = _times(text, "circuit breaker of llm-primary closes")
    assert closed and up - 1 <= closed[-1] <= up + 2 * OPEN_FOR + TOLERANCE, (closed, text)
    (stopped,) = _times(text, "fallback of llm-primary stops")
    # after UP the breaker lets a probe through at most OPEN_FOR × 2 later (its grown open
    # duration), which closes it: the fallback stops then
    assert up - 1 - TOLERANCE <= stopped <= up + 2 * OPEN_FOR + TOLERANCE, (stopped - up, text)
    # the first failing dependency, matched to the plan's failure mode and its runbook
    assert "First dependency whose error ratio rose: llm-primary" in text
    assert "failure mode FM-003 outage-5xx" in text
    assert "Runbook: fm-003-llm-primary-outage-5xx.md" in text
    # the fallback served every request: no user saw the outage, no page, no budget spent
    assert "Failed requests: 0 of" in text
    assert "No page fired" in text
    assert "Recovered at" in text and "within the planned RTO 5m" in text
    # what the data answered is no longer asked
    assert "UTC timestamps: trigger, first alert" not in text
    assert "Users and requests affected." not in text


async def test_an_outage_users_see_pages_within_the_expected_time(tmp_path: Path) -> None:
    # the same outage behind the bare gateway (no mechanisms): users get 502s and the page fires
    async with _system(tmp_path, mechanisms=False) as (url, prometheus):
        script = await _incident(url, prometheus, tmp_path)
    text = (tmp_path / "pm.md").read_text()
    down, up = script["down"], script["up"]
    (failing,) = _times(text, "users' requests start failing")
    assert down - 1 <= failing <= down + TOLERANCE, (failing - down, text)
    (stopped,) = _times(text, "users' requests stop failing")
    assert up - 1 - TOLERANCE <= stopped <= up + TOLERANCE, (stopped - up, text)
    (paged,) = _times(text, "ErrorBudgetBurn page fires")
    # the page needs the errors scraped (one scrape) and the rules evaluated (one evaluation)
    assert failing <= paged <= failing + TOLERANCE, (paged - failing, text)
    # its 5-minute window still holds the errors at --to: said, not guessed
    assert "The page was still firing at" in text
    found = re.search(
        r"Paged at .*?, ([\d.]+)s after the first failure: within the expected 30s", text
    )
    assert found is not None, text
    # the report's seconds are the samples' own; the timeline's whole seconds are truncated
    assert abs(float(found[1]) - (paged - failing)) < 1.0, (found[1], text)
    failed = re.search(r"Failed requests: (\d+) of (\d+)", text)
    assert failed is not None and int(failed[1]) > 0, text
