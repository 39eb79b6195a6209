"""PromQL vector selectors: parse the spec's SLI selectors, match them against scraped samples.

The spec gives SLIs as plain counter selectors (`metric{label="v", code=~"5.."}`); the rules wrap
them in `increase()`. Parsing them here lets the planner reject a selector that already holds a
function (a common copy-paste from dashboards) before Prometheus sees it, and lets `--metrics-url`
evaluate the same selector against one scrape of `/metrics` without a Prometheus.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Matcher", "Selector", "SelectorError", "parse_selector"]

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_OPS = ("=~", "!~", "!=", "=")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "`": "`"}


class SelectorError(ValueError):
    """The text is not a plain PromQL vector selector."""


@dataclass(frozen=True)
class Matcher:
    """One label matcher: `label op "value"` with op one of =, !=, =~, !~."""

    label: str
    op: str
    value: str

    def matches(self, actual: str) -> bool:
        """Whether a sample whose label has `actual` ("" when absent) satisfies the matcher."""
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        # PromQL regex matchers are fully anchored.
        hit = re.fullmatch(self.value, actual) is not None
        return hit if self.op == "=~" else not hit

    def render(self) -> str:
        """The matcher in PromQL notation."""
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.label}{self.op}"{escaped}"'


@dataclass(frozen=True)
class Selector:
    """A vector selector: an optional metric name and label matchers."""

    name: str | None
    matchers: tuple[Matcher, ...]

    def matches(
        self, name: str, labels: Mapping[str, str], *, ignore: frozenset[str] = frozenset()
    ) -> bool:
        """Whether `name{labels}` is selected; matchers on labels in `ignore` are skipped."""
        if self.name is not None and name != self.name:
            return False
        return all(
            m.matches(name if m.label == "__name__" else labels.get(m.label, ""))
            for m in self.matchers
            if m.label not in ignore
        )

    def render(self) -> str:
        """The selector in PromQL notation (normalised quoting)."""
        inner = ",".join(m.render() for m in self.matchers)
        if self.name is None:
            return "{" + inner + "}"
        return self.name + ("{" + inner + "}" if inner else "")


def parse_selector(text: str) -> Selector:
    """Parse `metric{label="value",...}`; raises SelectorError naming what was expected."""
    src = text.strip()
    pos = 0
    name: str | None = None
    match = _NAME.match(src, pos)
    if match:
        name = match.group(0)
        pos = match.end()
    matchers: list[Matcher] = []
    pos = _skip_space(src, pos)
    if pos < len(src) and src[pos] == "{":
        pos = _parse_matchers(src, pos + 1, matchers)
    pos = _skip_space(src, pos)
    if pos != len(src):
        raise SelectorError(
            f'expected a plain vector selector such as metric{{label="value"}} (no functions,'
            f" ranges or operators: the rules add increase()), got {text!r}"
        )
    if name is None and not any(m.value and m.op in ("=", "=~") for m in matchers):
        raise SelectorError(f"a selector needs a metric name or a non-empty matcher, got {text!r}")
    for m in matchers:
        if m.op in ("=~", "!~"):
            try:
                re.compile(m.value)
            except re.error as exc:
                raise SelectorError(
                    f"invalid regular expression {m.value!r} in {text!r}: {exc}"
                ) from None
    return Selector(name, tuple(matchers))


def _skip_space(src: str, pos: int) -> int:
    while pos < len(src) and src[pos].isspace():
        pos += 1
    return pos


def _parse_matchers(src: str, pos: int, out: list[Matcher]) -> int:
    while True:
        pos = _skip_space(src, pos)
        if pos < len(src) and src[pos] == "}":
            return pos + 1
        label = _LABEL.match(src, pos)
        if label is None:
            raise SelectorError(f"expected a label name at offset {pos} of {src!r}")
        pos = _skip_space(src, label.end())
        op = next((o for o in _OPS if src.startswith(o, pos)), None)
        if op is None:
            raise SelectorError(f"expected =, !=, =~ or !~ at offset {pos} of {src!r}")
        pos = _skip_space(src, pos + len(op))
        value, pos = _parse_string(src, pos)
        out.append(Matcher(label.group(0), op, value))
        pos = _skip_space(src, pos)
        if pos < len(src) and src[pos] == ",":
            pos += 1
        elif not (pos < len(src) and src[pos] == "}"):
            raise SelectorError(f"expected ',' or '}}' at offset {pos} of {src!r}")


def _parse_string(src: str, pos: int) -> tuple[str, int]:
    if pos >= len(src) or src[pos] not in "\"'`":
        raise SelectorError(f"expected a quoted label value at offset {pos} of {src!r}")
    quote = src[pos]
    pos += 1
    chars: list[str] = []
    while pos < len(src):
        ch = src[pos]
        if ch == quote:
            return "".join(chars), pos + 1
        if ch == "\\" and quote != "`" and pos + 1 < len(src):
            nxt = src[pos + 1]
            # Unknown escapes (e.g. regex "\d") keep their backslash, as PromQL's do not exist.
            chars.append(_ESCAPES.get(nxt, "\\" + nxt))
            pos += 2
            continue
        chars.append(ch)
        pos += 1
    raise SelectorError(f"unterminated label value in {src!r}")
