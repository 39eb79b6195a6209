"""`reliability rules`, `reliability sla` and `reliability dashboard`: SLOs in Prometheus.

Registered into the `reliability` command by `planner.cli` through `register(subparsers)`. Each
handler returns an exit code; `planner.cli.main` turns PlannerError/OSError into one stderr line
and exit code 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["measure_into", "register"]

_RULES_EPILOG = """\
examples:
  reliability rules examples/ai_gateway/system.yaml
  reliability rules system.yaml -o rules.yml && promtool check rules rules.yml
  reliability rules system.yaml -o rules.yml --alertmanager inhibit.yml   # both or neither
  reliability rules system.yaml --min-errors 10 -o rules.yml   # a stricter low-traffic guard

exit codes: 0 ok, 2 bad input (one line on stderr; no file written)
"""

_DASHBOARD_EPILOG = """\
examples:
  reliability dashboard examples/ai_gateway/system.yaml
  reliability dashboard system.yaml -o dashboard.json   # then Grafana: Dashboards > Import

exit codes: 0 ok, 2 bad input (one line on stderr; no file written)
"""

_SLA_EPILOG = """\
examples:
  reliability sla system.yaml --prometheus http://127.0.0.1:9090
  reliability sla system.yaml --prometheus http://prom:9090 --at 2026-05-20T00:00:00Z --check
  reliability sla system.yaml --metrics-url http://127.0.0.1:8080/metrics   # no Prometheus

exit codes: 0 ok, 1 a target is breached (with --check), 2 bad input or an unreachable server
"""


def register(subparsers: Any) -> None:
    """Add the rules, sla and dashboard subcommands to the `reliability` parser."""
    rules = subparsers.add_parser(
        "rules",
        help="Prometheus recording + alerting rules for the spec's SLOs",
        description="Prometheus recording rules (event-weighted error ratios per window, budget, "
        "burn rate) and the multi-window multi-burn-rate ErrorBudgetBurn alerts (page, ticket) "
        "for every SLO of the spec. Check the output with `promtool check rules`.",
        epilog=_RULES_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rules.add_argument("spec", metavar="SPEC", help="the system spec (system.yaml)")
    rules.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    rules.add_argument(
        "--alertmanager",
        metavar="FILE",
        help="also write an Alertmanager inhibit_rules snippet (a page silences the ticket)",
    )
    rules.add_argument(
        "--min-errors",
        type=int,
        default=None,
        metavar="N",
        help="failed events an alert needs in its long window (low-traffic guard; default 3, "
        "0 disables)",
    )
    rules.set_defaults(func=_cmd_rules)

    sla = subparsers.add_parser(
        "sla",
        help="SLA tracking: actual availability vs target from Prometheus or /metrics",
        description="Actual availability per period (this month, this quarter, YTD in UTC, and "
        "the rolling SLO period), budget used, status, error budget left this month, burn rates "
        "now and projected exhaustion, from a Prometheus-compatible server; or since-start "
        "availability from one scrape of a live /metrics.",
        epilog=_SLA_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sla.add_argument("spec", metavar="SPEC", help="the system spec (system.yaml)")
    source = sla.add_mutually_exclusive_group(required=True)
    source.add_argument("--prometheus", metavar="URL", help="Prometheus base URL")
    source.add_argument("--metrics-url", metavar="URL", help="a live /metrics endpoint")
    sla.add_argument(
        "--at", metavar="TIME", help="report as of this time (ISO 8601 or unix seconds; UTC)"
    )
    sla.add_argument("--check", action="store_true", help="exit 1 when a target is breached")
    sla.add_argument("--slo", metavar="NAME", help="only this SLO (default: all)")
    sla.add_argument("--format", choices=("text", "json"), default="text")
    sla.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    sla.set_defaults(func=_cmd_sla)

    dashboard = subparsers.add_parser(
        "dashboard",
        help="Grafana dashboard JSON for the spec's SLOs and resilience metrics",
        description="An importable Grafana dashboard: SLO availability vs target, error budget, "
        "burn rates, per-policy calls/failures/rejections, breaker states, bulkhead saturation, "
        "retry rate and p99 latency.",
        epilog=_DASHBOARD_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    dashboard.add_argument("spec", metavar="SPEC", help="the system spec (system.yaml)")
    dashboard.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    dashboard.set_defaults(func=_cmd_dashboard)

    # `reliability plan SPEC --prometheus URL`: the plan's SLA section and "Current" measured.
    plan = subparsers.choices.get("plan")
    if plan is not None:
        plan.add_argument(
            "--prometheus",
            metavar="URL",
            help="measure SLA tracking and the current availability from this Prometheus",
        )
        plan.add_argument(
            "--at", metavar="TIME", help="with --prometheus: measure as of this time (UTC)"
        )


def _parse_at(text: str | None) -> Any:
    from planner.errors import PlannerError
    from planner.slo.periods import parse_time

    if text is None:
        return None
    try:
        return parse_time(text)
    except ValueError as exc:
        raise PlannerError(f"--at: {exc}") from None


def measure_into(spec: Any, plan: Any, args: argparse.Namespace) -> Any:
    """`plan` with its SLA section and "Current" measured from `args.prometheus` (first SLO)."""
    from planner.slo.definition import definitions_from_spec
    from planner.slo.sla import measure_all, with_measurement
    from planner.urls import check_url

    check_url(args.prometheus, "--prometheus")
    slos = definitions_from_spec(spec, args.spec)
    (section,) = asyncio.run(measure_all(slos[:1], args.prometheus, _parse_at(args.at)))
    return with_measurement(plan, section)


def _definitions(spec_path: str) -> Any:
    from planner.slo.definition import definitions_from_spec
    from planner.spec import load_spec

    return definitions_from_spec(load_spec(spec_path), spec_path)


def _cmd_rules(args: argparse.Namespace) -> int:
    from planner.cli.output import write_files, write_output
    from planner.errors import PlannerError
    from planner.slo.rules import DEFAULT_MIN_ERRORS, alertmanager_inhibition, build_rules

    min_errors = DEFAULT_MIN_ERRORS if args.min_errors is None else args.min_errors
    if min_errors < 0:
        raise PlannerError(f"--min-errors: expected 0 or more, got {min_errors}")
    rule_file = build_rules(_definitions(args.spec), min_errors=min_errors)
    rules_text = rule_file.to_yaml()
    to_stdout = args.output in (None, "-")
    if args.alertmanager and not to_stdout and Path(args.alertmanager) == Path(args.output):
        raise PlannerError(f"{args.output}: -o and --alertmanager name the same file")
    # Both rendered first, then written together: a failure of either leaves neither written
    # (and the rules are printed only once the Alertmanager file is in place).
    files = {} if to_stdout else {args.output: rules_text}
    if args.alertmanager:
        files[args.alertmanager] = alertmanager_inhibition()
    write_files({path: text.rstrip("\n") + "\n" for path, text in files.items()})
    if to_stdout:
        write_output(rules_text, None)
    for warning in rule_file.warnings:
        print(f"reliability: warning: {warning}", file=sys.stderr)
    return 0


def _cmd_dashboard(args: argparse.Namespace) -> int:
    from planner.cli.output import write_output
    from planner.slo.dashboard import build_dashboard
    from planner.slo.definition import definitions_from_spec
    from planner.spec import load_spec

    spec = load_spec(args.spec)  # read once: the dashboard and its SLOs come from the same spec
    text = json.dumps(build_dashboard(spec, definitions_from_spec(spec, args.spec)), indent=2)
    write_output(text, args.output)
    return 0


def _cmd_sla(args: argparse.Namespace) -> int:
    from planner.cli.output import write_output
    from planner.errors import PlannerError
    from planner.urls import check_url

    if args.metrics_url:
        check_url(args.metrics_url, "--metrics-url")
    else:
        check_url(args.prometheus, "--prometheus")
    slos = list(_definitions(args.spec))
    if args.slo is not None:
        slos = [s for s in slos if s.name == args.slo]
        if not slos:
            raise PlannerError(f"{args.spec}: --slo: no SLO named {args.slo!r} in the spec")
    at = _parse_at(args.at)
    if args.metrics_url:
        if at is not None:
            raise PlannerError("--at: a scrape of /metrics only tells the present; drop --at")
        from planner.slo.scrape import measure_scrape

        sections = asyncio.run(measure_scrape(slos, args.metrics_url))
    else:
        from planner.slo.sla import measure_all

        sections = asyncio.run(measure_all(slos, args.prometheus, at))
    if args.format == "json":
        from planner.document import to_plain

        # the plan document's serializer: the same figures, rounding and "unbounded" as `plan`
        text = json.dumps([to_plain(s) for s in sections], indent=2, allow_nan=False)
    else:
        from planner.slo.report import sla_text

        text = "\n\n".join(sla_text(s) for s in sections)
    write_output(text, args.output)
    breached = any(row.status == "Breached" for s in sections for row in s.rows)
    return 1 if args.check and breached else 0
