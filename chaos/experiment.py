"""The experiment file: a YAML (or JSON) document shaped like a Chaos Toolkit experiment.

::

    version: 1
    title: llm-primary outage is contained
    description: With 50 % of llm-primary calls failing, the gateway still meets its SLO.
    tags: [planner-generated, FM-001]
    configuration:                      # ${name} in any string below is replaced by its value
      base_url: http://127.0.0.1:8080
      admin_url: http://127.0.0.1:8080/admin/chaos
    steady-state-hypothesis:
      title: the SLO holds
      probes:
        - type: probe
          name: gateway-error-ratio
          provider: {type: http, url: "${base_url}/ask", requests: 200, concurrency: 10}
          tolerance: {type: range, range: [0, 0.0001], target: error_ratio}
    method:
      - type: action
        name: fail-half-of-llm-primary
        provider: {type: injection, admin_url: "${admin_url}", policy: llm-primary,
                   fault: fault, enabled: true, injection_rate: 0.5}
        pauses: {after: 1}
      - type: probe
        name: breaker-opened
        provider: {type: metric, url: "${base_url}/metrics",
                   name: resilience_circuit_breaker_transitions_total,
                   labels: {policy: llm-primary, to_state: open}, mode: increase}
        tolerance: {type: range, range: [1, .inf]}
    rollbacks:
      - type: action
        name: stop-failing-llm-primary
        provider: {type: injection, admin_url: "${admin_url}", policy: llm-primary, enabled: false}

Providers: probes use ``http`` (status, error ratio, latency), ``prometheus`` (an instant query)
or ``metric`` (one metric from a ``/metrics`` endpoint or from this process's registry); actions
use ``injection`` (switch a strategy through `chaos.admin`), ``load`` (bounded requests against a
URL) or ``http``. Tolerances are Chaos Toolkit's: a scalar (matched exactly), ``[low, high]``
(inclusive), a longer list (membership), ``{type: range, range: [low, high]}`` or
``{type: regex, pattern: ...}``; ``target`` picks a field of a probe's result (``error_ratio``,
``latency_p99``); without it a result with a ``status`` is judged by its status, as in Chaos
Toolkit. Unlike Chaos Toolkit, a tolerance on a *method* probe is judged too: it is how an
experiment checks what a plan predicts during the fault (the breaker opened, the fallback served).

Limits (an experiment file is data from whoever wrote it, so everything it can ask for is bounded):
``requests`` ≤ `MAX_REQUESTS` (10,000) and ``concurrency`` ≤ `MAX_CONCURRENCY` (100) per probe or
action, a load ``rate`` ≤ `MAX_RATE` (1,000 requests/s), every ``timeout`` in (0, `MAX_TIMEOUT`]
(600 s), every pause and ``runtime.hypothesis_frequency`` ≤ `MAX_PAUSE` (3,600 s; the frequency
≥ 0.01 s), an injected ``latency`` ≤ `MAX_LATENCY` (600 s), ``injection_rate`` in [0, 1],
``expected_status`` in 100–599, and at most `MAX_ACTIVITIES` (1,000) activities in the method, in
the rollbacks and in the hypothesis. The file does not say which hosts it may reach (the runner's
`chaos.hosts.AllowedHosts`), nor where the admin token comes from: a ``token_env`` field is
refused.

A bad file raises `ExperimentError` naming the file and the field. Added in 0.1.0.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal, TypeAlias

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from resilience import ResilienceError
from resilience.durations import Duration
from resilience.files import SAFE_DUMPER, DocumentError, read_document

MAX_REQUESTS = 10_000
"""Upper bound of requests one probe or load action may send: chaos load stays bounded."""

MAX_CONCURRENCY = 100
"""Upper bound of concurrent requests of one probe or load action."""

MAX_RATE = 1_000.0
"""Upper bound of a load action's pace, requests per second."""

MAX_TIMEOUT = 600.0
"""Upper bound, seconds, of one request's `timeout` (any provider)."""

MAX_PAUSE = 3_600.0
"""Upper bound, seconds, of a pause before or after an activity, and of
``runtime.hypothesis_frequency``."""

MIN_HYPOTHESIS_FREQUENCY = 0.01
"""Lower bound, seconds, of ``runtime.hypothesis_frequency`` (the live sampling's period)."""

MAX_LATENCY = 600.0
"""Upper bound, seconds, of the latency an injection action switches on."""

MAX_ACTIVITIES = 1_000
"""Upper bound of the activities in the method, in the rollbacks, and of steady-state probes."""

MAX_HEADERS = 100
"""Upper bound of the headers an ``http`` or ``load`` provider sets."""

_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}")  # an RFC 9110 token
_HEADER_FORBIDDEN = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

TOKEN_ENV_REFUSED = (
    "an experiment file cannot choose the environment variable its admin token is read from; "
    "remove `token_env`: the runner reads $RELIABILITY_CHAOS_TOKEN, or the variable named with "
    "`reliability chaos run --token-env NAME`"
)


class ExperimentError(ResilienceError, ValueError):
    """An experiment file is invalid; the message names the file, the field and what's expected."""


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, ser_json_inf_nan="constants"
    )


# ------------------------------------------------------------------------------------- tolerances


class RangeTolerance(_Model):
    """Inclusive ``[low, high]`` on a number (``.inf`` for no upper bound)."""

    type: Literal["range"]
    range: tuple[float, float]
    target: str | None = None

    @field_validator("range")
    @classmethod
    def _ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        if math.isnan(value[0]) or math.isnan(value[1]) or value[0] > value[1]:
            raise ValueError(f"expected [low, high] with low <= high, got {list(value)}")
        return value


class RegexTolerance(_Model):
    """The result (as text) must match `pattern`."""

    type: Literal["regex"]
    pattern: str = Field(max_length=1_000)
    target: str | None = None

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"expected a regular expression: {exc}") from exc
        return value


Scalar: TypeAlias = bool | int | float | str

RequestTimeout: TypeAlias = Annotated[Duration, Field(gt=0, le=MAX_TIMEOUT)]
"""One request's timeout: seconds (or ``"2s"``), more than 0 and at most `MAX_TIMEOUT`."""

Pause: TypeAlias = Annotated[Duration, Field(le=MAX_PAUSE)]
"""A pause: seconds (or ``"1m"``), at most `MAX_PAUSE`."""
Tolerance: TypeAlias = (
    Annotated[RangeTolerance | RegexTolerance, Field(discriminator="type")] | list[Scalar] | Scalar
)


# -------------------------------------------------------------------------------------- providers


class HttpProvider(_Model):
    """Send `requests` HTTP requests (`concurrency` at a time) and summarise what came back.

    The result: ``status`` (of the last response; None when it failed), ``requests``, ``errors``
    (5xx, no response, or a status other than `expected_status` when given), ``error_ratio``,
    ``statuses`` (count per status) and ``latency_p50``, ``latency_p99``, ``latency_max``,
    ``latency_mean`` (seconds).
    """

    type: Literal["http"]
    url: str
    method: Literal["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"] = "GET"
    headers: dict[str, str] = Field(default={}, max_length=MAX_HEADERS)
    body: Any = None
    expected_status: int | None = Field(default=None, ge=100, le=599)
    requests: int = Field(1, ge=1, le=MAX_REQUESTS)
    concurrency: int = Field(1, ge=1, le=MAX_CONCURRENCY)
    timeout: RequestTimeout = 5.0

    @field_validator("headers")
    @classmethod
    def _valid_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"{name[:200]!r} is not an HTTP header name")
            if _HEADER_FORBIDDEN.search(text):
                raise ValueError(f"header {name!r}: control characters (CR, LF, NUL) in its value")
        return value


class LoadProvider(HttpProvider):
    """Drive bounded load: like `HttpProvider`, optionally paced at `rate` requests per second."""

    type: Literal["load"]  # type: ignore[assignment]
    requests: int = Field(100, ge=1, le=MAX_REQUESTS)
    rate: float | None = Field(None, gt=0, le=MAX_RATE)


class PrometheusProvider(_Model):
    """An instant query against a Prometheus-compatible server: the first sample's value."""

    type: Literal["prometheus"]
    url: str
    query: str
    timeout: RequestTimeout = 5.0


class MetricProvider(_Model):
    """The sum of the samples of metric `name` whose labels include `labels`.

    From the ``/metrics`` page at `url`, or, without `url`, from this process's prometheus-client
    registry (an experiment run in the service's own process, e.g. in its tests). With ``mode:
    increase`` the result is the change since the experiment started.
    """

    type: Literal["metric"]
    name: str
    labels: dict[str, str] = {}
    url: str | None = None
    mode: Literal["value", "increase"] = "value"
    timeout: RequestTimeout = 5.0


class InjectionProvider(_Model):
    """Switch a chaos strategy of `policy` on a running service through its admin endpoint.

    The token is never in the file, nor the variable it is read from: the runner reads
    ``$RELIABILITY_CHAOS_TOKEN`` (or the variable given on its command line) and sends it to the
    admin URL's host only.
    """

    type: Literal["injection"]
    admin_url: str
    policy: str
    enabled: bool
    fault: Literal["fault", "latency", "outcome", "behaviour"] | None = None
    injection_rate: float | None = Field(None, ge=0, le=1)
    latency: Annotated[Duration, Field(le=MAX_LATENCY)] | None = None
    timeout: RequestTimeout = 5.0


ProbeProvider: TypeAlias = Annotated[
    HttpProvider | PrometheusProvider | MetricProvider, Field(discriminator="type")
]
ActionProvider: TypeAlias = Annotated[
    InjectionProvider | LoadProvider | HttpProvider, Field(discriminator="type")
]


# ------------------------------------------------------------------------------------- activities


class Pauses(_Model):
    """Seconds to wait before and after an activity."""

    before: Pause = 0.0
    after: Pause = 0.0


class Probe(_Model):
    """Observe the system; judged against `tolerance` when it has one."""

    type: Literal["probe"]
    name: str = Field(min_length=1)
    provider: ProbeProvider
    tolerance: Tolerance | None = None
    pauses: Pauses = Field(default_factory=Pauses)
    background: bool = False


class Action(_Model):
    """Change the system (switch an injection, drive load)."""

    type: Literal["action"]
    name: str = Field(min_length=1)
    provider: ActionProvider
    pauses: Pauses = Field(default_factory=Pauses)
    background: bool = False


Activity: TypeAlias = Annotated[Probe | Action, Field(discriminator="type")]


class Hypothesis(_Model):
    """The steady state: probes that must all be within tolerance before and after the method."""

    title: str
    probes: list[Probe] = Field(min_length=1, max_length=MAX_ACTIVITIES)

    @model_validator(mode="after")
    def _tolerances(self) -> Hypothesis:
        for i, probe in enumerate(self.probes):
            if probe.tolerance is None:
                raise ValueError(
                    f"probes[{i}] ({probe.name}): a steady-state probe needs a tolerance"
                )
        return self


class Runtime(_Model):
    """How the runner samples the steady state during the method."""

    hypothesis_frequency: Annotated[Duration, Field(ge=MIN_HYPOTHESIS_FREQUENCY, le=MAX_PAUSE)] = (
        1.0
    )


class Experiment(_Model):
    """One experiment (see the module docstring)."""

    version: Literal[1] = 1
    title: str = Field(min_length=1)
    description: str = ""
    tags: list[str] = []
    contributions: dict[str, Literal["high", "medium", "low", "none"]] = {}
    configuration: dict[str, str | int | float] = {}
    steady_state_hypothesis: Hypothesis | None = Field(None, alias="steady-state-hypothesis")
    method: list[Activity] = Field(min_length=1, max_length=MAX_ACTIVITIES)
    rollbacks: list[Action] = Field(default=[], max_length=MAX_ACTIVITIES)
    runtime: Runtime = Runtime()
    extensions: dict[str, Any] = {}

    def to_dict(self) -> dict[str, Any]:
        """The experiment as plain JSON-ready data, with the file's key names."""
        return self.model_dump(mode="json", by_alias=True, exclude_defaults=False)


# ---------------------------------------------------------------------------------------- loading

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _substitute(value: Any, variables: dict[str, Any], where: str, source: str) -> Any:
    if isinstance(value, str):
        whole = _VAR.fullmatch(value)
        if whole and whole.group(1) in variables:
            return variables[whole.group(1)]  # keep a number a number

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in variables:
                raise ExperimentError(
                    f"{source}: {where}: ${{{name}}} is not defined in `configuration`"
                )
            return str(variables[name])

        return _VAR.sub(replace, value)
    if isinstance(value, list):
        return [_substitute(v, variables, f"{where}[{i}]", source) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: _substitute(v, variables, f"{where}.{k}", source) for k, v in value.items()}
    return value


_TAGS = {"probe", "action", "http", "load", "prometheus", "metric", "injection", "range", "regex"}


def _field_path(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    previous: int | str | None = None
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in _TAGS and (isinstance(previous, int) or previous in ("provider", "tolerance")):
            pass  # the discriminator tag pydantic adds after a union: not the user's field name
        elif item.startswith(("list[", "bool", "int", "float", "str", "tagged-union")):
            continue  # a union member's type name (the tag test looks past it)
        else:
            parts.append(f".{item}" if parts else str(item))
        previous = item
    return "".join(parts) or "(top level)"


def _refuse_token_env(data: dict[str, Any], source: str) -> None:
    """A provider naming `token_env` is refused by name (not as a mere unknown field)."""
    hypothesis = data.get("steady-state-hypothesis")
    sections = {
        "steady-state-hypothesis.probes": (
            hypothesis.get("probes") if isinstance(hypothesis, dict) else None
        ),
        "method": data.get("method"),
        "rollbacks": data.get("rollbacks"),
    }
    for where, activities in sections.items():
        if not isinstance(activities, list):
            continue
        for i, activity in enumerate(activities):
            provider = activity.get("provider") if isinstance(activity, dict) else None
            if isinstance(provider, dict) and "token_env" in provider:
                raise ExperimentError(
                    f"{source}: {where}[{i}].provider.token_env: {TOKEN_ENV_REFUSED}"
                )


def parse_experiment(data: object, source: str = "<experiment>") -> Experiment:
    """Validate experiment data (already parsed from YAML/JSON); `source` names it in errors."""
    if not isinstance(data, dict):
        raise ExperimentError(f"{source}: expected a mapping with title, method, ... at the top")
    _refuse_token_env(data, source)
    variables = data.get("configuration") or {}
    if not isinstance(variables, dict):
        raise ExperimentError(f"{source}: configuration: expected a mapping of names to values")
    resolved = {
        key: (
            value
            if key in {"configuration", "description", "title"}
            else _substitute(value, variables, key, source)
        )
        for key, value in data.items()
    }
    try:
        return Experiment.model_validate(resolved)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = _field_path(tuple(first["loc"]))
        message = first["msg"]
        if first["type"] == "extra_forbidden":
            message = "unknown field"
        elif first["type"] == "missing":
            message = "required field is missing"
        elif first["type"] == "value_error":
            message = message.removeprefix("Value error, ")
        raise ExperimentError(f"{source}: {field}: {message}") from None


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment file (YAML, or JSON by its ``.json`` suffix)."""
    source = str(path)
    try:
        data = read_document(path)  # bounded in size, depth and aliases: resilience.files
    except FileNotFoundError:
        raise ExperimentError(f"{source}: no such experiment file") from None
    except OSError as exc:
        raise ExperimentError(f"{source}: cannot read it ({exc.strerror or exc})") from None
    except DocumentError as exc:
        raise ExperimentError(f"{source}: {exc}") from None
    return parse_experiment(data, source)


def dump_document(data: dict[str, Any]) -> str:
    """Experiment data (e.g. with ``${...}`` placeholders kept) as YAML, in the given key order
    (libyaml's emitter: `chaos generate` writes one file per P1/P2 failure mode)."""
    return yaml.dump(data, Dumper=SAFE_DUMPER, sort_keys=False, allow_unicode=True, width=100)
