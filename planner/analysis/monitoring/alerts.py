"""The alert set of a plan, computed once: the SLO's burn-rate alerts and the time to page.

Recovery (detection time), monitoring (the alert table, signals, severities) and the post-mortem
template read these figures from here, so they cannot disagree. The burn factors, error-ratio
thresholds and times to fire come from the SLO rules' table (`planner.slo.definition`), so the
plan and `reliability rules` agree too.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.model import BurnRateAlert, Figure
from planner.slo.definition import (
    SloDefinition,
    SloPeriod,
    burn_windows,
    definitions_from_spec,
    prom_duration,
)
from planner.spec import SystemSpec

__all__ = ["RULE_EVALUATION", "Alerts", "burn_rate_alerts", "derive"]

#: Seconds between two evaluations of the alerting rules: no page fires sooner, however fast
#: the condition holds (a 30 s evaluation interval, the floor the plan has always assumed).
RULE_EVALUATION = 30.0


@dataclass(frozen=True, slots=True)
class Alerts:
    """The main SLO, its period, the burn-rate alert conditions and the time to page."""

    slo: SloDefinition
    period: SloPeriod
    burn_rate_alerts: tuple[BurnRateAlert, ...]
    time_to_page: Figure  # seconds from the start of a full outage to the first page

    @property
    def page_burn_rate(self) -> float:
        """The fastest page condition's burn factor (14.4 for 30 days)."""
        return max(a.burn_rate.value for a in self.burn_rate_alerts if a.severity == "page")

    @property
    def budget(self) -> Figure:
        """The period's error budget in seconds of full outage."""
        return Figure(
            self.period.budget_seconds(self.slo.objective),
            "s",
            "(1 - objective/100) × period_days × 86400",
            {"objective": self.slo.objective, "period_days": self.period.days},
        )


def derive(spec: SystemSpec) -> Alerts:
    """The alert set of the spec's first SLO (the one the plan's monitoring section is about)."""
    slo = definitions_from_spec(spec)[0]
    period = slo.slo_period
    alerts = burn_rate_alerts(slo, period.rule_seconds)
    # the fastest page; when no page condition can fire (an objective so loose that its
    # threshold is above 100 % errors), the fastest ticket is what detects a full outage
    pages = [a for a in alerts if a.severity == "page" and a.time_to_fire.value < float("inf")]
    fastest = min(pages or alerts, key=lambda a: a.time_to_fire.value)
    fire = fastest.time_to_fire.value
    time_to_page = Figure(
        max(RULE_EVALUATION, fire),
        "s",
        "max(rule evaluation interval, the fastest page condition's time to fire)",
        {
            "rule_evaluation_s": RULE_EVALUATION,
            "time_to_fire_s": fire,
            "long_window": prom_duration(int(fastest.long_window.value)),
        },
    )
    return Alerts(slo, period, alerts, time_to_page)


def burn_rate_alerts(slo: SloDefinition, period_seconds: int) -> tuple[BurnRateAlert, ...]:
    """The four multi-window conditions with their factors, thresholds and time to fire."""
    out = []
    budget = slo.budget
    for w in burn_windows(period_seconds):
        ratio = w.error_ratio(budget)
        fire = ratio * w.long if ratio <= 1.0 else float("inf")
        out.append(
            BurnRateAlert(
                severity=w.severity,
                long_window=Figure(
                    w.long, "s", "SRE Workbook window", {"window": prom_duration(w.long)}
                ),
                short_window=Figure(w.short, "s", "long / 12", {"window": prom_duration(w.short)}),
                burn_rate=Figure(
                    w.factor,
                    "x",
                    "budget_share × period / long_window",
                    {
                        "budget_share": w.budget_share,
                        "period_s": period_seconds,
                        "long_window_s": w.long,
                    },
                ),
                budget_consumed=Figure(w.budget_share * 100.0, "%", "budget_share", {}),
                error_ratio=Figure(
                    ratio,
                    "ratio",
                    "burn_rate × (1 - objective)",
                    {"burn_rate": w.factor, "budget": budget},
                ),
                time_to_fire=Figure(
                    fire,
                    "s",
                    "error_ratio_threshold × long_window at a 100 % outage"
                    " (never when the threshold is above 1)",
                    {"threshold": ratio, "long_window_s": w.long},
                ),
            )
        )
    return tuple(out)
