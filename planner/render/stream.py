"""The plan document written as a stream of chunks, JSON or YAML, never one big string.

The document (`planner.document.document`) keeps its large parts lazy; these writers convert and
write them piece by piece, so memory holds the plan plus a batch of items, not the plain
document and its text besides. YAML is written by `planner.render.block_yaml` (block style,
each piece in its place, strings never folded): `yaml.safe_load` of it is the JSON's data. JSON
keeps the document's outer levels indented, one key or section item per line, and writes each
item compactly on its line.

A lazy part converted by the document's `Plain` (its section items, the mechanisms table) is
written straight from the plan's values by `planner.render.plan_json` / `plan_yaml`: the same
text, without making the plain dicts first (which cost more than the planning).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from itertools import islice
from json.encoder import encode_basestring
from typing import Any, TypeVar

from planner.document import Deferred, LazyList, LazyMap, Plain, Section
from planner.render.block_yaml import BlockYaml
from planner.render.plan_json import PlanJson
from planner.render.plan_yaml import PlanYaml

__all__ = ["json_chunks", "yaml_chunks"]

W = TypeVar("W", PlanJson, PlanYaml)

#: Items (JSON) or lines (YAML) per chunk: one chunk per item would cost more than the items.
_BATCH = 256


def _lazy(value: Any) -> bool:
    """Whether the writer opens `value` itself (never empty: `document` makes them non-empty)."""
    return isinstance(value, (LazyList, LazyMap, Section))


# Compact, one C call per item (with `indent` json falls back to Python, which made writing 3×
# slower than planning); no cycle check: a plain document is a tree by construction.
_compact = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, separators=(",", ":"), check_circular=False
).encode


def json_chunks(doc: Any) -> Iterator[str]:
    """`doc` as JSON (UTF-8 text, no NaN), in chunks, ending with a newline: the document's
    outer levels one key per line, indented; below them each section item, figure or value
    on one compact line."""
    yield from _json(doc, 0, {})
    yield "\n"


def _json(value: Any, level: int, writers: dict[Plain, PlanJson]) -> Iterator[str]:
    if isinstance(value, Deferred):
        value = value.make()
    pad = "\n" + "  " * (level + 1)
    if isinstance(value, (LazyMap, Section)):
        parts: list[str] = []  # lines of plain values, written _BATCH at a time
        encode: Callable[[Any], str] = _compact
        entries = value.items()
        if isinstance(value, LazyMap) and isinstance(value.convert, Plain):
            encode = _writer(value.convert, writers, PlanJson).text  # plan values, never lazy
            entries = ((key, value.make(key)) for key in value.keys)
        for key, item in entries:
            parts.append(("," if parts else "{") + pad)
            parts.append(encode_basestring(key) + ": ")
            if isinstance(item, Deferred):
                item = item.make()
            if _lazy(item):
                yield "".join(parts)
                parts = [""]  # opened: later keys start with a comma
                yield from _json(item, level + 1, writers)
            else:
                parts.append(encode(item))
                if len(parts) >= _BATCH:
                    yield "".join(parts)
                    parts = [""]
        yield "".join(parts) + (("\n" + "  " * level + "}") if parts else "{}")
    elif isinstance(value, LazyList):
        items = _json_items(value, writers)
        opened = False
        sep = "," if value.dense else "," + pad  # a table's rows: a line per batch
        while batch := list(islice(items, _BATCH)):
            yield ("," if opened else "[") + pad + sep.join(batch)
            opened = True
        yield ("\n" + "  " * level + "]") if opened else "[]"
    else:
        yield _compact(value)


def _json_items(value: LazyList, writers: dict[Plain, PlanJson]) -> Iterator[str]:
    """The compact JSON of each item: a plan's items written from plan values in one pass."""
    plain = value.convert
    if not isinstance(plain, Plain):
        return map(_compact, value)
    return map(_writer(plain, writers, PlanJson).text, value.items)


def _writer(plain: Plain, writers: dict[Plain, W], make: Callable[[Plain], W]) -> W:
    """The one writer (`make(plain)`: a `PlanJson` or `PlanYaml`) of the document's `plain`."""
    writer = writers.get(plain)
    if writer is None:
        writer = writers[plain] = make(plain)
    return writer


def yaml_chunks(doc: Any) -> Iterator[str]:
    """`doc` as block-style YAML (`planner.render.block_yaml`), keys in order, in chunks."""
    yield from _yaml(doc, "", "", BlockYaml(), {})


def _yaml(
    value: Any, head: str, pad: str, writer: BlockYaml, writers: dict[Plain, PlanYaml]
) -> Iterator[str]:
    """The lines of `value` after the line `head` (`key:`; none at the top), at `pad`; a plan's
    items written from plan values by the `PlanYaml` of their `Plain` (in `writers`)."""
    if isinstance(value, Deferred):
        value = value.make()
    if not _lazy(value):  # only at the top: a lazy part's items are opened only when lazy
        yield writer.document(value)
        return
    lines: list[str] = [head + "\n"] if head else []
    opened = False
    if isinstance(value, LazyList):
        plain = value.convert
        opened = bool(value.items)
        if isinstance(plain, Plain):
            plan_writer = _writer(plain, writers, PlanYaml)
            write = plan_writer.plan_rows if value.dense else plan_writer.plan_items
            for start in range(0, len(value.items), _BATCH):
                write(value.items[start : start + _BATCH], pad, lines)
                yield "".join(lines)
                lines = []
        else:
            for count, item in enumerate(value, 1):
                writer.item(item, pad, lines)
                if count % _BATCH == 0:
                    yield "".join(lines)
                    lines = []
    elif isinstance(value, LazyMap) and isinstance(value.convert, Plain):
        plan_writer = _writer(value.convert, writers, PlanYaml)
        keys, make = value.keys, value.make
        opened = bool(keys)
        for start in range(0, len(keys), _BATCH):
            batch = keys[start : start + _BATCH]
            plan_writer.plan_entries([(key, make(key)) for key in batch], pad, lines)
            yield "".join(lines)
            lines = []
    else:
        for key, item in value.items():
            opened = True
            if isinstance(item, Deferred):
                item = item.make()
            if _lazy(item):
                yield "".join(lines)
                lines = []
                # a mapping's sequence is not indented, a mapping is
                inner = pad if isinstance(item, LazyList) else pad + "  "
                yield from _yaml(item, pad + writer.key(key, pad), inner, writer, writers)
            else:
                writer.entry(key, item, pad, lines)
                if len(lines) >= _BATCH:
                    yield "".join(lines)
                    lines = []
    if not opened:
        empty = "[]" if isinstance(value, LazyList) else "{}"
        lines = [f"{head} {empty}\n" if head else empty + "\n"]
    yield "".join(lines)
