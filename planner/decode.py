"""Reading a compact plan document back as the refs document it is written from.

The compact document (`planner.document`, the CLI's default for a plan file) writes each
distinct figure once, in `report.figures`, and its index everywhere else; each list of section
items as a table, `{fields, rows}`; a failure mode's mechanisms as the indices of their rows in
`report.mechanisms`. `decode(document)` undoes the three, led by the plan model's types (a
`Figure` field holds an index, a tuple of dataclasses may be a table), so every reader of the
refs document (`chaos.generate.facts_from_plan_dict`, `jq` filters) reads a compact one too.
A document that is not compact is returned as it is.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from planner.model import Figure, Plan
from planner.perf import no_cyclic_gc
from planner.refs import row_key

__all__ = ["DocumentShapeError", "decode"]


class DocumentShapeError(ValueError):
    """A compact document `decode` cannot read: `where` in it, and what is wrong there."""

    def __init__(self, where: str, what: str) -> None:
        super().__init__(f"{where}: {what}" if where else what)
        self.where, self.what = where, what

    def inside(self, outer: str) -> DocumentShapeError:
        """The error as seen from `outer`, the part holding `where` (unless `where` is a
        place of its own: an entry of `report.figures`)."""
        if self.where.startswith("report."):
            return self
        return DocumentShapeError(outer + self.where, self.what)


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def _nullable(hint: Any) -> bool:
    """Whether a field of this type may be null (else a null cell is one the refs leave out)."""
    if hint is None or hint is Any:
        return True
    return typing.get_origin(hint) in (types.UnionType, typing.Union) and type(None) in (
        typing.get_args(hint)
    )


_Convert = Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


def _is_mapping(value: Any) -> bool:
    """`isinstance(value, Mapping)`, the dict a parser makes tested first: the ABC's own check
    was a third of decoding a large plan."""
    return type(value) is dict or isinstance(value, Mapping)


class _Decoder:
    """Compact → refs, led by the plan model's types: a `Figure` field holds an index of
    `report.figures`, a tuple of dataclasses may be a table. Each type's converter is made
    once (`convert`); a value's place is worked out only when it is wrong."""

    def __init__(self, figures: Sequence[Any], formulas: Sequence[Any]) -> None:
        self.figures, self.formulas = figures, formulas
        self._made: dict[int, dict[str, Any]] = {}  # index → the figure (a fresh copy each use)
        self._converters: dict[Any, _Convert] = {}

    def figure(self, index: Any) -> dict[str, Any]:
        made = self._made.get(index) if type(index) is int else None
        if made is None:
            made = self._made[index] = self._figure(index)
        return {**made, "inputs": dict(made["inputs"])}

    def _figure(self, index: Any) -> dict[str, Any]:
        if type(index) is not int or not 0 <= index < len(self.figures):
            last = len(self.figures) - 1
            raise DocumentShapeError("", f"expected an index of report.figures (0 to {last})")
        entry = self.figures[index]
        where = f"report.figures[{index}]"
        if not isinstance(entry, list) or len(entry) != 4 or not _is_mapping(entry[3]):
            raise DocumentShapeError(where, "expected [value, unit, formula, inputs]")
        value, unit, formula, inputs = entry
        if type(formula) is not int or not 0 <= formula < len(self.formulas):
            raise DocumentShapeError(where, "expected the index of its formula in report.formulas")
        return {"value": value, "unit": unit, "formula": formula, "inputs": inputs}

    def convert(self, hint: Any) -> _Convert:
        """The converter of a value of type `hint` (made once per type)."""
        made = self._converters.get(hint)
        if made is None:
            made = self._converters[hint] = self._compile(hint)
        return made

    def _compile(self, hint: Any) -> _Convert:
        if hint is Figure:
            return self.figure
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin in (types.UnionType, typing.Union):
            kinds = [a for a in args if a is not type(None)]
            if len(kinds) != 1:
                return _same
            inner = self.convert(kinds[0])
            return _same if inner is _same else lambda v: None if v is None else inner(v)
        if origin is tuple and args:
            return self._sequence(args[0])
        if isinstance(origin, type) and issubclass(origin, Mapping) and len(args) == 2:
            item = self.convert(args[1])
            if item is _same:
                return _same
            return lambda v: _each(v, item) if _is_mapping(v) else v
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            return self._record(hint)
        return _same

    def _sequence(self, item_hint: Any) -> _Convert:
        item = self.convert(item_hint)
        is_record = isinstance(item_hint, type) and dataclasses.is_dataclass(item_hint)

        def sequence(value: Any) -> Any:
            if _is_mapping(value) and is_record:
                return self.table(value, item_hint)
            if _is_mapping(value):
                raise DocumentShapeError("", "expected a list")
            if not isinstance(value, list) or item is _same:
                return value
            out = []
            for i, v in enumerate(value):
                try:
                    out.append(item(v))
                except DocumentShapeError as exc:
                    raise exc.inside(f"[{i}]") from None
            return out

        return sequence

    def _record(self, cls: type) -> _Convert:
        hints = _hints(cls)

        def record(value: Any) -> Any:
            if not _is_mapping(value):
                return value
            out = {}
            for k, v in value.items():
                try:
                    out[k] = self.convert(hints.get(k))(v)
                except DocumentShapeError as exc:
                    raise exc.inside(f".{k}") from None
            return out

        return record

    def table(self, table: Mapping[str, Any], cls: type) -> list[dict[str, Any]]:
        fields, rows = table.get("fields"), table.get("rows")
        if not (
            isinstance(fields, list)
            and all(type(f) is str for f in fields)
            and isinstance(rows, list)
        ):
            raise DocumentShapeError("", "expected a table, {fields, rows}")
        hints = _hints(cls)
        columns = [
            (name, self.convert(hints.get(name)), _nullable(hints.get(name))) for name in fields
        ]
        width = len(columns)
        out = []
        for i, row in enumerate(rows):
            if not isinstance(row, list) or len(row) > width:
                raise DocumentShapeError(f".rows[{i}]", f"expected a list of at most {width} cells")
            record: dict[str, Any] = {}
            cells = row + [None] * (width - len(row))  # trailing cells: null or left out
            for (name, convert, nullable), cell in zip(columns, cells, strict=True):
                if cell is None:
                    if nullable:
                        record[name] = None
                    continue  # else a cell the refs document leaves out
                try:
                    record[name] = cell if convert is _same else convert(cell)
                except DocumentShapeError as exc:
                    raise exc.inside(f".rows[{i}].{name}") from None
            out.append(record)
        return out


def _each(value: Mapping[str, Any], convert: _Convert) -> dict[str, Any]:
    out = {}
    for k, v in value.items():
        try:
            out[k] = convert(v)
        except DocumentShapeError as exc:
            raise exc.inside(f".{k}") from None
    return out


def decode(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The refs document that a compact `doc` is written from (any other document as it is):
    each figure index replaced by the figure, each table by its list of records, a failure
    mode's mechanism row indices by the rows' `"policy: mechanism"` texts.

    Raises `DocumentShapeError` naming the part of `doc` that is not a compact document."""
    # a dict or a list per figure use and per record, none of them in a cycle: the collector's
    # scans of the whole parsed document were most of the time (10,000 components: 4.2 s → 1.4 s)
    with no_cyclic_gc():
        return _decode(doc)


def _decode(doc: Mapping[str, Any]) -> dict[str, Any]:
    report = doc.get("report")
    if not isinstance(report, Mapping) or "figures" not in report:
        return dict(doc)
    figures, formulas = report.get("figures"), report.get("formulas")
    if not isinstance(figures, list) or not isinstance(formulas, list):
        raise DocumentShapeError("report", "expected the lists figures and formulas")
    decoder = _Decoder(figures, formulas)
    hints = _hints(Plan)
    out: dict[str, Any] = {}
    for name, value in report.items():
        if name != "figures":
            try:
                out[name] = decoder.convert(hints.get(name))(value)
            except DocumentShapeError as exc:
                raise exc.inside(f"report.{name}") from None
    rows, modes = out.get("mechanisms"), out.get("failure_modes")
    if isinstance(rows, list) and isinstance(modes, list):
        texts = [row_key(str(row.get("policy")), str(row.get("mechanism"))) for row in rows]
        for i, mode in enumerate(modes):
            named = []
            for m in mode.get("mechanisms") or ():
                if type(m) is int and not 0 <= m < len(texts):
                    raise DocumentShapeError(
                        f"report.failure_modes.rows[{i}].mechanisms",
                        f"{m} is not a row of report.mechanisms",
                    )
                named.append(texts[m] if type(m) is int else m)
            mode["mechanisms"] = named
    return {**doc, "report": out}
