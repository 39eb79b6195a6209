"""Plan values written straight to compact JSON text, with no plain-data tree in between.

`PlanJson(plain)(value)` is `json.dumps(plain(value))` in the stream's compact form, made in one
pass: each type's writer is made once (a dataclass's `"name":` keys written out beforehand),
strings, floats and whole figures are remembered as text. A plan repeats its figures by content
(a 10,000-component mesh writes ~400,000 figures, a few thousand distinct: the same probability
basis or recovery time for every component of a kind), so most are a dictionary lookup. Building
the plain tree and then encoding it cost more than planning; this costs less.

A value of a type this does not know is converted by `plain` and encoded by `json`, as before.
"""

from __future__ import annotations

import dataclasses
import json
import operator
from collections.abc import Callable, Hashable, Mapping, Sequence
from json.encoder import encode_basestring
from typing import Any

from planner.document import Plain
from planner.figure import figure_key
from planner.model import Figure
from planner.render.block_yaml import remember

__all__ = ["FIGURE_TEXT_MAX", "STR_ONLY", "PlanJson"]

#: What the C encoder writes for a plain document (`planner.render.stream`'s form).
_compact = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, separators=(",", ":"), check_circular=False
).encode

#: Longest figure text remembered: a figure over every component (a zone's users) is long, and
#: its equals few; kept, a large plan's would hold hundreds of megabytes.
FIGURE_TEXT_MAX = 4096

#: The key types of a mapping written here as it is (`plain` writes str(k) of other keys).
STR_ONLY = frozenset({str})


def _float_text(plain: Plain, value: float) -> str:
    rounded = plain(value)
    if type(rounded) is float:
        return float.__repr__(rounded)
    return _compact(rounded)  # "unbounded", or null for nan


class _Heads(dict[str, str]):
    """Key → `"key":`, made when first asked for (a bounded number kept)."""

    def __missing__(self, key: str) -> str:
        head = encode_basestring(key) + ":"
        remember(self, key, head)
        return head


class PlanJson:
    """A writer of plan values (as `plain` converts them) as compact JSON text.

    `text(value)` is the compact JSON of `plain(value)`; the scalar types are tested inline,
    in the order of how often a plan holds them (a call per value is most of the cost)."""

    def __init__(self, plain: Plain) -> None:
        self.plain = plain
        self._writers: dict[type, Callable[[Any], str]] = {}
        self._floats: dict[float, str] = {}
        self._figures: dict[Hashable, str] = {}
        #: id(figure) → (figure, text): a plan holds one figure object in several places (a
        #: 10,000-component mesh writes ~360,000 figures, ~150,000 objects); the figure is kept
        #: so that its id is not another's
        self._written: dict[int, tuple[Figure, str]] = {}
        self._heads = _Heads()
        writers, floats, encode = self._writers, self._floats, encode_basestring
        float_get, writer_get = floats.get, writers.get

        def text(value: Any) -> str:
            cls = type(value)
            if cls is str:
                return encode(value)
            if cls is float:
                known = float_get(value)
                return known if known is not None else self._float(value)
            if cls is int:
                return int.__repr__(value)
            if cls is bool:
                return "true" if value else "false"
            if value is None:
                return "null"
            write = writer_get(cls)
            if write is None:
                write = writers[cls] = self._compile(cls)
            return write(value)

        self.text = text

    def _float(self, value: float) -> str:
        text = _float_text(self.plain, value)
        if value:  # not ±0.0: one key, written apart
            remember(self._floats, value, text)
        return text

    def _compile(self, cls: type) -> Callable[[Any], str]:
        """The writer of values of type `cls`, chosen as `Plain._compile` chooses converters."""
        if cls is Figure:
            return self._figure
        if cls is tuple or cls is list:
            return self._list
        slim = self.plain.slim.get(cls)
        if slim is not None:
            return self._slim(slim)
        if dataclasses.is_dataclass(cls):
            return self._dataclass(tuple(f.name for f in dataclasses.fields(cls)))
        if issubclass(cls, Mapping):
            return self._mapping
        return self._fallback

    def _fallback(self, value: Any) -> str:
        return _compact(self.plain(value))

    def _list(self, values: Sequence[Any]) -> str:
        return "[" + ",".join(map(self.text, values)) + "]"

    def _mapping(self, values: Mapping[Any, Any]) -> str:
        if not STR_ONLY.issuperset(map(type, values)):  # str(k) of two keys may be one
            return self._fallback(values)
        heads, text = self._heads, self.text
        return "{" + ",".join([heads[k] + text(v) for k, v in values.items()]) + "}"

    def _slim(self, slim: Callable[[Any], Mapping[str, Any]]) -> Callable[[Any], str]:
        heads, text = self._heads, self.text

        def write(value: Any) -> str:  # its keys are field names
            return "{" + ",".join([heads[k] + text(v) for k, v in slim(value).items()]) + "}"

        return write

    def _dataclass(self, names: tuple[str, ...]) -> Callable[[Any], str]:
        if not names:
            return lambda value: "{}"
        fetch = operator.attrgetter(*names)
        heads = tuple(encode_basestring(name) + ":" for name in names)
        text = self.text
        if len(names) == 1:
            (head,) = heads
            return lambda value: "{" + head + text(fetch(value)) + "}"

        def write(value: Any) -> str:
            got = zip(heads, fetch(value), strict=True)
            return "{" + ",".join([h + text(v) for h, v in got]) + "}"

        return write

    def _figure(self, fig: Figure) -> str:
        seen = self._written.get(id(fig))
        if seen is not None and seen[0] is fig:
            return seen[1]
        if self.plain.derivations == "compact":  # its index: one key lookup, in `plain`
            made = int.__repr__(self.plain.figure_index(fig))
        else:
            made = self._figure_by_key(fig)
        remember(self._written, id(fig), (fig, made))
        return made

    def _figure_by_key(self, fig: Figure) -> str:
        key = figure_key(fig)
        if key is not None:
            known = self._figures.get(key)
            if known is not None:
                return known
        made = self._figure_text(fig)
        if key is not None and len(made) <= FIGURE_TEXT_MAX:
            remember(self._figures, key, made)
        return made

    def _figure_text(self, fig: Figure) -> str:
        plain, text = self.plain, self.text
        if type(fig.unit) is not str or type(fig.formula) is not str:
            return _compact(plain(fig))  # written as they are, not as `plain` converts them
        head = f'{{"value":{text(fig.value)},"unit":{encode_basestring(fig.unit)}'
        if plain.derivations == "none":
            return head + "}"
        head += f',"formula":{text(plain.formula(fig.formula))}'
        inputs = fig.inputs
        if not STR_ONLY.issuperset(map(type, inputs)):  # the encoder's own key conversion
            return _compact(plain(fig))
        heads = self._heads
        body = ",".join([heads[k] + text(v) for k, v in inputs.items()])
        return f'{head},"inputs":{{{body}}}}}'
