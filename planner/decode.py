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
from collections.abc import Mapping, Sequence
from typing import Any

from planner.model import Figure, Plan
from planner.refs import row_key

__all__ = ["DocumentShapeError", "decode"]


class DocumentShapeError(ValueError):
    """A compact document `decode` cannot read: the message says where and what is wrong."""


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


class _Decoder:
    """Compact → refs, led by the plan model's types: a `Figure` field holds an index of
    `report.figures`, a tuple of dataclasses may be a table."""

    def __init__(self, figures: Sequence[Any], formulas: Sequence[Any]) -> None:
        self.figures, self.formulas = figures, formulas

    def figure(self, index: Any, where: str) -> dict[str, Any]:
        if type(index) is not int or not 0 <= index < len(self.figures):
            raise DocumentShapeError(
                f"{where}: expected an index of report.figures (0 to {len(self.figures) - 1})"
            )
        entry = self.figures[index]
        if not isinstance(entry, list) or len(entry) != 4 or not isinstance(entry[3], Mapping):
            raise DocumentShapeError(
                f"report.figures[{index}]: expected [value, unit, formula, inputs]"
            )
        value, unit, formula, inputs = entry
        if type(formula) is not int or not 0 <= formula < len(self.formulas):
            raise DocumentShapeError(
                f"report.figures[{index}]: expected the index of its formula in report.formulas"
            )
        return {"value": value, "unit": unit, "formula": formula, "inputs": dict(inputs)}

    def value(self, value: Any, hint: Any, where: str) -> Any:
        if value is None:
            return None
        if hint is Figure:
            return self.figure(value, where)
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin in (types.UnionType, typing.Union):
            kinds = [a for a in args if a is not type(None)]
            return self.value(value, kinds[0], where) if len(kinds) == 1 else value
        if origin is tuple and args and isinstance(value, (list, Mapping)):
            item = args[0]
            if isinstance(value, Mapping):
                return self.table(value, item, where)
            return [self.value(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(origin, type) and issubclass(origin, Mapping) and len(args) == 2:
            if isinstance(value, Mapping):
                return {k: self.value(v, args[1], f"{where}.{k}") for k, v in value.items()}
            return value
        if isinstance(hint, type) and dataclasses.is_dataclass(hint) and isinstance(value, Mapping):
            hints = _hints(hint)
            return {k: self.value(v, hints.get(k), f"{where}.{k}") for k, v in value.items()}
        return value

    def table(self, table: Mapping[str, Any], cls: Any, where: str) -> list[dict[str, Any]]:
        fields, rows = table.get("fields"), table.get("rows")
        if not (
            isinstance(cls, type)
            and dataclasses.is_dataclass(cls)
            and isinstance(fields, list)
            and all(type(f) is str for f in fields)
            and isinstance(rows, list)
        ):
            raise DocumentShapeError(f"{where}: expected a table, {{fields, rows}}")
        hints = _hints(cls)
        columns = [(name, hints.get(name), _nullable(hints.get(name))) for name in fields]
        out = []
        for i, row in enumerate(rows):
            if not isinstance(row, list) or len(row) > len(columns):
                raise DocumentShapeError(
                    f"{where}.rows[{i}]: expected a list of at most {len(columns)} cells"
                )
            record = {}
            cells = row + [None] * (len(columns) - len(row))  # trailing cells: null or left out
            for (name, hint, nullable), cell in zip(columns, cells, strict=True):
                if cell is not None or nullable:  # else a cell the refs document leaves out
                    record[name] = self.value(cell, hint, f"{where}.rows[{i}].{name}")
            out.append(record)
        return out


def decode(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The refs document that a compact `doc` is written from (any other document as it is):
    each figure index replaced by the figure, each table by its list of records, a failure
    mode's mechanism row indices by the rows' `"policy: mechanism"` texts.

    Raises `DocumentShapeError` naming the part of `doc` that is not a compact document."""
    report = doc.get("report")
    if not isinstance(report, Mapping) or "figures" not in report:
        return dict(doc)
    figures, formulas = report.get("figures"), report.get("formulas")
    if not isinstance(figures, list) or not isinstance(formulas, list):
        raise DocumentShapeError("report: expected the lists figures and formulas")
    decoder = _Decoder(figures, formulas)
    hints = _hints(Plan)
    out: dict[str, Any] = {}
    for name, value in report.items():
        if name != "figures":
            hint = hints.get(name)
            out[name] = value if hint is None else decoder.value(value, hint, f"report.{name}")
    rows, modes = out.get("mechanisms"), out.get("failure_modes")
    if isinstance(rows, list) and isinstance(modes, list):
        texts = [row_key(str(row.get("policy")), str(row.get("mechanism"))) for row in rows]
        for i, mode in enumerate(modes):
            named = []
            for m in mode.get("mechanisms") or ():
                if type(m) is int and not 0 <= m < len(texts):
                    raise DocumentShapeError(
                        f"report.failure_modes.rows[{i}].mechanisms: {m} is not a row of "
                        "report.mechanisms"
                    )
                named.append(texts[m] if type(m) is int else m)
            mode["mechanisms"] = named
    return {**doc, "report": out}
