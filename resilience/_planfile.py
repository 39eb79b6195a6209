"""Reading a plan file: parse, validate completely, resolve inheritance, explain every problem.

Nothing here builds a mechanism: `read_plan` returns validated, fully resolved `PolicyConfig`s (no
`base`, every inherited option filled in) or raises one `PlanError` that lists every problem, each
naming the file, the field path (``mechanisms.llm-primary.retry.max_attempts``) and what was
expected.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from resilience._config_names import NAMES
from resilience._errors import ConfigError
from resilience._json_head import json_head
from resilience.config import (
    DEFAULTS,
    MECHANISMS,
    WAIT_KINDS,
    AdaptiveLimiterConfig,
    BulkheadConfig,
    CircuitBreakerConfig,
    ExponentialOpenDuration,
    FallbackConfig,
    HedgeConfig,
    OutlierDetectionConfig,
    PlanFile,
    PolicyConfig,
    RateLimiterConfig,
    RedisStorageConfig,
    RetryBudgetConfig,
    RetryConfig,
    SharesConfig,
    StorageConfig,
    WaitConfig,
)
from resilience.files import (
    DocumentError,
    Limits,
    check_depth,
    decode,
    parse_document,
    read_bytes,
    read_head,
    short_repr,
    shorten,
    too_large,
)
from resilience.names import Names

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
    names: Names


def source_label(source: PlanSource) -> str:
    """How errors name the plan: its path, or ``<plan mapping>``."""
    if isinstance(source, Mapping):
        return "<plan mapping>"
    if not isinstance(source, str | os.PathLike):
        raise TypeError(f"load_plan: expected a path or a mapping, got {type(source).__name__}")
    return os.fspath(source)


_STABLE_READS = 5
"""Reads of a changing file before it is refused as still being written."""


def _read_stable(path: Path, read: Callable[[], bytes], limit: int | None = None) -> bytes:
    """The file's bytes (`read()`: all, or the first `limit`) once two reads in a row agree on
    content, size and modification time.

    A plan written in place (not renamed into place) can be caught mid-write; a writer still
    writing changes one of the three between two reads. (A writer paused mid-write is caught by
    the seal `reliability plan` writes, or by reload's refusal to drop a mechanism in use.)
    """
    previous: tuple[bytes, int, int] | None = None
    for _ in range(_STABLE_READS):
        data = read()
        stat = path.stat()
        current = (data, stat.st_size, stat.st_mtime_ns)
        whole = stat.st_size if limit is None else min(stat.st_size, limit)
        if whole == len(data) and current == previous:
            return data
        previous = current
    raise DocumentError(
        f"the file changed during {_STABLE_READS} reads in a row: it is still being written "
        "(write plans to a temporary file, then rename it over the plan)"
    )


def _json_head(path: Path, limits: Limits) -> object | None:
    """A JSON plan's members before its `report` (`resilience._json_head`), read no further
    than the size limit; None when that is not how to read it (then it is parsed whole)."""
    limit = limits.max_bytes
    sizes: list[int] = []

    def read() -> bytes:
        data, size = read_head(path, limit)
        sizes.append(size)
        return data

    data = _read_stable(path, read, limit)
    cut = sizes[-1] > len(data)
    if cut:  # the text up to the limit: a character the limit splits is left out
        try:
            text = codecs.getincrementaldecoder("utf-8-sig")().decode(data, final=False)
        except UnicodeDecodeError as exc:
            raise DocumentError(f"expected UTF-8 text, byte {exc.start} is not") from None
    else:
        text = decode(data)
    head = json_head(text, "report")
    if head is None or "mechanisms" not in head:
        if cut:
            raise too_large(sizes[-1], limit)
        return None  # parsed whole: its error, or a report written before the mechanisms
    check_depth(head, limits.max_depth)
    return head


def _parse(path: Path, label: str, limits: Limits) -> object:
    try:
        if path.suffix.lower() == ".json":
            head = _json_head(path, limits)
            if head is not None:
                return head
        data = _read_stable(path, lambda: read_bytes(path, limits))
        return parse_document(
            decode(data), json_format=path.suffix.lower() == ".json", limits=limits
        )
    except OSError as exc:
        raise PlanError(
            label, [("", f"cannot read the plan file ({exc.strerror or exc})")]
        ) from None
    except DocumentError as exc:
        raise PlanError(label, [("", str(exc))]) from None


def read_plan(
    source: PlanSource, names: Names | None = None, limits: Limits | None = None
) -> ReadPlan:
    """Parse (bounded), validate (resolving every name against `names`) and resolve a plan;
    raise `PlanError`. Nothing is imported."""
    label = source_label(source)
    names = names if names is not None else Names()
    path: Path | None = None
    if isinstance(source, Mapping):
        data: object = source
    else:
        path = Path(source)
        try:
            data = _parse(path, label, limits or Limits.from_env())
        except DocumentError as exc:  # the limit from the environment is itself wrong
            raise PlanError(label, [("", str(exc))]) from None
    if not isinstance(data, Mapping):
        got = "an empty file" if data is None else type(data).__name__
        raise PlanError(
            label, [("", f"expected a mapping with version, system, mechanisms; got {got}")]
        )
    try:
        plan = PlanFile.model_validate(data, context={NAMES: names})
    except ValidationError as exc:
        raise PlanError(label, [_explain(err) for err in exc.errors()[:_ERRORS_SHOWN]]) from None
    except RecursionError:  # a mapping passed in code, nested without bound
        raise PlanError(label, [("", "nested too deeply")]) from None
    policies = resolve(plan, label)
    return ReadPlan(source=label, path=path, plan=plan, policies=policies, names=names)


_ERRORS_SHOWN = 50  # a file with 10,000 mistakes gets a message of bounded length


# ----------------------------------------------------------------------------- explaining errors

_SECTIONS: dict[str, type[BaseModel]] = {
    "retry": RetryConfig,
    "circuit_breaker": CircuitBreakerConfig,
    "bulkhead": BulkheadConfig,
    "rate_limiter": RateLimiterConfig,
    "fallback": FallbackConfig,
    "hedge": HedgeConfig,
    "adaptive_limiter": AdaptiveLimiterConfig,
    "shares": SharesConfig,
    "outlier_detection": OutlierDetectionConfig,
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
    """One problem as (field path, what was expected), quoting at most ~200 characters of input."""
    path, problem = _explain_unbounded(err)
    return shorten(path, 300), shorten(problem, 2000)


class _Got:
    """The offending input, shown by a bounded repr (a huge or aliased value is cut short)."""

    def __init__(self, value: object) -> None:
        self.value = value

    def __format__(self, spec: str) -> str:
        return short_repr(self.value)


def _explain_unbounded(err: ErrorDetails) -> tuple[str, str]:
    loc = tuple(err["loc"])
    kind = err["type"]
    msg = err["msg"]
    got = _Got(err.get("input"))
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        allowed = ", ".join(model.model_fields) if model is not None else ""
        expected = f"; expected one of: {allowed}" if allowed else ""
        key = short_repr(loc[-1])
        return _path(loc[:-1]) or "(top level)", f"unknown key {key}{expected}"
    if kind == "missing":
        return _path(loc), "required, but not set"
    if kind == "union_tag_not_found":
        return _path(loc), f"expected a 'kind' key, one of: {', '.join(sorted(WAIT_KINDS))}"
    if kind == "union_tag_invalid":
        tag = (err.get("ctx") or {}).get("tag")
        return _path(
            loc
        ), f"expected kind one of: {', '.join(sorted(WAIT_KINDS))}; got {short_repr(tag)}"
    if kind == "value_error":
        message = msg.removeprefix("Value error, ")
        value = err.get("input")
        if isinstance(value, str) and len(value) > 200:  # a validator quoted it whole
            message = message.replace(repr(value), short_repr(value))
        return _path(loc), message
    if kind == "literal_error" and loc == ("version",):
        return "version", f"expected 1 (the only plan format this version reads), got {got}"
    if msg.startswith("Input should be greater") or msg.startswith("Input should be less"):
        return _path(loc), f"expected a number {msg.removeprefix('Input should be ')}, got {got}"
    if msg.startswith("Input should be "):
        return _path(loc), f"expected {msg.removeprefix('Input should be ')}, got {got}"
    if msg.startswith("String should match pattern") and loc[:1] == ("mechanisms",):
        return _path(loc[:2]), (
            "expected a policy name of letters, digits and _ . : - (starting with a letter or "
            f"digit, at most 128 characters), got {short_repr(loc[1])}"
        )
    return _path(loc), f"{msg}, got {got}"


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
            return f"expected the name of another policy (known: {known}), got {short_repr(base)}"
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


_SWITCHABLE = ("timeout", "deadline", *MECHANISMS)


def _switched_off(plan: PlanFile, name: str, section: str) -> bool:
    """Whether the file sets `section` to null for `name`: the first layer of its chain (own
    entry → base chain → defaults) that sets the section at all sets it to null."""
    entries = plan.mechanisms
    current: str | None = name
    seen: set[str] = set()
    while current is not None and current in entries and current not in seen:
        seen.add(current)
        entry = entries[current]
        if section in entry.model_fields_set:
            return getattr(entry, section) is None
        current = entry.base
    defaults = entries.get(DEFAULTS)
    return (
        defaults is not None
        and section in defaults.model_fields_set
        and getattr(defaults, section) is None
    )


def dropped_silently(read: ReadPlan, name: str, live: PolicyConfig) -> list[tuple[str, str]]:
    """The mechanisms policy `name` has now (`live`) that the new plan drops without saying so.

    A plan cut short by a write still in progress loses its end; a mechanism that vanishes
    from a policy in use is refused unless the file switches it off with ``section: null``.
    """
    new = read.policies.get(name)
    if new is None:
        return []
    return [
        (
            f"mechanisms.{name}.{section}",
            f"missing, but the policy in use has a {section} (is the file complete?); "
            f"to remove it on reload, write '{section}: null'",
        )
        for section in _SWITCHABLE
        if getattr(live, section) is not None
        and getattr(new, section) is None
        and not _switched_off(read.plan, name, section)
    ]
