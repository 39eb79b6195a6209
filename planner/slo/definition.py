"""What an SLO is to the rules, the SLA tracker and the dashboard, and how the spec maps onto it.

One `SloDefinition` per objective: the service and SLO names (the `service` and `slo` labels of
every generated series), the objective, the budget period and the SLI (counter selectors or a 0/1
probe). `definitions_from_spec` builds them from `system.yaml`, including the default SLI when the
spec declares none. The multi-window multi-burn-rate table lives here too, because the rules, the
dashboard and the SLA report must agree on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from planner.errors import SpecError
from planner.slo.selector import Matcher, Selector, SelectorError, parse_selector
from planner.spec import SystemSpec

__all__ = [
    "DEFAULT_SLI_METRIC",
    "SLO_PERIODS",
    "BurnWindow",
    "SloDefinition",
    "SloPeriod",
    "burn_windows",
    "definitions_from_spec",
    "hard_dependencies",
    "policy_regex",
    "prom_duration",
]

#: The exporters' user-facing SLI metric (DESIGN.md), the default when a spec declares no `slos`.
DEFAULT_SLI_METRIC = "http_server_request_duration_seconds_count"

DAY = 86400


@dataclass(frozen=True, slots=True)
class SloPeriod:
    """The one SLO period of a spec: every budget, page time and burn factor is read from it.

    `days` is the budget period (a calendar month counts as the average 365.25/12 days: budgets
    and downtime are over it). `rule_seconds` is the rolling window the Prometheus rules evaluate
    over: Prometheus has no calendar arithmetic in rules, so a calendar month alerts over a rolling
    30 days; burn factors and alert times are the rules' own, so they use it.
    """

    key: str  # "30d" | "28d" | "calendar_month"
    label: str  # the report's header: "30 days", "calendar month (average … days)"
    short: str  # in a sentence: "per 30d", "per calendar month"
    days: float
    rule_seconds: int

    @property
    def seconds(self) -> float:
        """The budget period in seconds."""
        return self.days * DAY

    @property
    def rule_window(self) -> str:
        """The rules' rolling window as Prometheus writes it: "30d", "28d"."""
        return prom_duration(self.rule_seconds)

    def budget_seconds(self, objective_percent: float) -> float:
        """Full-outage seconds the objective allows over the period: (1 − SLO) × period."""
        return (100.0 - objective_percent) / 100.0 * self.seconds


#: The spec's `slo_period` values.
SLO_PERIODS: dict[str, SloPeriod] = {
    "30d": SloPeriod("30d", "30 days", "30d", 30.0, 30 * DAY),
    "28d": SloPeriod("28d", "28 days", "28d", 28.0, 28 * DAY),
    "calendar_month": SloPeriod(
        "calendar_month",
        "calendar month (average 365.25/12 = 30.4375 days)",
        "calendar month",
        365.25 / 12,
        30 * DAY,
    ),
}

SliKind = Literal["errors", "good", "probe"]


@dataclass(frozen=True)
class SloDefinition:
    """One objective with its SLI, as every SLO artefact needs it."""

    service: str
    name: str
    objective: float  # percent, below 100
    period: str  # "30d" | "28d" | "calendar_month"
    kind: SliKind
    total: Selector | None = None  # errors / good kinds
    errors: Selector | None = None  # errors kind
    good: Selector | None = None  # good kind
    probe: Selector | None = None  # probe kind: a 0/1 gauge, time-based
    description: str = ""
    # policies (named after the target component) of the entry points' hard dependencies: the
    # rules record their failure ratio and the alerts name the failing ones
    dependencies: tuple[str, ...] = ()

    @property
    def budget(self) -> float:
        """The error budget as a fraction (1 − objective), rounded to hide float artefacts."""
        return round(1.0 - self.objective / 100.0, 12)

    @property
    def slo_period(self) -> SloPeriod:
        """The SLO period, with its budget length and the rules' rolling window."""
        return SLO_PERIODS[self.period]

    @property
    def rule_period_seconds(self) -> int:
        """The rolling period the Prometheus rules use (a calendar month alerts over 30 d)."""
        return SLO_PERIODS[self.period].rule_seconds

    @property
    def selector_labels(self) -> str:
        """`{service="…",slo="…"}`: selects this SLO's recorded series."""
        service = Matcher("service", "=", self.service).render()
        return f'{{{service},slo="{self.name}"}}'


@dataclass(frozen=True)
class BurnWindow:
    """One alert condition of the multi-window multi-burn-rate table (SRE Workbook ch. 5)."""

    severity: Literal["page", "ticket"]
    short: int  # seconds
    long: int  # seconds
    budget_share: float  # share of the period's budget the long window burns when it fires
    factor: float  # burn rate = budget_share × period / long

    def error_ratio(self, budget: float) -> float:
        """The error-ratio threshold, factor × budget, rounded to hide float artefacts."""
        return round(self.factor * budget, 12)


# (severity, short, long, budget share): the Workbook's 2 % / 5 % / 10 % / 10 % starting points,
# which give 14.4 / 6 / 3 / 1 for a 30-day period; other periods rescale the factors so that each
# condition still means "this share of the budget is gone".
_WINDOWS: tuple[tuple[Literal["page", "ticket"], int, int, float], ...] = (
    ("page", 300, 3600, 0.02),
    ("page", 1800, 6 * 3600, 0.05),
    ("ticket", 2 * 3600, DAY, 0.10),
    ("ticket", 6 * 3600, 3 * DAY, 0.10),
)

#: Every window a ratio is recorded for, besides the period.
RATIO_WINDOWS: tuple[int, ...] = (300, 1800, 3600, 2 * 3600, 6 * 3600, DAY, 3 * DAY)


def burn_windows(period_seconds: int) -> tuple[BurnWindow, ...]:
    """The four alert conditions with their burn factors for a budget period."""
    return tuple(
        BurnWindow(sev, short, long, share, round(share * period_seconds / long, 10))
        for sev, short, long, share in _WINDOWS
    )


def prom_duration(seconds: int) -> str:
    """A Prometheus duration in its largest whole unit: 300 → "5m", 86400 → "1d", 90 → "90s"."""
    for unit, size in (("d", DAY), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _selector(source: str, field: str, text: str) -> Selector:
    try:
        return parse_selector(text)
    except SelectorError as exc:
        raise SpecError(f"{source}: {field}: {exc}") from None


def definitions_from_spec(spec: SystemSpec) -> tuple[SloDefinition, ...]:
    """The spec's SLOs; when it declares none, availability of the entry points' HTTP requests.

    The default SLI is the exporters' `http_server_request_duration_seconds_count` with 5xx as
    errors, selected by `job` = the entry points' names (how a Prometheus scrape config names
    them). Errors name the spec file as `parse_spec` was told it (`spec.source`).
    """
    service = spec.system
    if not spec.slos:
        entries = sorted(spec.entry_shares())
        job = (
            f'job="{entries[0]}"'
            if len(entries) == 1
            else 'job=~"' + "|".join(_regex_escape(e) for e in entries) + '"'
        )
        total = parse_selector(f"{DEFAULT_SLI_METRIC}{{{job}}}")
        errors = parse_selector(f'{DEFAULT_SLI_METRIC}{{{job},http_response_status_code=~"5.."}}')
        return (
            SloDefinition(
                service=service,
                name="availability",
                objective=spec.objective,
                period=spec.slo_period,
                kind="errors",
                total=total,
                errors=errors,
                description="Share of HTTP requests to the entry points answered without a 5xx",
                dependencies=hard_dependencies(spec),
            ),
        )
    out: list[SloDefinition] = []
    for i, slo in enumerate(spec.slos):
        where = f"slos[{i}] ({slo.name}).sli"
        sli = slo.sli
        kind: SliKind = (
            "probe" if sli.probe is not None else "errors" if sli.errors is not None else "good"
        )

        def pick(field: str, text: str | None, where: str = where) -> Selector | None:
            return None if text is None else _selector(spec.source, f"{where}.{field}", text)

        out.append(
            SloDefinition(
                service=service,
                name=slo.name,
                objective=slo.objective if slo.objective is not None else spec.objective,
                period=spec.slo_period,
                kind=kind,
                total=pick("total", sli.total),
                errors=pick("errors", sli.errors),
                good=pick("good", sli.good),
                probe=pick("probe", sli.probe),
                description=slo.description,
                dependencies=hard_dependencies(spec),
            )
        )
    return tuple(out)


def hard_dependencies(spec: SystemSpec) -> tuple[str, ...]:
    """The entry points' hard dependencies, in spec order (their outage is the system's)."""
    entries = set(spec.entry_shares())
    names: dict[str, None] = {}  # ordered, and a set: a list's `in` made this quadratic
    for comp in spec.components:
        if comp.name in entries:
            names.update((d.target, None) for d in comp.dependencies if d.type == "hard")
    return tuple(names)


def policy_regex(names: tuple[str, ...]) -> str:
    """A PromQL regex (inside a double-quoted string) matching the policies of `names`.

    The planner names a policy after its target, or `caller.target` when the target has
    several callers; component names are [A-Za-z0-9_.-], where only the dot is special.
    """
    return "|".join("(.+\\\\.)?" + n.replace(".", "\\\\.") for n in names)


def _regex_escape(text: str) -> str:
    # Component names are [A-Za-z0-9_.-]; only the dot is special in a regex.
    return text.replace(".", "\\\\.")
