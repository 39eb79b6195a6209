"""Export an experiment to Chaos Toolkit's JSON format, for teams that already run ``chaos run``.

The mapping:

- switching an injection becomes a native ``http`` action (``POST {admin_url}/{policy}``) whose
  token comes from a Chaos Toolkit secret read from ``$RELIABILITY_CHAOS_TOKEN`` (or the variable
  given to `to_chaostoolkit`); Chaos Toolkit's ``requests`` drops that header on a redirect to
  another host;
- a one-request HTTP probe judged by its status becomes a native ``http`` probe;
- everything else (many-request probes, load, Prometheus values, metrics) becomes a ``python``
  provider calling `chaos.ctk_providers` (install reliability-os next to chaostoolkit);
- a metric probe with ``mode: increase`` gets a baseline probe at the start of the method;
- ``runtime.rollbacks.strategy`` is ``always``: Chaos Toolkit's default skips rollbacks after a
  deviation, which would leave the fault injected.

Chaos Toolkit records but does not judge tolerances on *method* probes; the export lists them in
``extensions`` so the difference is visible. Added in 0.1.0.
"""

from __future__ import annotations

import math
import sys
from typing import Any

from chaos.admin import TOKEN_ENV
from chaos.experiment import (
    Action,
    Experiment,
    ExperimentError,
    HttpProvider,
    InjectionProvider,
    LoadProvider,
    MetricProvider,
    Probe,
    PrometheusProvider,
    RangeTolerance,
    RegexTolerance,
    Tolerance,
)

PROVIDERS_MODULE = "chaos.ctk_providers"
SECRET_SCOPE = "reliability"
TOKEN_SECRET = "chaos_admin_token"


def _finite(value: float) -> float:
    # JSON has no infinity: the largest double stands in for an open upper bound.
    if math.isinf(value):
        return sys.float_info.max if value > 0 else -sys.float_info.max
    return value


def _tolerance(tolerance: Tolerance) -> Any:
    if isinstance(tolerance, RangeTolerance):
        data: dict[str, Any] = {"type": "range", "range": [_finite(v) for v in tolerance.range]}
        if tolerance.target:
            data["target"] = tolerance.target
        return data
    if isinstance(tolerance, RegexTolerance):
        data = {"type": "regex", "pattern": tolerance.pattern}
        if tolerance.target:
            data["target"] = tolerance.target
        return data
    return tolerance


def _python(func: str, provider: Any, exclude: set[str] | None = None) -> dict[str, Any]:
    arguments = provider.model_dump(
        mode="json", exclude={"type", *(exclude or set())}, exclude_none=True
    )
    return {"type": "python", "module": PROVIDERS_MODULE, "func": func, "arguments": arguments}


def _injection(provider: InjectionProvider) -> dict[str, Any]:
    body: dict[str, Any] = {"enabled": provider.enabled}
    for key in ("fault", "injection_rate", "latency"):
        value = getattr(provider, key)
        if value is not None:
            body[key] = value
    return {
        "type": "http",
        "url": f"{provider.admin_url.rstrip('/')}/{provider.policy}",
        "method": "POST",
        "headers": {
            "Content-Type": "application/json",
            "Authorization": f"Bearer ${{{TOKEN_SECRET}}}",
        },
        "arguments": body,
        "expected_status": 200,
        "timeout": provider.timeout,
        "secrets": [SECRET_SCOPE],
    }


def _provider(activity: Probe | Action) -> dict[str, Any]:
    provider = activity.provider
    if isinstance(provider, InjectionProvider):
        return _injection(provider)
    if isinstance(provider, LoadProvider):
        return _python("drive_load", provider)
    if isinstance(provider, HttpProvider):
        tolerance = activity.tolerance if isinstance(activity, Probe) else None
        by_status = not isinstance(tolerance, RangeTolerance | RegexTolerance) or (
            tolerance.target in (None, "status")
        )
        if provider.requests == 1 and by_status:
            native: dict[str, Any] = {
                "type": "http",
                "url": provider.url,
                "method": provider.method,
                "timeout": provider.timeout,
            }
            if provider.headers:
                native["headers"] = provider.headers
            if provider.body is not None:
                native["arguments"] = provider.body
            if provider.expected_status is not None:
                native["expected_status"] = provider.expected_status
            return native
        return _python("http_requests", provider)
    if isinstance(provider, PrometheusProvider):
        return _python("prometheus_query", provider)
    if isinstance(provider, MetricProvider):
        func = "metric_increase" if provider.mode == "increase" else "metric_value"
        return _python(func, provider, {"mode"})
    raise TypeError(f"unknown provider {provider!r}")


def _activity(activity: Probe | Action) -> dict[str, Any]:
    data: dict[str, Any] = {
        "type": activity.type,
        "name": activity.name,
        "provider": _provider(activity),
    }
    if isinstance(activity, Probe) and activity.tolerance is not None:
        data["tolerance"] = _tolerance(activity.tolerance)
    pauses = {
        k: v for k, v in (("before", activity.pauses.before), ("after", activity.pauses.after)) if v
    }
    if pauses:
        data["pauses"] = pauses
    if activity.background:
        data["background"] = True
    return data


def to_chaostoolkit(
    experiment: Experiment, source: str = "<experiment>", *, token_env: str = TOKEN_ENV
) -> dict[str, Any]:
    """The experiment as a Chaos Toolkit experiment (a JSON-ready dict).

    Chaos Toolkit reads the admin token from the environment variable `token_env`.
    """
    hypothesis = experiment.steady_state_hypothesis
    if hypothesis is not None:
        for i, probe in enumerate(hypothesis.probes):
            if isinstance(probe.provider, MetricProvider) and probe.provider.mode == "increase":
                raise ExperimentError(
                    f"{source}: steady-state-hypothesis.probes[{i}].provider.mode: 'increase' "
                    "cannot be exported (Chaos Toolkit has no step before the hypothesis to read "
                    "the baseline); use it in the method"
                )
    method: list[dict[str, Any]] = []
    for activity in experiment.method:
        provider = activity.provider
        if isinstance(provider, MetricProvider) and provider.mode == "increase":
            method.append(
                {
                    "type": "probe",
                    "name": f"baseline-{activity.name}",
                    "provider": _python("metric_baseline", provider, {"mode"}),
                }
            )
    method.extend(_activity(a) for a in experiment.method)
    uses_token = any(
        isinstance(a.provider, InjectionProvider)
        for a in (*experiment.method, *experiment.rollbacks)
    )
    data: dict[str, Any] = {
        "version": "1.0.0",
        "title": experiment.title,
        "description": experiment.description or experiment.title,
        "tags": list(experiment.tags),
    }
    if experiment.contributions:
        data["contributions"] = dict(experiment.contributions)
    if experiment.configuration:
        data["configuration"] = dict(experiment.configuration)
    if uses_token:
        data["secrets"] = {SECRET_SCOPE: {TOKEN_SECRET: {"type": "env", "key": token_env}}}
    if hypothesis is not None:
        data["steady-state-hypothesis"] = {
            "title": hypothesis.title,
            "probes": [_activity(p) for p in hypothesis.probes],
        }
    data["method"] = method
    data["rollbacks"] = [_activity(a) for a in experiment.rollbacks]
    data["runtime"] = {
        "rollbacks": {"strategy": "always"},
        "hypothesis": {"strategy": "default", "frequency": experiment.runtime.hypothesis_frequency},
    }
    judged = [a.name for a in experiment.method if isinstance(a, Probe) and a.tolerance is not None]
    data["extensions"] = [
        {
            "name": "reliability-os",
            "judged_method_probes": judged,
            "note": "`reliability chaos run` fails the experiment when these method probes are out "
            "of tolerance; Chaos Toolkit only records them",
        }
    ]
    return data
