"""Which runbook each SLO alert links, from the plan's runbooks (`reliability rules`).

An SLO's two `ErrorBudgetBurn` alerts page for the failure modes whose runbook names that alert
(`Runbook.slo`, set where the runbook is written); `runbook_url` is the first of them (the plan
lists failure modes highest priority first) under the base URL where the files of `reliability
runbook -o DIR` are served, and `failure_modes` lists all their IDs.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from planner.errors import PlannerError
from planner.model import Runbook
from planner.render.runbooks import runbook_names
from planner.slo.definition import SloDefinition
from planner.slo.rules import AlertLinks

__all__ = ["alert_links", "check_base_url"]


def check_base_url(text: str, where: str = "--runbook-base-url") -> str:
    """`text` as a base URL ending in `/`: an http(s) URL with a host, or a relative path."""
    if not text or any(ch.isspace() or ord(ch) < 32 for ch in text):
        raise PlannerError(f"{where}: expected a URL or a path without spaces, got {text!r}")
    try:
        parts = urlsplit(text)
    except ValueError:
        raise PlannerError(f"{where}: invalid URL {text!r}") from None
    if parts.scheme and (parts.scheme not in ("http", "https") or not parts.hostname):
        raise PlannerError(
            f"{where}: invalid URL {text!r}: expected http(s)://host/path or a relative path"
        )
    return text if text.endswith("/") else text + "/"


def alert_links(
    runbooks: tuple[Runbook, ...], slos: Sequence[SloDefinition], base_url: str
) -> dict[tuple[str, str], AlertLinks]:
    """(service, SLO) → the runbook its alerts open and the failure-mode IDs they page for."""
    names = dict(zip((r.failure_mode_id for r in runbooks), runbook_names(runbooks), strict=True))
    by_slo: dict[str | None, list[Runbook]] = {}  # indexed once: a search per SLO was quadratic
    for r in runbooks:
        by_slo.setdefault(r.slo, []).append(r)
    out: dict[tuple[str, str], AlertLinks] = {}
    for slo in slos:
        covered = by_slo.get(slo.name, [])
        url = base_url + names[covered[0].failure_mode_id] if covered else base_url
        out[(slo.service, slo.name)] = AlertLinks(url, tuple(r.failure_mode_id for r in covered))
    return out
