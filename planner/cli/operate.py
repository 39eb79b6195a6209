"""`reliability calibrate` and `reliability postmortem --prometheus`: the loop closed from the data.

calibrate prints declared against measured per dependency and entry point with the drift
flagged, writes the calibrated spec (`-o`, comments and layout kept) and the mechanism diff
between the plans of the declared and the calibrated spec; `--check` exits 1 when the drift
would change a mechanism. postmortem fills the plan's template from what Prometheus recorded
between --from and --to.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from planner.model import Plan
    from planner.slo.calibrate import Calibration, DependencyMeasure
    from planner.slo.calibrated_spec import Change
    from planner.spec import SystemSpec

__all__ = ["mechanism_diff", "postmortem_from_data", "register", "window_seconds"]

_EPILOG = """\
examples:
  reliability calibrate system.yaml --prometheus http://127.0.0.1:9090
  reliability calibrate system.yaml --prometheus http://prom:9090 --window 7d -o calibrated.yaml
  reliability calibrate system.yaml --prometheus http://prom:9090 --check   # in CI

exit codes: 0 ok; 1 with --check when the measured drift would change a mechanism;
2 bad input (a spec, a --window or an --at that is wrong) or an unreachable server
"""


def register(subparsers: Any) -> None:
    """Add `calibrate` to the `reliability` parser."""
    parser = subparsers.add_parser(
        "calibrate",
        help="declared vs measured per dependency and entry; a calibrated spec, the mechanism diff",
        description="Declared against measured (call rate, p50/p99, failure ratio and the "
        "availability it implies, breaker open time, retries per call, rejections) per "
        "dependency, and the SLI availability per entry point, from a Prometheus; the "
        "calibrated spec and how the plan's mechanisms change with it.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("spec", metavar="SPEC", help="the system spec (system.yaml)")
    parser.add_argument("--prometheus", metavar="URL", required=True, help="Prometheus base URL")
    parser.add_argument(
        "--window", metavar="DURATION", default="7d", help="measure over this window (default 7d)"
    )
    parser.add_argument("--at", metavar="TIME", help="the window ends here (default: now; UTC)")
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write the calibrated spec here (comments kept)"
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when the drift would change a mechanism"
    )
    parser.set_defaults(func=_cmd_calibrate)


def window_seconds(text: str) -> float:
    """`--window`, in the one duration grammar; a PlannerError sentence otherwise."""
    from planner.errors import PlannerError
    from resilience.durations import parse_duration

    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise PlannerError(f"--window: {exc}") from None
    if seconds < 60:
        raise PlannerError(f"--window: {text!r} is shorter than a minute; nothing to measure")
    return seconds


def _cmd_calibrate(args: argparse.Namespace) -> int:
    import asyncio

    import aiohttp

    from planner.analysis import build_plan
    from planner.cli.output import write_output
    from planner.cli.slo import parse_at
    from planner.inputs import read_text, shown
    from planner.slo.calibrate import measure
    from planner.slo.calibrated_spec import calibrated_text, changes
    from planner.slo.definition import definitions_from_spec
    from planner.slo.prometheus import PrometheusClient
    from planner.spec import parse_spec
    from planner.urls import check_url
    from resilience.files import DocumentError, parse_document

    window = window_seconds(args.window)
    check_url(args.prometheus, "--prometheus")
    at_time = parse_at(args.at)
    at = (at_time or datetime.now(UTC)).timestamp()
    text = read_text(args.spec)
    source = shown(args.spec)
    try:
        data = parse_document(text, json_format=source.lower().endswith(".json"))
    except DocumentError as exc:
        from planner.errors import SpecError

        raise SpecError(f"{source}: {exc}") from None
    spec = parse_spec(data, source)
    plan = build_plan(spec)
    slos = definitions_from_spec(spec)

    async def run() -> Calibration:
        async with aiohttp.ClientSession() as session:
            client = PrometheusClient(args.prometheus, session)
            return await measure(spec, plan, slos, client, at=at, window_s=window)

    calibration = asyncio.run(run())
    found = changes(calibration)
    new_text = calibrated_text(source, text, found)
    new_plan = build_plan(parse_spec(parse_document(new_text), f"{source} (calibrated)"))
    diff = mechanism_diff(plan, new_plan, found, args.window)
    print(calibration_table(calibration, args.window), end="")
    print()
    if diff:
        print("Mechanisms that change with the calibrated spec:")
        for line in diff:
            print(f"  {line}")
    else:
        print("No mechanism changes with the measured figures.")
    if args.output is not None:
        write_output(new_text, args.output)
        print(f"calibrated spec: {args.output} ({len(found)} figures changed)")
    if args.check and diff:
        print(f"calibrate --check: {len(diff)} mechanisms would change", file=sys.stderr)
        return 1
    return 0


def _seconds(value: float | None) -> str:
    from planner.units import format_duration

    if value is None:
        return "—"
    if value == 0:
        return "0s"
    if value < 1:
        return f"{value * 1000:.3g}ms"
    return format_duration(value) if value >= 60 else f"{value:.3g}s"


def _pct(value: float | None) -> str:
    from planner.units import format_percent

    return "—" if value is None else f"{format_percent(value)}%"


def _row(dep: DependencyMeasure) -> list[str]:
    from planner.slo.calibrate import MIN_CALLS

    if not dep.enough:
        note = f"too little data: {dep.calls:.0f} calls, {MIN_CALLS} needed"
        return [dep.target, f"{dep.rate_per_second:.3g}/s", note, "", "", "", "", "", ""]
    flag = {True: " DRIFT", False: ""}
    open_time = "no breaker" if dep.open_seconds is None else _seconds(dep.open_seconds)
    return [
        dep.target,
        f"{dep.rate_per_second:.3g}/s",
        f"{_seconds(dep.p50)} (declared {_seconds(dep.declared_p50)}){flag[dep.p50_drift]}",
        f"{_p99(dep)} (declared {_seconds(dep.declared_p99)}){flag[dep.p99_drift]}",
        f"{100 * (dep.failure_ratio or 0.0):.3g}%",
        f"{_availability(dep)} (declared {_pct(dep.declared_availability)})"
        + flag[dep.availability_drift],
        open_time,
        "—" if dep.retries_per_call is None else f"{dep.retries_per_call:.3g}",
        f"{dep.rejections:.0f}",
    ]


def _availability(dep: DependencyMeasure) -> str:
    if dep.failure_ratio == 0.0:  # no failure: the data bounds it below (rule of three)
        return f"≥{_pct(100.0 * (1.0 - 3.0 / dep.calls))} (no failure)"
    return _pct(dep.availability)


def _p99(dep: DependencyMeasure) -> str:
    bucket = dep.p99_bucket
    if dep.p99 is None and bucket is not None:
        return f"above {_seconds(bucket[0])} (the histogram's last bucket)"
    return _seconds(dep.p99)


def calibration_table(calibration: Calibration, window: str) -> str:
    """Declared against measured, one row per dependency, then the entry points."""
    from planner.slo.calibrate import MIN_CALLS

    head = [
        "dependency",
        "rate",
        "p50",
        "p99",
        "failures",
        "availability",
        "open",
        "retries/call",
        "rejections",
    ]
    rows = [head] + [_row(d) for d in calibration.dependencies]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [f"Measured over {window} (declared in the spec):", ""]
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    lines.append("")
    for entry in calibration.entries:
        measured = entry.availability
        if entry.requests is None:
            figure = "no data (no series matches its SLI)"
        elif measured is None:
            figure = f"too little data ({entry.requests:.0f} requests, {MIN_CALLS} needed)"
        else:
            figure = f"{_pct(measured)} over {entry.requests:.0f} requests"
        lines.append(
            f"entry {entry.component}: SLI {entry.slo} {figure} (modelled {_pct(entry.modelled)})"
        )
    return "\n".join(lines) + "\n"


def mechanism_diff(
    declared: Plan, calibrated: Plan, found: tuple[Change, ...], window: str
) -> list[str]:
    """One line per mechanism whose config changes, with the measurement that changed it."""
    before = {(r.policy, r.mechanism): r for r in declared.mechanisms}
    after = {(r.policy, r.mechanism): r for r in calibrated.mechanisms}
    by_component: dict[str, list[Change]] = {}
    for change in found:
        by_component.setdefault(change.component, []).append(change)
    lines = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old is not None and new is not None and old.config == new.config:
            continue
        row = new or old
        assert row is not None
        why = "; ".join(_because(c, window) for c in by_component.get(row.target, []))
        was = old.config if old is not None else "none"
        now = new.config if new is not None else "none"
        why = why or "follows from the changes above (a fallback's or a caller's budget)"
        lines.append(f"{row.policy} {row.mechanism} {was} → {now}: {why}")
    return lines


def _because(change: Change, window: str) -> str:
    if change.field == "availability":
        return (
            f"measured availability {_pct(change.measured)} over {window},"
            f" declared {_pct(change.declared)}"
        )
    name = change.field.split(".", 1)[1]
    return (
        f"measured {name} {_seconds(change.measured)} over {window},"
        f" declared {_seconds(change.declared)}"
    )


def postmortem_from_data(spec: SystemSpec, plan: Plan, args: argparse.Namespace) -> str:
    """`reliability postmortem SPEC --prometheus URL --from T --to T`: the filled markdown."""
    import asyncio

    import aiohttp

    from planner.analysis.monitoring.alerts import derive as derive_alerts
    from planner.errors import PlannerError
    from planner.render.runbooks import postmortem_markdown_of
    from planner.slo.definition import definitions_from_spec
    from planner.slo.incident import read_incident
    from planner.slo.postmortem import fill
    from planner.slo.prometheus import PrometheusClient
    from planner.urls import check_url

    check_url(args.prometheus, "--prometheus")
    if args.start is None or args.end is None:
        raise PlannerError("--prometheus needs --from TIME and --to TIME (the incident's range)")
    start = _time_flag("--from", args.start)
    end = _time_flag("--to", args.end)
    if end <= start:
        raise PlannerError(f"--to ({args.end}) must come after --from ({args.start})")
    slo = definitions_from_spec(spec)[0]
    policies = tuple(dict.fromkeys(r.policy for r in plan.mechanisms))
    # the alert set the plan's monitoring was built from: the same expected time to page
    time_to_page = derive_alerts(spec).time_to_page.value

    async def run() -> Any:
        async with aiohttp.ClientSession() as session:
            client = PrometheusClient(args.prometheus, session)
            return await read_incident(client, slo, policies, start, end)

    incident = asyncio.run(run())
    template, measured = fill(plan, incident, time_to_page)
    return postmortem_markdown_of(template, measured)


def _time_flag(flag: str, text: str) -> float:
    """A past time given to `flag` (ISO 8601 or unix seconds, UTC); PlannerError naming it."""
    from planner.cli.slo import parse_at
    from planner.errors import PlannerError

    try:
        return float(parse_at(text.strip()).timestamp())
    except PlannerError as exc:
        raise PlannerError(str(exc).replace("--at:", f"{flag}:", 1)) from None
