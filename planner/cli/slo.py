"""`reliability rules`, `reliability sla` and `reliability dashboard`: SLOs in Prometheus.

Registered into the `reliability` command by `planner.cli` through `register(subparsers)`. Each
handler returns an exit code; `planner.cli.main` turns PlannerError/OSError into one stderr line
and exit code 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from planner.perf import no_cyclic_gc

__all__ = ["DASHBOARD_FORMATS", "RULE_FORMATS", "measure_into", "parse_at", "register"]

#: `reliability rules --format`: a plain rule file, or what prometheus-operator, Sloth, Pyrra read.
RULE_FORMATS = ("prometheus", "prometheusrule", "sloth", "pyrra")

#: `reliability dashboard --format`: the JSON, or the objects that provision it on Kubernetes.
DASHBOARD_FORMATS = ("json", "configmap", "grafana-operator")

_RULES_EPILOG = """\
examples:
  reliability rules examples/ai_gateway/system.yaml
  reliability rules system.yaml -o rules.yml && promtool check rules rules.yml
  reliability rules system.yaml -o rules.yml --alertmanager inhibit.yml   # both or neither
  reliability rules system.yaml --min-errors 10 -o rules.yml   # a stricter low-traffic guard
  reliability rules system.yaml --format prometheusrule --namespace monitoring \
      --label release=kube-prometheus-stack -o slo-rules.yaml   # kubectl apply -f
  reliability rules system.yaml --format sloth -o sloth.yml     # sloth generate -i sloth.yml
  reliability rules system.yaml --format pyrra -o pyrra.yaml    # ServiceLevelObjectives
  reliability rules system.yaml --runbook-base-url https://runbooks.example.com/shop/
  reliability rules system.yaml --compat sloth -o rules.yml     # Sloth's dashboards work too

exit codes: 0 ok, 2 bad input (one line on stderr; no file written)
"""

_DASHBOARD_EPILOG = """\
examples:
  reliability dashboard examples/ai_gateway/system.yaml
  reliability dashboard system.yaml -o dashboard.json   # Import, or a provisioning directory
  reliability dashboard system.yaml --format configmap --namespace monitoring -o cm.yaml
  reliability dashboard system.yaml --format grafana-operator --grafana-selector dashboards=grafana

exit codes: 0 ok, 2 bad input (one line on stderr; no file written)
"""

_SLA_EPILOG = """\
examples:
  reliability sla system.yaml --prometheus http://127.0.0.1:9090
  reliability sla system.yaml --prometheus http://prom:9090 --at 2026-05-20T00:00:00Z --check
  reliability sla system.yaml --metrics-url http://127.0.0.1:8080/metrics   # no Prometheus

exit codes: 0 ok; 1 with --check when an SLO is breached or has no data (no series matches
its SLI, or no traffic in its period: a typo never passes), one line per SLO on stderr;
2 bad input (an --at that is not finite, before 1970 or in the future) or an unreachable server
"""


def register(subparsers: Any) -> None:
    """Add the rules, sla and dashboard subcommands to the `reliability` parser."""
    _register_rules(subparsers)
    _register_sla(subparsers)
    _register_dashboard(subparsers)
    _extend_plan(subparsers)


def _register_rules(subparsers: Any) -> None:
    rules = subparsers.add_parser(
        "rules",
        help="Prometheus recording + alerting rules for the spec's SLOs",
        description="Prometheus recording rules (event-weighted error ratios per window, budget, "
        "burn rate) and the multi-window multi-burn-rate ErrorBudgetBurn alerts (page, ticket) "
        "for every SLO of the spec and each entry point's latency SLO, plus the monitoring "
        "table's saturation and breaker alerts. Check the output with `promtool check rules`.",
        epilog=_RULES_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rules.add_argument("spec", metavar="SPEC", help="the system spec (system.yaml; - reads stdin)")
    rules.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    rules.add_argument(
        "--alertmanager",
        metavar="FILE",
        help="also write an Alertmanager config: page/ticket routes and the inhibitions (a page "
        "silences the ticket and the derived alerts of its SLO)",
    )
    rules.add_argument(
        "--min-errors",
        type=int,
        default=None,
        metavar="N",
        help="failed events an alert needs in its long window (low-traffic guard; default 3, "
        "0 disables)",
    )
    rules.add_argument(
        "--format",
        "-f",
        choices=RULE_FORMATS,
        default="prometheus",
        help="prometheus: a rule file (default); prometheusrule: a prometheus-operator "
        "PrometheusRule; sloth: a Sloth prometheus/v1 spec; pyrra: Pyrra ServiceLevelObjectives",
    )
    rules.add_argument(
        "--namespace", metavar="NS", help="prometheusrule, pyrra: the objects' namespace"
    )
    rules.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="prometheusrule, pyrra: a label on the objects (what the operator's ruleSelector "
        "matches); sloth: a label on every rule; repeatable",
    )
    rules.add_argument(
        "--runbook-base-url",
        metavar="URL",
        default=None,
        help="where the files of `reliability runbook -o DIR` are served; every alert's "
        "runbook_url points there (default: the relative path runbooks/)",
    )
    rules.add_argument(
        "--anomaly",
        action="store_true",
        help="also anomaly detection per entry point (traffic, error ratio, p99 latency against "
        "a weekly-seasonal prediction; needs a week of history): --format prometheus or "
        "prometheusrule",
    )
    rules.add_argument(
        "--compat",
        choices=("sloth",),
        default=None,
        help="sloth: also the labels and series Sloth's Grafana dashboards query "
        "(sloth_id, sloth_service, sloth_slo, sloth_slo_info, slo:time_period:days)",
    )
    rules.set_defaults(func=_cmd_rules)


def _register_sla(subparsers: Any) -> None:
    sla = subparsers.add_parser(
        "sla",
        help="SLA tracking: actual availability vs target from Prometheus or /metrics",
        description="Actual availability per period (this month, this quarter, YTD in UTC, and "
        "the rolling SLO period), the share of each period's whole error budget spent and the "
        "pace to its end, status, coverage and scrape gaps, the budget left in events and in "
        "clock minutes of full outage, burn rates at --at with their events and when the budget "
        "runs out inside the period, from a Prometheus-compatible server; or since-start "
        "availability from one scrape of a live /metrics.",
        epilog=_SLA_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sla.add_argument("spec", metavar="SPEC", help="the system spec (system.yaml; - reads stdin)")
    source = sla.add_mutually_exclusive_group(required=True)
    source.add_argument("--prometheus", metavar="URL", help="Prometheus base URL")
    source.add_argument("--metrics-url", metavar="URL", help="a live /metrics endpoint")
    sla.add_argument(
        "--at", metavar="TIME", help="report as of this time (ISO 8601 or unix seconds; UTC)"
    )
    sla.add_argument("--check", action="store_true", help="exit 1 on a breach or no data")
    sla.add_argument("--slo", metavar="NAME", help="only this SLO (default: all)")
    sla.add_argument("--format", choices=("text", "json"), default="text")
    sla.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    sla.set_defaults(func=_cmd_sla)


def _register_dashboard(subparsers: Any) -> None:
    dashboard = subparsers.add_parser(
        "dashboard",
        help="Grafana dashboard JSON for the spec's SLOs and resilience metrics",
        description="An importable Grafana dashboard: SLO availability vs target, error budget, "
        "burn rates, per-policy calls/failures/rejections, breaker states, bulkhead saturation, "
        "retry rate and p99 latency.",
        epilog=_DASHBOARD_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    dashboard.add_argument(
        "spec", metavar="SPEC", help="the system spec (system.yaml; - reads stdin)"
    )
    dashboard.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    dashboard.add_argument(
        "--format",
        "-f",
        choices=DASHBOARD_FORMATS,
        default="json",
        help="json: the dashboard (Import or file provisioning; default); configmap: a ConfigMap "
        "the kube-prometheus-stack Grafana sidecar loads; grafana-operator: a GrafanaDashboard",
    )
    dashboard.add_argument("--namespace", metavar="NS", help="configmap, grafana-operator")
    dashboard.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="configmap, grafana-operator: a label on the object; repeatable",
    )
    dashboard.add_argument(
        "--grafana-selector",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="grafana-operator: a label of the Grafana instances that get the dashboard "
        "(instanceSelector.matchLabels; default dashboards=grafana); repeatable",
    )
    dashboard.set_defaults(func=_cmd_dashboard)


def _extend_plan(subparsers: Any) -> None:
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


def parse_at(text: str | None) -> Any:
    """`--at`: a past time (ISO 8601 or unix seconds, UTC), None when absent; PlannerError else."""
    from planner.errors import PlannerError
    from planner.slo.periods import parse_time

    if text is None:
        return None
    try:
        at = parse_time(text)
    except ValueError as exc:
        raise PlannerError(f"--at: {exc}") from None
    now = datetime.now(UTC)
    if at > now + timedelta(minutes=1):  # a minute of clock skew is not the future
        raise PlannerError(
            f"--at: {at:%Y-%m-%dT%H:%M:%SZ} is in the future (now {now:%Y-%m-%dT%H:%M:%SZ});"
            " nothing is measured there yet"
        )
    return at


def measure_into(spec: Any, plan: Any, args: argparse.Namespace) -> Any:
    """`plan` with its SLA section and "Current" measured from `args.prometheus` (first SLO)."""
    import asyncio

    from planner.slo.definition import definitions_from_spec
    from planner.slo.sla import measure_all, with_measurement
    from planner.urls import check_url

    check_url(args.prometheus, "--prometheus")
    slos = definitions_from_spec(spec)
    at = parse_at(args.at)
    (section,) = asyncio.run(measure_all(slos[:1], args.prometheus, at))
    availability = asyncio.run(_measured_availability(spec, plan, slos, args.prometheus, at))
    return with_measurement(plan, dataclasses.replace(section, availability=availability))


async def _measured_availability(
    spec: Any, plan: Any, slos: Any, url: str, at: datetime | None
) -> Any:
    """Per entry point and dependency, measured over the SLO period (beside the modelled)."""
    import aiohttp

    from planner.slo.calibrate import measure, measured_availability
    from planner.slo.prometheus import PrometheusClient

    window = slos[0].rule_period_seconds if slos else 30 * 86400
    moment = (at or datetime.now(UTC)).timestamp()
    async with aiohttp.ClientSession() as session:
        client = PrometheusClient(url, session)
        calibration = await measure(spec, plan, slos[:1], client, at=moment, window_s=window)
    return measured_availability(plan, calibration)


def _definitions(spec_path: str) -> Any:
    from planner.slo.definition import definitions_from_spec
    from planner.spec import load_spec

    return definitions_from_spec(load_spec(spec_path))


def _rule_links(monitoring: Any, slos: Any, base: str) -> Any:
    """(service, SLO) → the runbook and failure modes its alerts link (from the plan)."""
    from planner.slo.links import alert_links

    return alert_links(monitoring.runbooks, slos, base)


def _with_detection(rule_file: Any, monitoring: Any, slos: Any, links: Any, base: str) -> Any:
    """The rule file plus the threshold alerts of the monitoring table's other rows."""
    from planner.slo.detection import detection_groups, detection_warnings
    from planner.slo.rules import RuleFile

    extra = detection_groups(monitoring.signals, slos[0], monitoring.runbooks, links, base)
    warnings = detection_warnings(monitoring.signals, slos[0].service)
    return RuleFile((*rule_file.groups, *extra), (*rule_file.warnings, *warnings))


def _rule_inputs(spec_path: str, base_url: str | None, fmt: str) -> Any:
    """The SLOs (with the monitoring table's latency SLOs), the plan's monitoring section,
    what each SLO's alerts link and the runbook base URL, from one read of the spec."""
    from planner.analysis import build_plan
    from planner.slo.definition import definitions_from_spec
    from planner.slo.detection import latency_links, latency_slos
    from planner.slo.links import check_base_url
    from planner.slo.rules import DEFAULT_RUNBOOK_BASE_URL
    from planner.spec import load_spec

    spec = load_spec(spec_path)  # read once: the rules, their SLOs and the runbooks agree
    slos = definitions_from_spec(spec)
    monitoring = build_plan(spec).monitoring
    base = check_base_url(base_url) if base_url is not None else DEFAULT_RUNBOOK_BASE_URL
    native = fmt in ("prometheus", "prometheusrule")
    if native:
        # the monitoring table's latency rows as SLOs (a name the spec declares itself wins)
        declared = {slo.name for slo in slos}
        extra = [s for s in latency_slos(monitoring.signals, slos[0]) if s.name not in declared]
        slos = (*slos, *extra)
    links = _rule_links(monitoring, slos, base)
    if native:
        latency = latency_links(monitoring.signals, slos[0], monitoring.runbooks, base)
        links |= {k: v for k, v in latency.items() if k in links and not links[k].failure_modes}
    return slos, monitoring, links, base


@no_cyclic_gc()  # a batch of many small objects and no cycles (see no_cyclic_gc)
def _cmd_rules(args: argparse.Namespace) -> int:
    from planner.cli.output import write_files, write_output
    from planner.errors import PlannerError
    from planner.slo import interop
    from planner.slo.rules import (
        DEFAULT_MIN_ERRORS,
        RuleFile,
        alertmanager_inhibition,
        build_rules,
    )

    fmt: str = args.format
    min_errors = DEFAULT_MIN_ERRORS if args.min_errors is None else args.min_errors
    if min_errors < 0:
        raise PlannerError(f"--min-errors: expected 0 or more, got {min_errors}")
    if args.namespace is not None and fmt not in ("prometheusrule", "pyrra"):
        raise PlannerError(f"--namespace: only for --format prometheusrule or pyrra, not {fmt}")
    if args.label and fmt == "prometheus":
        raise PlannerError(
            "--label: only for --format prometheusrule, pyrra or sloth (a plain rule file has"
            " no object to label)"
        )
    if args.compat is not None and fmt not in ("prometheus", "prometheusrule"):
        raise PlannerError(
            f"--compat: only for --format prometheus or prometheusrule (with --format {fmt} the"
            " other tool writes the rules)"
        )
    if args.anomaly and fmt not in ("prometheus", "prometheusrule"):
        raise PlannerError(f"--anomaly: only for --format prometheus or prometheusrule, not {fmt}")
    if args.runbook_base_url is not None and fmt == "pyrra":
        raise PlannerError(
            "--runbook-base-url: Pyrra's ServiceLevelObjective sets no annotations on its alerts"
        )
    namespace = interop.check_namespace(args.namespace) if args.namespace is not None else None
    labels = interop.parse_labels(args.label)
    slos, monitoring, links, base = _rule_inputs(args.spec, args.runbook_base_url, fmt)
    warnings: list[str] = []
    if fmt == "sloth":
        rules_text = interop.to_yaml(
            [interop.sloth_spec(slos, labels=labels, links=links)], interop.sloth_header(slos)
        )
    elif fmt == "pyrra":
        docs, warnings = interop.pyrra_objectives(slos, namespace=namespace, labels=labels)
        if not docs:
            raise PlannerError(f"{args.spec}: no SLO Pyrra can express ({'; '.join(warnings)})")
        rules_text = interop.to_yaml(docs, interop.PYRRA_HEADER)
    else:
        rule_file = build_rules(slos, min_errors=min_errors, links=links, compat=args.compat)
        rule_file = _with_detection(rule_file, monitoring, slos, links, base)
        if args.anomaly:
            from planner.slo.anomaly import anomaly_groups

            extra = anomaly_groups(monitoring.signals, slos[0])
            rule_file = RuleFile((*rule_file.groups, *extra), rule_file.warnings)
        warnings = list(rule_file.warnings)
        if fmt == "prometheusrule":
            system = slos[0].service
            doc = interop.prometheus_rule(
                rule_file, name=f"{system}-slos", namespace=namespace, labels=labels
            )
            rules_text = interop.to_yaml([doc], interop.PROMETHEUS_RULE_HEADER)
        else:
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
    for warning in warnings:
        print(f"reliability: warning: {warning}", file=sys.stderr)
    return 0


def _cmd_dashboard(args: argparse.Namespace) -> int:
    from planner.cli.output import write_output
    from planner.errors import PlannerError
    from planner.slo import dashboard as dash
    from planner.slo import interop
    from planner.spec import load_spec

    fmt: str = args.format
    if fmt == "json":
        for flag, given in (
            ("--namespace", args.namespace is not None),
            ("--label", bool(args.label)),
            ("--grafana-selector", bool(args.grafana_selector)),
        ):
            if given:
                raise PlannerError(f"{flag}: only for --format configmap or grafana-operator")
    if args.grafana_selector and fmt != "grafana-operator":
        raise PlannerError("--grafana-selector: only for --format grafana-operator")
    namespace = interop.check_namespace(args.namespace) if args.namespace is not None else None
    labels = interop.parse_labels(args.label)
    selector = interop.parse_labels(args.grafana_selector or ["dashboards=grafana"])
    from planner.slo.definition import definitions_from_spec

    spec = load_spec(args.spec)  # read once: the dashboard and its SLOs come from the same spec
    board = dash.build_dashboard(spec, definitions_from_spec(spec))
    if fmt == "json":
        text = json.dumps(board, indent=2)
    elif fmt == "configmap":
        doc = dash.dashboard_configmap(board, namespace=namespace, labels=labels)
        text = interop.to_yaml([doc])
    else:
        doc = dash.grafana_dashboard(
            board, namespace=namespace, labels=labels, instance_selector=selector
        )
        text = interop.to_yaml([doc])
    write_output(text, args.output)
    return 0


def _cmd_sla(args: argparse.Namespace) -> int:
    import asyncio

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
    at = parse_at(args.at)
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
        from planner.cli.style import painter, use_colour
        from planner.slo.report import sla_text

        paint = painter(args.output in (None, "-") and use_colour(sys.stdout))
        text = "\n\n".join(sla_text(s, paint) for s in sections)
    write_output(text, args.output)
    if not args.check:
        return 0
    from planner.slo.report import check_failure

    failures = [f for f in (check_failure(s) for s in sections) if f is not None]
    for failure in failures:
        print(f"reliability: check failed: {failure}", file=sys.stderr)
    return 1 if failures else 0
