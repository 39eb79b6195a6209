"""The spec checked as a whole: every problem at once, each naming its field, with "did you mean".

`graph_problems` runs once the fields are valid (names, targets, fallbacks, cycles, traffic
shares); `warnings` lists contradictions a plan can still be built from (a caller's p99 below a
hard dependency's); `describe` turns pydantic's errors — all of them, not the first and a
count — into one line per problem, suggesting the closest known key, kind or name.
"""

from __future__ import annotations

import difflib
import re
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, get_args

from pydantic import BaseModel, ValidationError

from resilience.files import short_repr, shorten


# What the checks read of planner.spec's models (spec imports this module, not the reverse).
class _Latency(Protocol):
    @property
    def p99(self) -> float: ...


class _Dependency(Protocol):
    @property
    def target(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def fallback(self) -> str | None: ...
    @property
    def fallback_availability(self) -> float | None: ...
    @property
    def calls_per_request(self) -> float: ...


class Component(Protocol):
    """A component as the checks read it (`planner.spec.Component`)."""

    @property
    def name(self) -> str: ...
    @property
    def entry_point(self) -> bool: ...
    @property
    def traffic_share(self) -> float | None: ...
    @property
    def latency(self) -> _Latency | None: ...
    @property
    def dependencies(self) -> Sequence[_Dependency]: ...


__all__ = [
    "MAX_PROBLEMS",
    "TIER_OR_SLO",
    "describe",
    "did_you_mean",
    "graph_problems",
    "raw_problems",
    "warnings",
]

#: Problems listed in one message: a generated file with a million bad rows must not print them
#: all; a spec written by hand never comes near.
MAX_PROBLEMS = 200

TIER_OR_SLO = "set tier (standard, high, critical, ultra) or slo (a percentage)"

#: How close (difflib ratio) a word must be to a known one to be suggested, or for a fallback to
#: be taken for a misspelt component: "payment-db" for "payments-db" is 0.95, "cached answer"
#: for "cache" is 0.56.
CLOSE = 0.8


def did_you_mean(word: str, known: Sequence[str], cutoff: float = 0.6) -> str:
    """' (did you mean 'x'?)' for the closest known word, or '' when none is close."""
    lowered = {k.lower(): k for k in known}
    match = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=cutoff)
    return f" (did you mean {lowered[match[0]]!r}?)" if match else ""


class _Names:
    """The component names, for finding the one a free-text fallback probably misspells.

    Fast on large specs: a difflib ratio ≥ CLOSE needs lengths within a factor 2/3 of each other
    (`2·min / (la + lb) ≥ 0.8`), so only names of such lengths are compared, and each distinct
    fallback text is looked up once (generated specs repeat one text thousands of times).
    """

    def __init__(self, names: Sequence[str]) -> None:
        self.sorted = sorted(names)
        self.exact = frozenset(names)
        self.lowered = {n.lower(): n for n in self.sorted}
        self.by_length: dict[int, list[str]] = {}
        for low in self.lowered:
            self.by_length.setdefault(len(low), []).append(low)
        self._seen: dict[str, str | None] = {}

    def close_to(self, text: str) -> str | None:
        """The component `text` probably misspells (equal but for case counts), or None."""
        if text not in self._seen:
            self._seen[text] = self._close(text.lower())
        return self._seen[text]

    def _close(self, low: str) -> str | None:
        if low in self.lowered:
            return self.lowered[low]
        n = len(low)
        shortest = max(1, -(-2 * n // 3))  # ceil(2n/3)
        candidates = [
            name
            for size in range(shortest, n * 3 // 2 + 1)
            for name in self.by_length.get(size, ())
        ]
        match = difflib.get_close_matches(low, candidates, n=1, cutoff=CLOSE)
        return self.lowered[match[0]] if match else None


def graph_problems(components: Sequence[Component]) -> list[str]:
    """Every problem of the component graph as "field: message" lines (empty: none)."""
    problems: list[str] = []
    index: dict[str, int] = {}
    for i, comp in enumerate(components):
        if comp.name in index:
            problems.append(
                f"components[{i}].name: duplicate component name {comp.name!r}"
                f" (first at components[{index[comp.name]}])"
            )
        else:
            index[comp.name] = i
    names = _Names(list(index))
    for i, comp in enumerate(components):
        for j in range(len(comp.dependencies)):
            problems += _edge_problems(f"components[{i}].dependencies[{j}]", comp, j, names)
    if not any(".target:" in p for p in problems):  # a cycle needs every target known
        cycle = _find_cycle(components)
        if cycle is not None:
            problems.append("components: dependency cycle " + " -> ".join(cycle))
    problems += _share_problems(components)
    return problems


def _edge_problems(where: str, comp: Component, j: int, names: _Names) -> list[str]:
    dep = comp.dependencies[j]
    problems: list[str] = []
    if dep.target not in names.exact:
        known = names.sorted
        hint = did_you_mean(dep.target, known) or f" (known: {', '.join(known[:10])})"
        problems.append(f"{where}.target: unknown component {dep.target!r}{hint}")
    elif dep.target == comp.name:
        problems.append(f"{where}.target: {comp.name!r} cannot depend on itself")
    if dep.fallback is None:
        if dep.fallback_availability is not None:
            problems.append(f"{where}.fallback_availability: set without a fallback")
        return problems
    if dep.fallback in (dep.target, comp.name):
        problems.append(
            f"{where}.fallback: the fallback must differ from the target and the caller"
        )
    elif dep.fallback in names.exact:
        if dep.fallback_availability is not None:
            problems.append(
                f"{where}.fallback_availability: {dep.fallback!r} is a component, whose own"
                " availability counts (declare it for a free-text fallback only)"
            )
    else:
        close = names.close_to(dep.fallback)
        if close is not None:
            problems.append(
                f"{where}.fallback: {dep.fallback!r} is not a component (did you mean"
                f" {close!r}?); a free-text fallback must not look like a component name"
            )
    return problems


def warnings(components: Sequence[Component]) -> list[str]:
    """What a valid spec says that cannot all be true, as "field: message" lines: the plan is
    built, but its figures inherit the contradiction (the CLI prints these on stderr)."""
    index = {comp.name: i for i, comp in enumerate(components)}
    return _latency_problems(components, index)


def _latency_problems(components: Sequence[Component], index: Mapping[str, int]) -> list[str]:
    """A caller whose declared p99 is below the declared p99 of a hard dependency it calls on
    every request: it waits for that call, so its own p99 cannot be lower."""
    problems: list[str] = []
    for i, comp in enumerate(components):
        if comp.latency is None:
            continue
        for j, dep in enumerate(comp.dependencies):
            if dep.type != "hard" or dep.calls_per_request < 1 or dep.target not in index:
                continue
            target = components[index[dep.target]]
            if target.latency is None or target.latency.p99 <= comp.latency.p99:
                continue
            problems.append(
                f"components[{i}].latency.p99: {comp.name}'s p99 ({comp.latency.p99:g} s) is below"
                f" the p99 of its hard dependency {target.name} ({target.latency.p99:g} s,"
                f" components[{index[target.name]}].latency.p99) that"
                f" components[{i}].dependencies[{j}] calls on every request; raise the caller's"
                " p99 or make the dependency soft"
            )
    return problems


def _share_problems(components: Sequence[Component]) -> list[str]:
    shares = [(i, c.traffic_share) for i, c in enumerate(components) if c.traffic_share is not None]
    if not shares:
        return []
    flagged = [c for c in components if c.entry_point]
    total = sum(share for _, share in shares)
    if len(shares) == len(flagged) and abs(total - 1.0) > 1e-6:
        return [
            f"components[{shares[0][0]}].traffic_share: entry-point traffic shares must sum"
            f" to 1, got {total:g}"
        ]
    if total > 1.0 + 1e-6:
        return [
            f"components[{shares[0][0]}].traffic_share: entry-point traffic shares sum to"
            f" {total:g}, more than 1"
        ]
    return []


def _find_cycle(components: Sequence[Component]) -> list[str] | None:
    """The first dependency cycle as a path (a -> b -> a), iterative DFS, O(V + E)."""
    edges = {c.name: [d.target for d in c.dependencies] for c in components}
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    for root in (c.name for c in components):
        if root in state:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = [root]
        state[root] = 1
        while stack:
            node, nxt = stack[-1]
            targets = edges[node]
            if nxt < len(targets):
                stack[-1] = (node, nxt + 1)
                target = targets[nxt]
                seen = state.get(target)
                if seen == 1:
                    return [*path[path.index(target) :], target]
                if seen is None:
                    state[target] = 1
                    stack.append((target, 0))
                    path.append(target)
            else:
                state[node] = 2
                stack.pop()
                path.pop()
    return None


@dataclass(frozen=True)
class _RawDependency:
    target: str
    fallback: str | None
    type: str = "hard"
    fallback_availability: float | None = None
    calls_per_request: float = 1.0


@dataclass(frozen=True)
class _RawComponent:
    name: str
    dependencies: Sequence[_RawDependency]
    entry_point: bool = False
    traffic_share: float | None = None
    latency: _Latency | None = None


def raw_problems(data: Mapping[str, Any]) -> list[str]:
    """The whole-spec problems (no tier or slo, unknown targets, fallbacks spelt like a
    component) of a document whose fields failed validation, read from the raw mapping — so that
    one bad kind does not hide a misspelt target until the next run. Entries that are not the
    expected shape are skipped: their own field errors already say so."""
    problems: list[str] = []
    if data.get("tier") is None and data.get("slo") is None:
        problems.append(TIER_OR_SLO)
    comps = data.get("components")
    if not isinstance(comps, list) or len(comps) > 100_000:
        return problems
    raw: list[_RawComponent] = []
    for comp in comps:
        if not isinstance(comp, dict) or not isinstance(comp.get("name"), str):
            return problems  # a component without a name: its field errors come first
        deps = comp.get("dependencies")
        edges = [
            _RawDependency(
                d["target"], d.get("fallback") if isinstance(d.get("fallback"), str) else None
            )
            for d in (deps if isinstance(deps, list) else [])
            if isinstance(d, dict) and isinstance(d.get("target"), str)
        ]
        if isinstance(deps, list) and len(edges) != len(deps):
            edges = []  # indices would shift
        raw.append(_RawComponent(comp["name"], edges))
    index: dict[str, int] = {}
    for i, c in enumerate(raw):
        index.setdefault(c.name, i)
    names = _Names(list(index))
    for i, c in enumerate(raw):
        for j in range(len(c.dependencies)):
            problems += [
                p
                for p in _edge_problems(f"components[{i}].dependencies[{j}]", c, j, names)
                if ".fallback_availability:" not in p
            ]
    return problems


# -- pydantic's errors, all of them ----------------------------------------------------------


def _field_path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part.startswith(("function-", "literal[", "tagged-union")):
            continue  # pydantic's internal validator names are not fields
        else:
            text += ("." if text else "") + part
    return text


def _model_in(annotation: object) -> type[BaseModel] | None:
    """The pydantic model inside an annotation (`X | None`, `tuple[X, ...]`, `dict[K, X]`)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _known_keys(root: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The keys the model at `loc`'s parent accepts (for an unknown key at `loc`)."""
    model: type[BaseModel] | None = root
    skip_key = False
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        if skip_key:  # a dict's key, not a field
            skip_key = False
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        skip_key = typing.get_origin(field.annotation) is dict
        model = _model_in(field.annotation)
    return list(model.model_fields) if model is not None else []


def _named(field: str, loc: tuple[int | str, ...], data: Mapping[str, Any]) -> str:
    """`components[3] (cache).kind` is easier to find than an index."""
    if len(loc) >= 2 and loc[0] == "components" and isinstance(loc[1], int):
        comps = data.get("components")
        if isinstance(comps, list) and loc[1] < len(comps) and isinstance(comps[loc[1]], dict):
            name = comps[loc[1]].get("name")
            if isinstance(name, str):
                return field.replace(f"components[{loc[1]}]", f"components[{loc[1]}] ({name})", 1)
    return field


def _lines(root: type[BaseModel], error: Any, data: Mapping[str, Any]) -> list[str]:
    loc = tuple(error["loc"])
    field = _named(_field_path(loc), loc, data)
    message = str(error["msg"])
    value = error.get("input")
    if isinstance(value, str) and len(value) > 200:  # a validator quoted it whole
        message = message.replace(repr(value), short_repr(value))
    message = message.removeprefix("Value error, ").replace("Input should be", "expected")
    if error["type"] == "extra_forbidden":
        key = str(loc[-1])
        message = "unknown key" + (
            did_you_mean(key, _known_keys(root, loc)) or " (see `reliability schema`)"
        )
    elif error["type"] == "literal_error" and isinstance(value, str):
        expected = re.findall(r"'([^']*)'", str(error.get("ctx", {}).get("expected", "")))
        message += did_you_mean(value, expected)
    prefix = f"{shorten(field, 300)}: " if field else ""
    # A value quoted by a validator is cut short: the file may hold megabytes in one field.
    return [prefix + shorten(line, 600) for line in message.split("\n") if line]


def describe(
    root: type[BaseModel],
    source: str,
    exc: ValidationError,
    data: Mapping[str, Any],
    more: Sequence[str] = (),
) -> str:
    """Every error of `exc`, then the `more` problems found apart from it, as one message: one
    line for one problem, else a count and a list."""
    errors = exc.errors(include_url=False)
    failed = {tuple(e["loc"][:i]) for e in errors for i in range(1, len(e["loc"]))}
    lines: list[str] = []
    for error in errors:
        if error["type"] == "too_short" and tuple(error["loc"]) in failed:
            continue  # pydantic counts a list whose items failed as empty: not a problem of its own
        lines += _lines(root, error, data)
    lines += [line for line in more if line not in lines]
    if len(lines) == 1:
        return f"{source}: {lines[0]}"
    cut = f" (the first {MAX_PROBLEMS} shown)" if len(lines) > MAX_PROBLEMS else ""
    listed = "\n".join(f"  {line}" for line in lines[:MAX_PROBLEMS])
    return f"{source}: {len(lines)} problems{cut}:\n{listed}"
