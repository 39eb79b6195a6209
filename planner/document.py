"""The one plan → plain-data serializer: `plan_to_dict(plan)` is the JSON/YAML plan document.

The document's `mechanisms:` is exactly what `resilience.load_plan` loads; `report:` carries every
section with each derived figure as `{value, unit, formula, inputs}`. `to_plain` serializes any
part of a plan the same way (the `sla --format json` output uses it).

How a figure's derivation is written (`derivations`):

- `full`: each figure carries its formula text and its inputs.
- `refs` (what the CLI writes): each figure carries its inputs and `formula`, the index of its
  text in `report.formulas` (a list, each text once): a plan has ~120 distinct formulas and
  hundreds of thousands of figures. Every figure stays traceable: `formulas[formula]` + inputs.
  Each fact is stated once: the prose that renders figures (reason lines, mitigations, the
  runbooks' text) and what repeats another field are left out (`planner.refs` says what).
- `none`: each figure is `{value, unit}` only.
- `compact` (what the CLI writes for a plan): the refs document for machines, less than half
  its size. Each distinct figure is written once, as `[value, unit, formula, inputs]` in
  `report.figures` (a 10,000-component mesh writes ~360,000 figures, ~56,000 distinct), and
  everywhere else as its index there. Each list of section items (failure modes, mechanism
  rows, …) is a table, `{fields, rows}`: a row holds the item's values in the order of
  `fields`, null where the refs document leaves a field out, its trailing nulls left off. A
  failure mode's `mechanisms` are the indices of its rows in `report.mechanisms`.
  `planner.decode.decode(document)` gives the refs document back (its test checks
  `decode(compact) == refs` on every example).

`document(plan, ...)` is the same document with its large parts left lazy (`LazyMap`,
`LazyList`, converted item by item when written), so the writers in `planner.render.stream` can
write a 100,000-component plan without holding the whole plain document in memory.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Collection, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

from planner.figure import DERIVATIONS, figure_key
from planner.model import FailureMode, Figure, MechanismRow, Plan, significant
from planner.perf import no_cyclic_gc
from planner.refs import SLIM, row_key, slim_cells, slim_fields

__all__ = [
    "DERIVATIONS",
    "Deferred",
    "LazyList",
    "LazyMap",
    "Plain",
    "Section",
    "document",
    "materialize",
    "plan_to_dict",
    "to_plain",
]

_FIELDS: dict[type, tuple[str, ...]] = {}


def _fields(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


#: Types that are plain data already; `type(v) in _AS_IS` is the converters' inline fast path.
_AS_IS = frozenset({str, int, bool, type(None)})

#: Distinct floats remembered rounded per `Plain` (a 1,000-component plan has ~800).
_ROUNDED_MAX = 1 << 16


class Plain:
    """Plan values → plain data, figures written as `derivations` says (see the module doc).

    Each type met is given its converter once (`_compile`), a dataclass one written out for its
    fields, so converting a value costs no `dataclasses` lookups; each distinct float is rounded
    once.
    """

    def __init__(self, derivations: str = "full") -> None:
        if derivations not in DERIVATIONS:
            raise ValueError(f"derivations: expected one of {', '.join(DERIVATIONS)}")
        self.derivations = derivations
        #: formula text → its index in `report.formulas` (refs), in order of first use
        self.formulas: dict[str, int] = {}
        #: item type → what of it the document writes (refs: each fact once, `planner.refs`)
        self.slim: dict[type, Callable[[Any], Mapping[str, Any]]] = (
            dict(SLIM) if derivations in ("refs", "compact") else {}
        )
        #: compact: item type → its table row's cells (`planner.refs.slim_cells`)
        self.cells: dict[type, Callable[[Any], Sequence[Any]]] = {}
        #: compact: the distinct figures in order of first use (`report.figures`), their keys
        self.figures: list[Figure] = []
        self._figure_index: dict[Hashable, int] = {}
        self._converters: dict[type, Callable[[Any], Any]] = {}
        self._rounded: dict[float, float] = {}

    def _round(self, value: float) -> float | str | None:
        if value - value != 0.0:  # inf - inf and nan - nan are nan
            return None if value != value else "unbounded" if value > 0 else "-unbounded"
        rounded = significant(value)
        # not ±0.0, which are one key but written apart; bounded, as `to_plain`'s lives on
        if value and len(self._rounded) < _ROUNDED_MAX:
            self._rounded[value] = rounded
        return rounded

    def __call__(self, value: Any) -> Any:
        """A plan value as plain data: ±inf → "unbounded", nan → None, floats rounded."""
        cls = type(value)
        if cls in _AS_IS:
            return value
        if cls is float:  # a third of the values, and few distinct: rounded once each
            rounded = self._rounded.get(value)
            return rounded if rounded is not None else self._round(value)
        convert = self._converters.get(cls)
        if convert is None:
            convert = self._converters[cls] = self._compile(cls)
        return convert(value)

    def _compile(self, cls: type) -> Callable[[Any], Any]:
        """The converter of values of type `cls` (decided by type alone, as `__call__` was)."""
        if cls is Figure:
            return self._figure
        if cls is tuple or cls is list:
            return self._list
        slim = self.slim.get(cls)
        if slim is not None:
            return lambda value: {name: self(v) for name, v in slim(value).items()}
        if dataclasses.is_dataclass(cls):
            return self._dataclass(_fields(cls))
        if issubclass(cls, Mapping):
            return self._mapping
        return _same

    def _list(self, values: Sequence[Any]) -> list[Any]:
        return [v if type(v) in _AS_IS else self(v) for v in values]

    def _mapping(self, values: Mapping[Any, Any]) -> dict[str, Any]:
        return {str(k): v if type(v) in _AS_IS else self(v) for k, v in values.items()}

    def _dataclass(self, names: tuple[str, ...]) -> Callable[[Any], dict[str, Any]]:
        """A converter for these fields: one attrgetter, no per-value field lookup (no generated
        code: the document writer runs nothing but this module's own functions)."""
        fetch = operator.attrgetter(*names)
        single = len(names) == 1

        def convert(value: Any) -> dict[str, Any]:
            got = (fetch(value),) if single else fetch(value)
            return {
                name: v if type(v) in _AS_IS else self(v)
                for name, v in zip(names, got, strict=True)
            }

        return convert

    def formula(self, text: str) -> int | str:
        """A figure's `formula` as the document writes it: with refs (and in compact's
        `report.figures`), the index of `text` in `report.formulas` (added at its first use);
        else the text itself."""
        if self.derivations == "full" or self.derivations == "none":
            return text
        index = self.formulas.get(text)
        if index is None:
            index = self.formulas[text] = len(self.formulas)
        return index

    def figure_index(self, fig: Figure) -> int:
        """Compact: `fig`'s index in `report.figures`, added at its first use. Figures of equal
        `figure_key` are written alike, so they are one entry; one without a key (an input not
        a scalar) is an entry of its own."""
        key = figure_key(fig)
        if key is None:
            key = ("object", id(fig))  # `figures` keeps it alive: the id stays its own
        index = self._figure_index.get(key)
        if index is None:
            index = self._figure_index[key] = len(self.figures)
            self.figures.append(fig)
        return index

    def figure_row(self, fig: Figure) -> tuple[Any, ...]:
        """Compact: the entry of `fig` in `report.figures`, as plan values: (value, unit,
        formula index, inputs)."""
        return (fig.value, fig.unit, self.formula(fig.formula), fig.inputs)

    def _figure(self, fig: Figure) -> Any:
        if self.derivations == "compact":
            return self.figure_index(fig)
        value = fig.value
        out: dict[str, Any] = {
            "value": value if type(value) in _AS_IS else self(value),
            "unit": fig.unit,
        }
        if self.derivations == "none":
            return out
        out["formula"] = self.formula(fig.formula)
        out["inputs"] = {k: v if type(v) in _AS_IS else self(v) for k, v in fig.inputs.items()}
        return out


def _same(value: Any) -> Any:
    return value


def to_plain(value: Any) -> Any:
    """A plan value as plain data: Figure → {value, unit, formula, inputs}; ±inf → "unbounded"."""
    return _FULL(value)


_FULL = Plain("full")


@dataclass(frozen=True, slots=True)
class LazyList:
    """A list written item by item: `convert(item)` for each of `items`; `dense`: many items
    on a line (a table's rows), not one per line."""

    items: Sequence[Any]
    convert: Callable[[Any], Any]
    dense: bool = False

    def __iter__(self) -> Iterator[Any]:
        return (self.convert(item) for item in self.items)


@dataclass(frozen=True, slots=True)
class LazyMap:
    """A mapping whose values are made when written (each a plain value or another lazy one):
    `make(key)`, or `convert(make(key))` when `convert` is given (then `make` gives plan values,
    which a writer may write without converting them first)."""

    keys: Sequence[str]
    make: Callable[[str], Any]
    convert: Callable[[Any], Any] | None = None

    def items(self) -> Iterator[tuple[str, Any]]:
        """(key, value) pairs, each value made as it is reached."""
        make, convert = self.make, self.convert
        if convert is None:
            return ((key, make(key)) for key in self.keys)
        return ((key, convert(make(key))) for key in self.keys)


@dataclass(frozen=True, slots=True)
class Deferred:
    """A value made only when the writer reaches it (the formulas table, once all is written)."""

    make: Callable[[], Any]


class Section(dict[str, Any]):
    """A mapping of the document that may hold lazy values (the document and its report)."""


class _Rows(Sequence[Any]):
    """`row(item)` for each of `items`, made when asked for (a table's rows)."""

    def __init__(self, items: Sequence[Any], row: Callable[[Any], Any]) -> None:
        self._items, self._row = items, row

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> list[Any]: ...
    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return list(map(self._row, self._items[index]))
        return self._row(self._items[index])

    def __iter__(self) -> Iterator[Any]:
        return map(self._row, self._items)


def _table(items: Sequence[Any], plain: Plain) -> Section | None:
    """Compact: `items` (all of one dataclass type) as `{fields, rows}`, each row a tuple of
    plan values without its trailing absent cells; None if they are not all of one type."""
    cls = type(items[0])
    if cls is Figure or not dataclasses.is_dataclass(cls) or any(type(i) is not cls for i in items):
        return None
    cells = plain.cells.get(cls)
    if cls in plain.slim:
        fields = slim_fields(cls)
        if cells is None:
            cells = plain.cells[cls] = slim_cells(cls)
    else:
        fields = _fields(cls)
        fetch = operator.attrgetter(*fields)
        cells = _one(fetch) if len(fields) == 1 else fetch

    def row(item: Any) -> Sequence[Any]:
        got = cells(item)
        end = len(got)
        while end and got[end - 1] is None:
            end -= 1
        return got if end == len(got) else got[:end]

    return Section(fields=list(fields), rows=LazyList(_Rows(items, row), plain, dense=True))


def _one(fetch: Callable[[Any], Any]) -> Callable[[Any], tuple[Any, ...]]:
    return lambda item: (fetch(item),)


def _lazy(value: Any, plain: Plain, depth: int) -> Any:
    """`value` as plain data, its lists and dataclass fields `depth` levels down left lazy (in
    compact, its lists of records as tables)."""
    if depth > 0 and type(value) in (tuple, list) and value:
        if plain.derivations == "compact":
            table = _table(value, plain)
            if table is not None:
                return table
        return LazyList(value, plain)
    if depth > 0 and type(value) is not Figure and dataclasses.is_dataclass(value):
        fields = _fields(type(value))
        return LazyMap(fields, lambda name: _lazy(getattr(value, name), plain, depth - 1))
    return plain(value)


def document(
    plan: Plan, derivations: str = "full", report_keys: Collection[str] | None = None
) -> dict[str, Any]:
    """The plan document with its large parts lazy; `report_keys` keeps only those report
    sections and leaves `mechanisms` out (a partial report, not a plan file)."""
    plain = Plain(derivations)
    if derivations == "compact" and (report_keys is None or "mechanisms" in report_keys):
        plain.cells[FailureMode] = _mode_cells_with_row_indices(plan.mechanisms)
    tier = plan.header.tier if plan.header.tier != "custom" else None
    doc = Section(version=1, system=plan.header.system)
    if tier is not None:
        doc["tier"] = tier
    doc["slo"] = plan.header.target.value
    if report_keys is None:
        table = plan.mechanism_table
        doc["mechanisms"] = LazyMap(tuple(table), table.__getitem__, plain) if table else {}
    names = [
        f.name
        for f in dataclasses.fields(plan)
        if f.name != "mechanism_table" and (report_keys is None or f.name in report_keys)
    ]
    report = Section({name: _lazy(getattr(plan, name), plain, 2) for name in names})
    if derivations == "compact":
        report["figures"] = Deferred(
            lambda: LazyList(_Rows(plain.figures, plain.figure_row), plain, dense=True)
        )
    if derivations in ("refs", "compact"):
        report["formulas"] = Deferred(lambda: list(plain.formulas))
    doc["report"] = report
    return doc


def _mode_cells_with_row_indices(rows: Sequence[MechanismRow]) -> Callable[[Any], list[Any]]:
    """Compact: a failure mode's table row cells (`planner.refs.slim_cells`), its `mechanisms`
    as the indices of those of `rows` (a text no row has stays a text)."""
    index = {row_key(row.policy, row.mechanism): i for i, row in enumerate(rows)}
    refs = slim_cells(FailureMode)

    def cells(mode: FailureMode) -> list[Any]:
        got = list(refs(mode))
        got[_MODE_MECHANISMS] = tuple([index.get(text, text) for text in mode.mechanisms])
        return got

    return cells


_MODE_MECHANISMS = slim_fields(FailureMode).index("mechanisms")


def materialize(value: Any) -> Any:
    """A document from `document` with every lazy part made: plain dicts and lists."""
    if isinstance(value, LazyList):
        return list(value)  # its items are plain
    if isinstance(value, LazyMap):
        return {k: materialize(v) for k, v in value.items()}
    if isinstance(value, Deferred):
        return materialize(value.make())
    if isinstance(value, Section):
        return {k: materialize(v) for k, v in value.items()}
    return value  # plain data already


def plan_to_dict(plan: Plan, derivations: str = "full") -> dict[str, Any]:
    """The plan document: version, system, tier, slo, mechanisms (load_plan's table) and report.

    Infinite figures (an RPO without backups, an alert that can never fire) become "unbounded".
    """
    with no_cyclic_gc():
        result: dict[str, Any] = materialize(document(plan, derivations))
        return result
