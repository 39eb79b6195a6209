"""The plan document written as a stream of chunks, JSON or YAML, never one big string.

The document (`planner.document.document`) keeps its large parts lazy; these writers convert and
write them piece by piece, so memory holds the plan plus a batch of items, not the plain
document and its text besides. The YAML bytes are those of
`yaml.dump(doc, sort_keys=False, allow_unicode=True, width=100)` of the whole document: each
piece is dumped in its place (wrapped in the keys above it, which are then cut off), so
indentation and line folding come out as in one dump. JSON keeps the document's outer levels
indented, one key or section item per line, and writes each item compactly on its line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import islice
from typing import Any

import yaml

from planner.document import Deferred, LazyList, LazyMap, Section

__all__ = ["json_chunks", "yaml_chunks"]

#: Items dumped per YAML call: one call per item would cost more than the items.
_BATCH = 256

_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's emitter when built


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
    yield from _json(doc, 0)
    yield "\n"


def _json(value: Any, level: int) -> Iterator[str]:
    if isinstance(value, Deferred):
        value = value.make()
    pad = "\n" + "  " * (level + 1)
    if isinstance(value, (LazyMap, Section)):
        parts: list[str] = []  # lines of plain values, written _BATCH at a time
        for key, item in value.items():
            parts.append(("," if parts else "{") + pad)
            parts.append(json.dumps(key, ensure_ascii=False) + ": ")
            if isinstance(item, Deferred):
                item = item.make()
            if _lazy(item):
                yield "".join(parts)
                parts = [""]  # opened: later keys start with a comma
                yield from _json(item, level + 1)
            else:
                parts.append(_compact(item))
                if len(parts) >= _BATCH:
                    yield "".join(parts)
                    parts = [""]
        yield "".join(parts) + (("\n" + "  " * level + "}") if parts else "{}")
    elif isinstance(value, LazyList):
        items = iter(value)
        opened = False
        while batch := list(islice(items, _BATCH)):
            yield ("," if opened else "[") + pad + ("," + pad).join(map(_compact, batch))
            opened = True
        yield ("\n" + "  " * level + "]") if opened else "[]"
    else:
        yield _compact(value)


def yaml_chunks(doc: Any) -> Iterator[str]:
    """`doc` as block-style YAML, keys in order, in chunks."""
    yield from _yaml(doc, ())


def _dump(value: Any, path: tuple[str, ...]) -> str:
    """`value` as YAML in its place under the mapping keys `path` (those lines cut off)."""
    for key in reversed(path):
        value = {key: value}
    text: str = yaml.dump(value, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    if not path:
        return text
    return text.split("\n", len(path))[len(path)]


def _yaml(value: Any, path: tuple[str, ...]) -> Iterator[str]:
    if isinstance(value, Deferred):
        value = value.make()
    if isinstance(value, (LazyMap, Section)):
        empty = True
        for key, item in value.items():
            empty = False
            if isinstance(item, Deferred):
                item = item.make()
            if _lazy(item):
                # the key's own line, as a dump of it in its place would write it
                line = _dump({key: 0}, path)
                yield line[: line.rindex(":") + 1] + "\n"
                yield from _yaml(item, (*path, key))
            else:
                yield _dump({key: item}, path)
        if empty:
            yield _dump({}, path)
    elif isinstance(value, LazyList):
        items = iter(value)
        wrote = False
        while batch := list(islice(items, _BATCH)):
            wrote = True
            yield _dump(batch, path)
        if not wrote:
            yield _dump([], path)
    else:
        yield _dump(value, path)
