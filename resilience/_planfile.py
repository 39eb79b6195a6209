"""Reading a plan file: parse, validate completely, resolve inheritance, explain every problem.

Nothing here builds a mechanism: `read_plan` returns validated, fully resolved `PolicyConfig`s (no
`base`, every inherited option filled in) or raises one `PlanError` that lists every problem, each
naming the file, the field path (``mechanisms.llm-primary.retry.max_attempts``) and what was
expected.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from resilience._errors import ConfigError
from resilience.config import (
    DEFAULTS,
    MECHANISMS,
    RESOLVE_IMPORTS,
    WAIT_KINDS,
    BulkheadConfig,
    CircuitBreakerConfig,
    ExponentialOpenDuration,
    FallbackConfig,
    HedgeConfig,
    PlanFile,
    PolicyConfig,
    RateLimiterConfig,
    RedisStorageConfig,
    RetryBudgetConfig,
    RetryConfig,
    StorageConfig,
    WaitConfig,
)

PlanSource = str | os.PathLike[str] | Mapping[str, Any]
"""A path to a YAML or JSON plan file, or the plan already parsed into a mapping."""


class PlanError(ConfigError):
    """A plan that cannot be loaded; `problems` lists every ``(field path, what was expected)``.

    Added in 0.1.0.
    """

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = tuple(problems)
        lines = [f"{path}: {problem}" if path else problem for path, problem in problems]
        if len(lines) == 1:
            message = f"{source}: {lines[0]}"
        else:
            message = f"{source}: {len(lines)} problems: " + "; ".join(lines)
        super().__init__(message)


@dataclass(frozen=True)
class ReadPlan:
    """A validated plan: the file's header and every policy's resolved configuration."""

    source: str
    path: Path | None
    plan: PlanFile
    policies: dict[str, PolicyConfig]


def source_label(source: PlanSource) -> str:
    """How errors name the plan: its path, or ``<plan mapping>``."""
    if isinstance(source, Mapping):
        return "<plan mapping>"
    if not isinstance(source, str | os.PathLike):
        raise TypeError(f"load_plan: expected a path or a mapping, got {type(source).__name__}")
    return os.fspath(source)


def _parse(path: Path, label: str) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(
            label, [("", f"cannot read the plan file ({exc.strerror or exc})")]
        ) from None
    except UnicodeDecodeError:
        raise PlanError(label, [("", "expected a UTF-8 text file (YAML or JSON)")]) from None
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            where = f"line {exc.lineno}, column {exc.colno}"
            raise PlanError(label, [("", f"expected valid JSON ({exc.msg} at {where})")]) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        reason = getattr(exc, "problem", None) or type(exc).__name__
        raise PlanError(label, [("", f"expected valid YAML ({reason}{where})")]) from None


def read_plan(source: PlanSource) -> ReadPlan:
    """Parse, validate (importing every dotted path) and resolve a plan; raise `PlanError`."""
    label = source_label(source)
    path: Path | None = None
    if isinstance(source, Mapping):
        data: object = source
    else:
        path = Path(source)
        data = _parse(path, label)
    if not isinstance(data, Mapping):
        got = "an empty file" if data is None else type(data).__name__
        raise PlanError(
            label, [("", f"expected a mapping with version, system, mechanisms; got {got}")]
        )
    try:
        plan = PlanFile.model_validate(data, context={RESOLVE_IMPORTS: True})
    except ValidationError as exc:
        raise PlanError(label, [_explain(err) for err in exc.errors()]) from None
    policies = resolve(plan, label)
    return ReadPlan(source=label, path=path, plan=plan, policies=policies)


# ----------------------------------------------------------------------------- explaining errors

_SECTIONS: dict[str, type[BaseModel]] = {
    "retry": RetryConfig,
    "circuit_breaker": CircuitBreakerConfig,
    "bulkhead": BulkheadConfig,
    "rate_limiter": RateLimiterConfig,
    "fallback": FallbackConfig,
    "hedge": HedgeConfig,
    "budget": RetryBudgetConfig,
    "storage": StorageConfig,
    "redis": RedisStorageConfig,
}

# The tag a discriminated union adds to an error's location, per field: dropped from the path.
_TAGS = {
    "wait": WAIT_KINDS,
    "open_duration": {"seconds", "exponential"},
    "delay": {"seconds", "percentile"},
}


def _wait_model(kind: str) -> type[BaseModel] | None:
    for member in WaitConfig.__origin__.__args__:  # type: ignore[attr-defined]
        if member.model_fields["kind"].annotation.__args__[0] == kind:
            return member  # type: ignore[no-any-return]
    return None


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model whose keys are valid at `loc` (the location of an unknown key's parent)."""
    if not loc:
        return PlanFile
    if loc[0] == "mechanisms" and len(loc) == 2:
        return PolicyConfig
    last = loc[-1]
    if len(loc) >= 2 and loc[-2] == "wait" and isinstance(last, str):
        return _wait_model(last)
    if len(loc) >= 2 and loc[-2] == "open_duration" and last == "exponential":
        return ExponentialOpenDuration
    return _SECTIONS.get(str(last))


def _path(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    previous: int | str | None = None
    for item in loc:
        if isinstance(previous, str) and previous in _TAGS and item in _TAGS[previous]:
            previous = None
            continue
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + item)
        previous = item
    return "".join(parts)


def _explain(err: ErrorDetails) -> tuple[str, str]:
    loc = tuple(err["loc"])
    kind = err["type"]
    msg = err["msg"]
    got = err.get("input")
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        allowed = ", ".join(model.model_fields) if model is not None else ""
        expected = f"; expected one of: {allowed}" if allowed else ""
        return _path(loc[:-1]) or "(top level)", f"unknown key {loc[-1]!r}{expected}"
    if kind == "missing":
        return _path(loc), "required, but not set"
    if kind == "union_tag_not_found":
        return _path(loc), f"expected a 'kind' key, one of: {', '.join(sorted(WAIT_KINDS))}"
    if kind == "union_tag_invalid":
        tag = (err.get("ctx") or {}).get("tag")
        return _path(loc), f"expected kind one of: {', '.join(sorted(WAIT_KINDS))}; got {tag!r}"
    if kind == "value_error":
        return _path(loc), msg.removeprefix("Value error, ")
    if kind == "literal_error" and loc == ("version",):
        return "version", f"expected 1 (the only plan format this version reads), got {got!r}"
    if msg.startswith("Input should be greater") or msg.startswith("Input should be less"):
        return _path(loc), f"expected a number {msg.removeprefix('Input should be ')}, got {got!r}"
    if msg.startswith("Input should be "):
        return _path(loc), f"expected {msg.removeprefix('Input should be ')}, got {got!r}"
    if msg.startswith("String should match pattern") and loc[:1] == ("mechanisms",):
        return _path(loc[:2]), (
            "expected a policy name of letters, digits and _ . : - (starting with a letter or "
            f"digit, at most 128 characters), got {loc[1]!r}"
        )
    return _path(loc), f"{msg}, got {got!r}"


# --------------------------------------------------------------------------------- inheritance


def _chain(name: str, entries: Mapping[str, PolicyConfig]) -> list[str] | str:
    """Names from `name` up its `base` chain, or an error message (unknown base, cycle)."""
    chain = [name]
    while True:
        base = entries[chain[-1]].base
        if base is None:
            return chain
        if base == DEFAULTS:
            return "expected the name of another policy; every policy already inherits 'defaults'"
        if base not in entries:
            known = ", ".join(sorted(n for n in entries if n != DEFAULTS)) or "none"
            return f"expected the name of another policy (known: {known}), got {base!r}"
        if base in chain:
            return "inheritance cycle: " + " → ".join([*chain, base])
        chain.append(base)


def _merge_section(section: str, layers: list[PolicyConfig]) -> BaseModel | None:
    """Option by option, the most specific layer first; an explicit null stops inheritance."""
    merged: dict[str, Any] = {}
    model: type[BaseModel] | None = None
    for layer in layers:
        if section not in layer.model_fields_set:
            continue
        value = getattr(layer, section)
        if value is None:
            break
        model = type(value)
        for field in value.model_fields_set:
            merged.setdefault(field, getattr(value, field))
    if model is None:
        return None
    return model.model_construct(_fields_set=set(merged), **merged)


_REQUIRED = {"bulkhead": "max_concurrent", "rate_limiter": "rate_per_second", "hedge": "delay"}


def resolve(plan: PlanFile, label: str) -> dict[str, PolicyConfig]:
    """Every policy's configuration after inheritance: own → base chain → defaults."""
    entries = plan.mechanisms
    defaults = entries.get(DEFAULTS)
    problems: list[tuple[str, str]] = []
    resolved: dict[str, PolicyConfig] = {}
    for name in entries:
        if name == DEFAULTS:
            continue
        chain = _chain(name, entries)
        if isinstance(chain, str):
            problems.append((f"mechanisms.{name}.base", chain))
            continue
        layers = [entries[n] for n in chain] + ([defaults] if defaults is not None else [])
        fields: dict[str, Any] = {}
        for field in ("critical", "timeout", "deadline"):
            for layer in layers:
                if field in layer.model_fields_set:
                    fields[field] = getattr(layer, field)
                    break
        for section in MECHANISMS:
            value = _merge_section(section, layers)
            if value is None:
                continue
            fields[section] = value
            required = _REQUIRED.get(section)
            if required is not None and getattr(value, required) is None:
                problems.append(
                    (
                        f"mechanisms.{name}.{section}.{required}",
                        "required, but set neither here, nor in its base policies, nor in defaults",
                    )
                )
        resolved[name] = PolicyConfig.model_construct(_fields_set=set(fields), **fields)
    if problems:
        raise PlanError(label, problems)
    return resolved
