"""The system spec (`system.yaml`): pydantic models, graph checks and `load_spec`.

Every error names the file, the field (as a path such as `components[2].dependencies[0].target`)
and what was expected; unknown keys are errors so that a typo never silently changes a plan.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from planner.errors import SpecError
from planner.inputs import read_document, shown
from planner.perf import no_cyclic_gc
from planner.probe_spec import ProbeSpec
from planner.spec_check import TIER_OR_SLO, describe, graph_problems, raw_problems, warnings
from planner.units import parse_duration
from resilience.config import TIERS

__all__ = [
    "KINDS",
    "TIERS",
    "Capacity",
    "Component",
    "DataSpec",
    "DeclaredFailureMode",
    "Dependency",
    "Latency",
    "Quota",
    "RecoveryTarget",
    "RecoveryTargets",
    "RequestCriticality",
    "SliSpec",
    "SloSpec",
    "SystemSpec",
    "load_spec",
    "parse_spec",
    "spec_warnings",
]

# TIERS (tier name → availability objective in percent, the seed's reliability targets) is the
# runtime's, so a spec and the plan it produces name the same tiers with the same objectives.

ComponentKind = Literal[
    "service",
    "worker",
    "database",
    "cache",
    "queue",
    "object_storage",
    "load_balancer",
    "dns",
    "cdn",
    "external_api",
    "llm_api",
    "vector_db",
    "search",
]
"""The component kinds with a failure-mode catalog (planner/failures.py holds one per kind)."""

#: The same kinds as a tuple, for iteration.
KINDS: tuple[str, ...] = get_args(ComponentKind)

#: Ceilings far above any real system, so that no product of spec figures overflows a float
#: (rps × calls × p99 stays below 1e30) and no count overflows the conversion to one.
MAX_REPLICAS = 10_000  # k-of-n sums n terms
MAX_RPS = 1e9
MAX_CALLS = 1e6  # calls of one dependency per request
MAX_COUNT = 10**12  # users, bursts
MAX_DURATION = 1000 * 365 * 86400.0  # a thousand years, in seconds (MTBFs run to decades)

Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    Field(le=MAX_DURATION),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(ms|s|m|h|d|w)?\s*$"},
            ],
            "description": "seconds, or a duration such as 250ms, 2s, 1m, 1h, 1d, 1w",
        }
    ),
]
"""Seconds; the spec accepts a number of seconds or "250ms", "2s", "1m", "1h", "1d"."""

Level = Literal["H", "M", "L"]


def _percent(value: float) -> float:
    if not math.isfinite(value) or value <= 0 or value > 100:
        raise ValueError(f"expected a percentage above 0 and at most 100, got {value:g}")
    return value


class _Model(BaseModel):
    # inf and nan are refused everywhere: no figure of a plan can be derived from them
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Latency(_Model):
    """Latency percentiles of one call to the component, in seconds."""

    p50: Duration | None = None
    p99: Duration

    @model_validator(mode="after")
    def _ordered(self) -> Latency:
        if self.p50 is not None and self.p50 > self.p99:
            raise ValueError("p50 must not exceed p99")
        return self


class DataSpec(_Model):
    """What state the component keeps and how it is protected."""

    stateful: bool = True
    backup_interval: Duration | None = None
    replication: Literal["none", "async", "sync"] = "none"
    replication_lag: Duration | None = None

    @model_validator(mode="after")
    def _lag_needs_replication(self) -> DataSpec:
        if self.replication_lag is not None and self.replication == "none":
            raise ValueError(
                "replication_lag is set but replication is none (expected async or sync)"
            )
        return self


class Quota(_Model):
    """A provider's rate limit on calls to this component."""

    rps: float = Field(gt=0, le=MAX_RPS)
    burst: int | None = Field(default=None, ge=1, le=MAX_COUNT)


class Capacity(_Model):
    """What an entry point can serve (from a load test): above `rps` its inbound policy sheds."""

    rps: float = Field(gt=0, le=MAX_RPS)
    burst: int | None = Field(default=None, ge=1, le=MAX_COUNT)


class RequestCriticality(_Model):
    """The share of an entry point's requests in each criticality class (the
    ``X-Request-Criticality`` header, or `resilience.shedding.criticality_var`); the classes not
    declared get what the declared ones leave (`shares`). Under saturation the
    inbound adaptive limit refuses ``sheddable`` requests first and keeps room for ``critical``
    ones."""

    critical: float | None = Field(default=None, ge=0, le=1)
    default: float | None = Field(default=None, ge=0, le=1)
    sheddable: float | None = Field(default=None, ge=0, le=1)

    @model_validator(mode="after")
    def _shares(self) -> RequestCriticality:
        given = [v for v in (self.critical, self.default, self.sheddable) if v is not None]
        if not given:
            raise ValueError("expected the share of at least one of critical, default, sheddable")
        total = math.fsum(given)
        if total > 1 + 1e-9:
            raise ValueError(f"the shares add up to {total:g}, expected at most 1")
        if len(given) == 3 and abs(total - 1) > 1e-9:
            raise ValueError(f"the three shares add up to {total:g}, expected 1")
        return self

    def shares(self) -> tuple[float, float, float]:
        """(critical, default, sheddable): what the declared shares leave goes to the first
        class not declared, in the order default, sheddable, critical (the others get 0)."""
        declared = {"critical": self.critical, "default": self.default, "sheddable": self.sheddable}
        rest = max(0.0, 1.0 - math.fsum(v for v in declared.values() if v is not None))
        for name in ("default", "sheddable", "critical"):
            if declared[name] is None:
                declared[name] = rest
                rest = 0.0
        return (
            declared["critical"] or 0.0,
            declared["default"] or 0.0,
            declared["sheddable"] or 0.0,
        )


class DeclaredFailureMode(_Model):
    """A known failure mode; merged with the kind's catalog (the same name overrides it)."""

    name: str = Field(min_length=1)
    failure: str = Field(min_length=1)
    impact: Level | None = None
    probability: Level | None = None
    transient: bool = False
    detection: int | None = Field(default=None, ge=1, le=10)
    mitigation: str | None = None


class Dependency(_Model):
    """A call edge: hard (the target's outage is the caller's) or soft (only degradation)."""

    target: str = Field(min_length=1)
    type: Literal["hard", "soft"] = "hard"
    fallback: str | None = None
    fallback_availability: float | None = Field(default=None, ge=0, le=100)
    calls_per_request: float = Field(default=1.0, gt=0, le=MAX_CALLS)
    # None: decided by the target's kind (writes to queues and databases are not idempotent)
    idempotent: bool | None = None


class Component(_Model):
    """A deployable part of the system and how it behaves."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    kind: ComponentKind
    description: str = ""
    entry_point: bool = False
    traffic_share: float | None = Field(default=None, gt=0, le=1)
    criticality: Literal["high", "medium", "low"] | None = None
    # bounded: k-of-n sums n terms, and no deployment runs a million replicas of one component
    replicas: int = Field(default=1, ge=1, le=MAX_REPLICAS)
    min_healthy: int = Field(default=1, ge=1, le=MAX_REPLICAS)
    availability: float | None = None
    mtbf: Duration | None = None
    mttr: Duration | None = None
    latency: Latency | None = None
    rps: float | None = Field(default=None, gt=0, le=MAX_RPS)
    latency_budget: Duration | None = None
    zones: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    data: DataSpec | None = None
    quota: Quota | None = None
    capacity: Capacity | None = None
    request_criticality: RequestCriticality | None = None
    probe: ProbeSpec | None = None
    failure_modes: tuple[DeclaredFailureMode, ...] = ()
    dependencies: tuple[Dependency, ...] = ()

    @field_validator("availability")
    @classmethod
    def _availability_percent(cls, value: float | None) -> float | None:
        return None if value is None else _percent(value)

    @model_validator(mode="after")
    def _consistent(self) -> Component:
        problems = []
        if self.min_healthy > self.replicas:
            problems.append(
                f"min_healthy ({self.min_healthy}) must not exceed replicas ({self.replicas})"
            )
        if self.availability is not None and self.mtbf is not None:
            problems.append("give either availability or mtbf + mttr, not both")
        if self.mtbf is not None and self.mttr is None:
            problems.append("mtbf needs mttr (availability = mtbf / (mtbf + mttr))")
        if self.mtbf is not None and self.mtbf <= 0:
            problems.append("mtbf must be above 0")
        if self.mttr is not None and self.mttr <= 0:
            problems.append(
                f"mttr must be above 0, got {self.mttr:g} (a failure that takes no time to"
                " repair makes every availability 100 %)"
            )
        if self.traffic_share is not None and not self.entry_point:
            problems.append("traffic_share is only meaningful with entry_point: true")
        if self.probe is not None and not self.entry_point:
            problems.append("probe is only meaningful with entry_point: true")
        if self.capacity is not None and not self.entry_point:
            problems.append(
                "capacity is only meaningful with entry_point: true (for a dependency, declare"
                " its quota)"
            )
        if self.request_criticality is not None and not (self.entry_point and self.rps):
            problems.append(
                "request_criticality is only meaningful with entry_point: true and rps (the"
                " inbound adaptive limit that sheds by class is sized from rps)"
            )
        if len(set(self.zones)) != len(self.zones) or len(set(self.regions)) != len(self.regions):
            problems.append("zones and regions must not repeat")
        names = [mode.name for mode in self.failure_modes]
        if len(set(names)) != len(names):
            problems.append("failure_modes names must be unique per component")
        targets = [dep.target for dep in self.dependencies]
        if len(set(targets)) != len(targets):
            problems.append("a dependency target may appear only once per component")
        if problems:  # every one at once, one per line (spec_check.describe lists them)
            raise ValueError("\n".join(problems))
        return self


class RecoveryTarget(_Model):
    """An RTO/RPO pair, in seconds."""

    rto: Duration | None = None
    rpo: Duration | None = None


class RecoveryTargets(_Model):
    """Recovery objectives for the whole system, optionally per disruption type."""

    rto: Duration | None = None
    rpo: Duration | None = None
    per_disruption: dict[Literal["software", "host", "zone", "region"], RecoveryTarget] = Field(
        default_factory=dict
    )


class SliSpec(_Model):
    """Counter selectors (the rules wrap them in rate/increase) or a 0/1 probe gauge."""

    errors: str | None = None
    good: str | None = None
    total: str | None = None
    probe: str | None = None

    @model_validator(mode="after")
    def _one_shape(self) -> SliSpec:
        ratio = self.errors is not None or self.good is not None
        if self.probe is not None:
            if ratio or self.total is not None:
                raise ValueError("give either probe or errors/good + total, not both")
            return self
        if self.errors is not None and self.good is not None:
            raise ValueError("give either errors or good, not both")
        if not ratio or self.total is None:
            raise ValueError("expected errors + total, good + total, or probe")
        return self


class SloSpec(_Model):
    """A service level objective measured from Prometheus."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    objective: float | None = None
    sli: SliSpec

    @field_validator("objective")
    @classmethod
    def _objective_percent(cls, value: float | None) -> float | None:
        if value is None:
            return None
        if _percent(value) >= 100:
            raise ValueError("an objective of 100% leaves no error budget (expected below 100)")
        return value


class SystemSpec(_Model):
    """The whole `system.yaml`."""

    version: Literal[1] = 1
    system: str = Field(min_length=1)
    description: str = ""
    tier: Literal["standard", "high", "critical", "ultra"] | None = None
    slo: float | None = None
    slo_period: Literal["30d", "28d", "calendar_month"] = "30d"
    # how the entry points' availabilities meet the target: every one of them (a failing
    # entry is not hidden by busier ones), or their traffic-weighted mean
    entry_weighting: Literal["every_entry", "traffic"] = "every_entry"
    users: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    recovery_targets: RecoveryTargets | None = None
    components: tuple[Component, ...] = Field(min_length=1)
    slos: tuple[SloSpec, ...] = ()

    _index: dict[str, Component] = PrivateAttr(default_factory=dict)
    _source: str = PrivateAttr(default="<spec>")

    @field_validator("slo")
    @classmethod
    def _slo_percent(cls, value: float | None) -> float | None:
        if value is None:
            return None
        if _percent(value) >= 100:
            raise ValueError("an SLO of 100% leaves no error budget (expected below 100)")
        return value

    @model_validator(mode="after")
    def _graph(self) -> SystemSpec:
        problems = []
        if self.tier is None and self.slo is None:
            problems.append(TIER_OR_SLO)
        problems += graph_problems(self.components)
        names = [slo.name for slo in self.slos]
        if len(set(names)) != len(names):
            problems.append("slos: names must be unique")
        if problems:  # every one at once, one per line (spec_check.describe lists them)
            raise ValueError("\n".join(problems))
        return self

    # -- derived, read by every analysis --------------------------------------------------

    @property
    def objective(self) -> float:
        """The availability target in percent: the explicit `slo`, else the tier's."""
        if self.slo is not None:
            return self.slo
        assert self.tier is not None  # guaranteed by the validator
        return TIERS[self.tier]

    @property
    def tier_label(self) -> str:
        """The tier name, or "custom" when only an explicit slo is given."""
        return self.tier if self.tier is not None else "custom"

    def model_post_init(self, context: Any, /) -> None:
        """Index the components by name once (the analyses look them up constantly)."""
        self._index = {c.name: c for c in self.components}

    @property
    def source(self) -> str:
        """Where the spec was read from (`parse_spec`'s `source`), for errors found later."""
        return self._source

    def component(self, name: str) -> Component:
        """The component called `name` (KeyError when there is none)."""
        return self._index[name]

    def entry_shares(self) -> dict[str, float]:
        """Traffic share per entry point (equal split of what declared shares leave).

        Components flagged `entry_point` are the entries; when no component is flagged, every
        component nobody depends on is one. Shares not declared split what the declared ones leave.
        """
        entries = [c for c in self.components if c.entry_point]
        if not entries:
            called = {dep.target for c in self.components for dep in c.dependencies}
            entries = [c for c in self.components if c.name not in called]
        declared = sum(c.traffic_share or 0.0 for c in entries)
        undeclared = [c for c in entries if c.traffic_share is None]
        rest = max(0.0, 1.0 - declared) / len(undeclared) if undeclared else 0.0
        return {c.name: (c.traffic_share if c.traffic_share is not None else rest) for c in entries}


def parse_spec(data: object, source: str = "<spec>") -> SystemSpec:
    """Validate an already-parsed document; `source` names it in errors (usually the file path)."""
    if not isinstance(data, Mapping):
        raise SpecError(f"{source}: expected a mapping at the top level (system, tier, components)")
    try:
        with no_cyclic_gc():  # ~20 objects per component, no cycles: 2.7 s → 1.1 s at 30,000
            spec = SystemSpec.model_validate(dict(data))
        spec._source = source  # what the analyses' errors name (the SLO selectors' parser)
        return spec
    except ValidationError as exc:
        if any(e["loc"] == () for e in exc.errors()):  # the graph was checked: nothing to add
            raise SpecError(describe(SystemSpec, source, exc, data)) from None
        more = raw_problems(data)
        raise SpecError(describe(SystemSpec, source, exc, data, more)) from None
    except RecursionError:  # data parsed elsewhere, nested without bound
        raise SpecError(f"{source}: nested too deeply") from None


def load_spec(path: str | Path) -> SystemSpec:
    """Read (bounded: see `resilience.files`) and validate a `system.yaml` (or JSON; `-` reads
    stdin); raises SpecError naming file and field."""
    with no_cyclic_gc():
        data: Any = read_document(path)
    return parse_spec(data, shown(path))


def spec_warnings(spec: SystemSpec) -> list[str]:
    """Contradictions of a valid spec, as "field: message" lines (see `planner.spec_check`)."""
    return warnings(spec.components)
