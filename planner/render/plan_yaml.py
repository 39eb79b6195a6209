"""Plan values written straight to block YAML lines, with no plain-data tree in between.

`PlanYaml(plain).plan_items(values, pad, out)` appends the lines `BlockYaml.item(plain(v), pad,
out)` would for each of `values` (figures aside: below), in one pass over the plan's own values:
each type's fields are found once, float texts are remembered, and so are whole figures, by
object and by content (a plan repeats its figures: see `planner.render.plan_json`). A value of a
type this does not know is converted by `plain` and written by `BlockYaml`, as before.

A figure is written on its key's line as a flow mapping, `timeout: {value: 0.12, unit: s,
formula: 25, inputs: {p99: 0.08, headroom: 1.5}}`, when that fits in FLOW_WIDTH characters (as
PyYAML's `default_flow_style=None` writes a leaf collection); a wider one as a block mapping. A
plan holds ~36 figures per component: on one line each, the file has a third fewer lines, and is
written 4–9 % faster (10,000 components, against FLOW_WIDTH = 0).
"""

from __future__ import annotations

import dataclasses
import math
import operator
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any

from planner.document import Plain
from planner.figure import figure_key
from planner.model import Figure
from planner.render.block_yaml import BlockYaml, remember
from planner.render.plan_json import FIGURE_TEXT_MAX, STR_ONLY

__all__ = ["FLOW_WIDTH", "PlanYaml"]

#: Widest figure written on its key's line as a flow mapping (`{value: …, unit: …}`); a wider
#: one (a figure summed over many entry points) is written as a block mapping.
FLOW_WIDTH = 120
#: Most inputs a flow figure may hold (one with more is wider than FLOW_WIDTH anyway).
_FLOW_ITEMS = 24
#: How a figure's text starts when it is written on its key's line (flow, or compact's index).
_INLINE = frozenset("{0123456789")
#: The types written as scalars.
_LEAF = frozenset({str, float, int, bool, type(None)})

#: A value's (key, value) pairs as `plain` writes it as a mapping, or None: not written so here.
_Pairs = Callable[[Any], Iterable[tuple[str, Any]] | None]


def _no_pairs(value: Any) -> None:
    return None


def _str_keyed(value: Mapping[Any, Any]) -> Iterable[tuple[str, Any]] | None:
    if STR_ONLY.issuperset(map(type, value)):
        return value.items()
    return None  # `plain` writes str(k) of each, and two may be one


def _section_key(value: Mapping[Any, Any], depth: int) -> Hashable | None:
    """What decides the lines of `value`: its keys, values and their types (1, 1.0 and True
    are equal, not written alike; so are 0.0 and -0.0), with mappings `depth` levels down;
    None if it holds anything else, or is empty (written `{}` on its key's line)."""
    if not value:
        return None
    parts: list[Hashable] = []
    for k, v in value.items():
        t = type(v)
        if t is dict:
            if depth == 0:
                return None
            inner = _section_key(v, depth - 1)
            if inner is None:
                return None
            parts.append((k, inner))
        elif t in _LEAF and type(k) is str:
            parts.append((k, t, v, math.copysign(1.0, v) if t is float and not v else 0.0))
        else:
            return None
    return tuple(parts)


class PlanYaml(BlockYaml):
    """A block-YAML writer of plan values as `plain` converts them."""

    def __init__(self, plain: Plain) -> None:
        super().__init__()
        self.plain = plain
        self._pairs: dict[type, _Pairs] = {}
        self._plan_floats: dict[float, str] = {}
        self._figures: dict[Hashable, str] = {}
        #: (id(figure), indent) → (figure, text), as `PlanJson._written`
        self._written: dict[tuple[int, str], tuple[Figure, str]] = {}
        #: compact: id(figure) → (figure, its index's text)
        self._indices: dict[int, tuple[Figure, str]] = {}
        self._compact = plain.derivations == "compact"
        #: (indent, `_section_key`) → the lines of a mapping of options
        self._sections: dict[Hashable, str] = {}

    def plan_items(self, values: Sequence[Any], pad: str, out: list[str]) -> None:
        """Append `- value` for each of `values` (plan values), a sequence indented by `pad`."""
        if values:
            self._plan_sequence(values, pad, pad, out)

    def plan_rows(self, rows: Sequence[Any], pad: str, out: list[str]) -> None:
        """Append `- [cell, …]` for each of `rows` (a table's rows: sequences of plan values),
        on one line each; a row with a cell not written in flow (a list of records) as a block
        sequence."""
        for row in rows:
            cells = self._flow_parts(row)
            if cells is None:
                self._plan_sequence((row,), pad, pad, out)
            else:
                out.append(f"{pad}- [{', '.join(cells)}]\n")

    def _flow_parts(self, values: Iterable[Any]) -> list[str] | None:
        """Each of `values` in flow style (a flow sequence's items: `a`, `1`, `[b]`), or None if
        one is not written in flow; the scalar types tested inline, as `_plan_sequence` does (a
        call per cell was most of the cost)."""
        strings, floats, indices = self._flow_strings, self._plan_floats, self._indices
        parts: list[str] = []
        add = parts.append
        for v in values:
            t = type(v)
            if t is str:
                add(strings.get(v) or self._flow_string(v))
            elif v is None:
                add("null")
            elif t is int:
                add(int.__repr__(v))
            elif t is Figure:
                seen = indices.get(id(v))
                add(seen[1] if seen is not None and seen[0] is v else self._index(v))
            elif t is float:
                add(floats.get(v) or self._float_of(v))
            elif t is tuple or t is list:
                items = self._flow_parts(v)
                if items is None:
                    return None
                add(f"[{', '.join(items)}]")
            elif t is bool:
                add("true" if v else "false")
            else:
                text = self._flow_mapping(v)
                if text is None:
                    return None
                add(text)
        return parts

    def _flow_mapping(self, value: Any) -> str | None:
        """A string-keyed mapping of what `_flow_parts` writes, as a flow mapping; None for
        anything else (a record)."""
        if not (isinstance(value, Mapping) and STR_ONLY.issuperset(map(type, value))):
            return None
        cells = self._flow_parts(value.values())
        if cells is None:
            return None
        strings, string = self._flow_strings, self._flow_string
        keys = [strings.get(k) or string(k) for k in value]
        return "{" + ", ".join([f"{k}: {c}" for k, c in zip(keys, cells, strict=True)]) + "}"

    def plan_entries(self, pairs: Sequence[tuple[str, Any]], pad: str, out: list[str]) -> None:
        """Append `key: value` for each of `pairs` (plan values), a mapping indented by `pad`."""
        if pairs:
            self._plan_mapping(pairs, pad, pad, out)

    def _pairs_of(self, cls: type) -> _Pairs:
        """How a value of type `cls` is a mapping, chosen as `Plain._compile` chooses."""
        slim = self.plain.slim.get(cls)
        if slim is not None:
            return lambda value: slim(value).items()
        if dataclasses.is_dataclass(cls):
            names = tuple(f.name for f in dataclasses.fields(cls))
            if len(names) < 2:
                return lambda value: [(name, getattr(value, name)) for name in names]
            fetch = operator.attrgetter(*names)
            return lambda value: zip(names, fetch(value), strict=True)
        if issubclass(cls, Mapping):
            return _str_keyed
        return _no_pairs

    def _float_of(self, value: float) -> str:
        text = self._scalar(self.plain(value))
        if value:  # not ±0.0: one key, written apart
            remember(self._plan_floats, value, text)
        return text

    def _plan_mapping(
        self, pairs: Iterable[tuple[str, Any]], pad: str, first: str, out: list[str]
    ) -> None:
        """`BlockYaml.mapping` of the plain form of `pairs`' values (non-empty)."""
        strings, floats, keys, kinds = self._strings, self._plan_floats, self._keys, self._pairs
        figure, add = self._figure, out.append
        lead = first
        inner = pad + "  "
        for k, v in pairs:
            try:
                key = keys[k]
            except KeyError:
                key = self.key(k, pad)
            t = type(v)
            if t is str:
                add(f"{lead}{key} {strings.get(v) or self._string(v)}\n")
            elif t is float:
                add(f"{lead}{key} {floats.get(v) or self._float_of(v)}\n")
            elif t is Figure:
                text = figure(v, inner)
                if text[0] in _INLINE:  # a flow mapping or an index, on the key's line
                    add(f"{lead}{key} {text}")
                else:
                    add(f"{lead}{key}\n{inner}{text}")
            elif t is int:
                add(f"{lead}{key} {v}\n")
            elif t is bool or v is None:
                add(f"{lead}{key} {self._scalar(v)}\n")
            elif t is tuple or t is list:
                if v:
                    add(f"{lead}{key}\n")
                    self._plan_sequence(v, pad, pad, out)  # a mapping's sequence: not indented
                else:
                    add(f"{lead}{key} []\n")
            elif t is dict and (block := self._section(v, inner)) is not None:
                add(f"{lead}{key}\n{block}")
            else:
                of = kinds.get(t)
                if of is None:
                    of = kinds[t] = self._pairs_of(t)
                fields = of(v)
                if fields is None:
                    self.mapping({k: self.plain(v)}, pad, lead, out)
                else:
                    start = len(out)
                    add(f"{lead}{key}\n")
                    self._plan_mapping(fields, inner, inner, out)
                    if len(out) == start + 1:  # no fields
                        out[start] = f"{lead}{key} {{}}\n"
            lead = pad

    def _section(self, value: dict[str, Any], pad: str) -> str | None:
        """The lines of `value` (a mapping of scalars, or of such mappings: a mechanism's
        options) at `pad`, remembered by content: a large plan's mechanism table repeats the same
        breaker options for thousands of policies. None for any other mapping."""
        key = _section_key(value, 1)
        if key is None:
            return None
        key = (pad, key)
        text = self._sections.get(key)
        if text is None:
            lines: list[str] = []
            self._plan_mapping(value.items(), pad, pad, lines)
            text = "".join(lines)
            remember(self._sections, key, text)
        return text

    def _plan_sequence(self, values: Sequence[Any], pad: str, first: str, out: list[str]) -> None:
        """`BlockYaml.sequence` of the plain form of `values` (non-empty)."""
        strings, floats, kinds = self._strings, self._plan_floats, self._pairs
        figure, add = self._figure, out.append
        lead = first + "- "
        inner = pad + "  "
        for v in values:
            t = type(v)
            if t is str:
                add(f"{lead}{strings.get(v) or self._string(v)}\n")
            elif t is float:
                add(f"{lead}{floats.get(v) or self._float_of(v)}\n")
            elif t is Figure:
                add(lead + figure(v, inner))
            elif t is int:
                add(f"{lead}{v}\n")
            elif t is tuple or t is list:
                if v:
                    self._plan_sequence(v, inner, lead, out)
                else:
                    add(f"{lead}[]\n")
            elif t is bool or v is None:
                add(f"{lead}{self._scalar(v)}\n")
            else:
                of = kinds.get(t)
                if of is None:
                    of = kinds[t] = self._pairs_of(t)
                fields = of(v)
                if fields is None:
                    self.sequence((self.plain(v),), pad, lead[:-2], out)
                else:
                    start = len(out)
                    self._plan_mapping(fields, inner, lead, out)
                    if len(out) == start:
                        add(f"{lead}{{}}\n")
            lead = pad + "- "

    def _figure(self, fig: Figure, pad: str) -> str:
        """`fig` as a flow mapping and a newline (`{value: …}`), or as the lines of a block
        mapping at `pad`, less the first line's indent; compact, its index and a newline."""
        if self._compact:
            return self._index(fig) + "\n"
        seen = self._written.get((id(fig), pad))
        if seen is not None and seen[0] is fig:
            return seen[1]
        text = self._figure_by_key(fig, pad)
        remember(self._written, (id(fig), pad), (fig, text))
        return text

    def _index(self, fig: Figure) -> str:
        """Compact: `fig`'s index in `report.figures`, remembered by object (the index is
        `plain`'s, found by content once per object)."""
        seen = self._indices.get(id(fig))
        if seen is not None and seen[0] is fig:
            return seen[1]
        text = int.__repr__(self.plain.figure_index(fig))
        remember(self._indices, id(fig), (fig, text))
        return text

    def _figure_by_key(self, fig: Figure, pad: str) -> str:
        key = figure_key(fig)
        if key is not None:
            key = (key, pad)
            known = self._figures.get(key)
            if known is not None:
                return known
        lines: list[str] = []
        plain = self.plain
        inputs = fig.inputs
        if (
            key is None
            or type(fig.unit) is not str
            or type(fig.formula) is not str
            or not STR_ONLY.issuperset(map(type, inputs))
        ):
            self.mapping(plain(fig), pad, "", lines)  # not written as `plain` converts them
        else:
            pairs: list[tuple[str, Any]] = [("value", fig.value), ("unit", fig.unit)]
            if plain.derivations != "none":
                pairs += [("formula", plain.formula(fig.formula)), ("inputs", inputs)]
            flow = self._flow(pairs)
            if flow is not None and len(flow) <= FLOW_WIDTH:
                lines.append(flow + "\n")
            else:
                self._plan_mapping(pairs, pad, "", lines)
        text = "".join(lines)
        if key is not None and len(text) <= FIGURE_TEXT_MAX:
            remember(self._figures, key, text)
        return text

    def _flow(self, pairs: Iterable[tuple[str, Any]]) -> str | None:
        """`{key: value, …}` of a figure's `pairs` on one line, or None if a value is not a
        scalar or a mapping of scalars."""
        parts = []
        for k, v in pairs:
            if type(v) in _LEAF:
                text: str | None = self._flow_scalar(v)
            elif isinstance(v, Mapping):
                text = self._flow_leaf(v)
            else:
                return None
            if text is None:
                return None
            parts.append(f"{k}: {text}")  # value, unit, formula, inputs
        return "{" + ", ".join(parts) + "}"

    def _flow_leaf(self, value: Mapping[Any, Any]) -> str | None:
        """A mapping of scalars as one flow mapping (`{a: 1, b: x}`), or None: not all scalars."""
        if len(value) > _FLOW_ITEMS or not (
            STR_ONLY.issuperset(map(type, value)) and _LEAF.issuperset(map(type, value.values()))
        ):
            return None
        scalar = self._flow_scalar
        return "{" + ", ".join([f"{scalar(k)}: {scalar(v)}" for k, v in value.items()]) + "}"

    def _flow_scalar(self, value: Any) -> str:
        """A scalar as written in a flow collection."""
        t = type(value)
        if t is str:
            return self._flow_string(value)
        if t is float:
            return self._plan_floats.get(value) or self._float_of(value)
        if t is int:
            return int.__repr__(value)
        return self._scalar(value)
