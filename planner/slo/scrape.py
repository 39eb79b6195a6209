"""Since-start availability from one scrape of a live `/metrics`: the SLA without a Prometheus.

A process's counters hold every event since it started, so one scrape gives the event-weighted
availability since start: 1 − Σerrors / Σtotal over the series the SLI selectors pick. The
selectors' `job` and `instance` matchers are ignored: Prometheus adds those labels when it
scrapes, a process does not expose them. Probe SLIs (a 0/1 gauge) have no history in one scrape
and need Prometheus.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from planner.errors import PlannerError, UpstreamError
from planner.model import Figure, SlaRow, SlaSection
from planner.slo.definition import SloDefinition
from planner.slo.prometheus import default_policy
from planner.slo.selector import Selector
from planner.urls import check_url

__all__ = ["TARGET_LABELS", "Scrape", "fetch_scrape", "measure_scrape", "section_from_scrape"]

#: Labels Prometheus attaches at scrape time; matchers on them are skipped against a raw scrape.
TARGET_LABELS = frozenset({"job", "instance"})

PERIOD_LABEL = "Since start"

Scrape = list[tuple[str, dict[str, str], float]]
"""(sample name, labels, value) for every sample of the exposition."""


def parse_exposition(text: str, source: str) -> Scrape:
    """Every sample of a Prometheus text exposition; UpstreamError when it is not one."""
    try:
        return [
            (s.name, dict(s.labels), float(s.value))
            for family in text_string_to_metric_families(text)
            for s in family.samples
        ]
    except (ValueError, TypeError, IndexError) as exc:
        raise UpstreamError(f"{source} is not a Prometheus text exposition ({exc})") from None


async def fetch_scrape(url: str) -> Scrape:
    """GET `url` once (under a resilience Policy: timeout and retries) and parse it."""
    check_url(url, "metrics URL")
    policy = default_policy()

    @policy
    async def get(session: aiohttp.ClientSession) -> str:
        # Ask for the classic text format: the parser reads it, and every exporter offers it.
        headers = {"Accept": "text/plain;version=0.0.4"}
        async with session.get(url, headers=headers) as resp:
            if resp.status != 200:
                raise UpstreamError(f"{url} answered HTTP {resp.status}, expected 200 and metrics")
            return await resp.text()

    try:
        async with aiohttp.ClientSession() as session:
            text = await get(session)
    except TimeoutError:
        raise UpstreamError(f"{url} did not answer in time") from None
    except aiohttp.ClientError as exc:
        reason = getattr(exc, "os_error", None) or exc
        raise UpstreamError(f"{url} is unreachable: {reason}") from None
    return parse_exposition(text, url)


def _sum(scrape: Scrape, selector: Selector) -> tuple[float, int]:
    matched = [
        value
        for name, labels, value in scrape
        if selector.matches(name, labels, ignore=TARGET_LABELS)
    ]
    return sum(matched), len(matched)


def section_from_scrape(
    slo: SloDefinition, scrape: Scrape, source: str, now: float | None = None
) -> SlaSection:
    """The since-start SLA section of `slo` from one parsed scrape."""
    if slo.kind == "probe":
        raise PlannerError(
            f"SLO {slo.name}: a probe SLI has no history in one scrape; use --prometheus"
        )
    assert slo.total is not None
    when = time.time() if now is None else now
    total, series = _sum(scrape, slo.total)
    notes = [
        "one scrape of /metrics: availability since the process started (job and instance"
        " matchers ignored); month, quarter and YTD need --prometheus"
    ]
    started = [v for n, _, v in scrape if n == "process_start_time_seconds"]
    since = datetime.fromtimestamp(min(started), tz=UTC).isoformat() if started else "start"
    if total <= 0:
        why = "no series match" if series == 0 else "no requests yet"
        notes.append(f"{why} {slo.total.render()}")
        row = SlaRow(PERIOD_LABEL, slo.objective, None, None, "No data", None)
        return SlaSection(
            source, _iso(when), f"{slo.service}/{slo.name}", (row,), None, {}, tuple(notes)
        )
    if slo.kind == "errors":
        assert slo.errors is not None
        bad = _sum(scrape, slo.errors)[0]
    else:
        assert slo.good is not None
        bad = max(0.0, total - _sum(scrape, slo.good)[0])
    actual = 100.0 * (1.0 - bad / total)
    used = (100.0 - actual) / (100.0 - slo.objective) * 100.0
    row = SlaRow(
        period=PERIOD_LABEL,
        target=slo.objective,
        actual=Figure(
            actual,
            "%",
            "100 × (1 − Σerrors / Σtotal) since the process started",
            {"bad": bad, "total": total, "from": since, "to": _iso(when)},
        ),
        # since start is the whole window measured, as a rolling period: used = pace
        budget_used=Figure(
            used,
            "%",
            "100 × (100 − actual) / (100 − target)",
            {"actual": actual, "target": slo.objective},
        ),
        # nothing but "now" is known about the period, so below target is below target
        status="OK" if used <= 100.0 else "Breached",
        coverage=None,
        pace=Figure(
            used,
            "%",
            "100 × (100 − actual) / (100 − target)",
            {"actual": actual, "target": slo.objective},
        ),
        measured_from=since if started else "",
    )
    return SlaSection(
        source, _iso(when), f"{slo.service}/{slo.name}", (row,), None, {}, tuple(notes)
    )


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def measure_scrape(slos: Sequence[SloDefinition], url: str) -> list[SlaSection]:
    """The since-start SLA section of every SLO from one scrape of `url`."""
    scrape = await fetch_scrape(url)
    return [section_from_scrape(slo, scrape, url) for slo in slos]
