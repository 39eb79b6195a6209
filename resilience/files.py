"""Bounded reading of the YAML and JSON files the toolkit takes in: plans, specs, experiments.

Every file reader of reliability-os (`load_plan`, `reliability validate`, the spec loader, the
chaos experiment loader) goes through `read_document`, so a hostile or broken file costs bounded
time and memory and fails with one sentence:

- **size**: at most `Limits.max_bytes` (default 64 MiB; the environment variable
  ``RELIABILITY_MAX_FILE_BYTES`` raises or lowers it, e.g. ``256MB``), checked from the file's
  size before anything is read;
- **nesting**: at most `Limits.max_depth` levels of mappings and lists (default 100);
- **aliases**: YAML anchors and aliases may add at most `Limits.max_alias_nodes` nodes to the
  document once expanded (default 100,000): a 1 KB "billion laughs" file is refused at once,
  anchors used for ordinary sharing (``<<: *defaults``) are not;
- **keys are strings**: a scalar mapping key is the string written, where YAML 1.1 would read
  ``on``, ``off``, ``yes``, ``no`` as booleans and ``404`` as a number; values keep YAML's types;
- **sealed files**: a YAML file that starts with the seal header must end with a matching
  checksum trailer (``reliability plan`` writes both, see `seal`), so a file caught
  half-written is refused.

Errors are `DocumentError` (a `ValueError`) whose message names what is wrong without the file
name (callers add it); `RecursionError` and `MemoryError` never escape.

Added in 0.1.0.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import reprlib
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = [
    "DEFAULT_MAX_ALIAS_NODES",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_DEPTH",
    "MAX_BYTES_ENV",
    "SAFE_DUMPER",
    "DocumentError",
    "Limits",
    "is_sealed",
    "parse_document",
    "read_bytes",
    "read_document",
    "seal",
    "seal_chunks",
    "short_repr",
    "shorten",
    "unseal",
]

DEFAULT_MAX_BYTES = 64 * 2**20
"""Largest file read (64 MiB): the example plan is 0.11 MiB, the YAML plan of a generated
1,000-component system (benchmarks/planner_scale.py) 12.6 MiB, its spec 0.3 MiB. A JSON plan
is read only up to its report (`resilience._json_head`): 9 MB of a 10,000-component plan."""

DEFAULT_MAX_DEPTH = 100
"""Deepest nesting of mappings and lists (a plan's mechanism table needs 5 levels, its report
9, a spec 5)."""

DEFAULT_MAX_ALIAS_NODES = 100_000
"""Most nodes YAML aliases may add once expanded."""

MAX_BYTES_ENV = "RELIABILITY_MAX_FILE_BYTES"
"""Environment variable overriding `DEFAULT_MAX_BYTES`: bytes, or with a unit (``256MB``)."""

MESSAGE_VALUE_CHARS = 200
"""How much of an offending value an error message quotes."""


class DocumentError(ValueError):
    """A file that cannot be read as a bounded YAML or JSON document (the message says why)."""


_SIZE_RE = re.compile(r"^\s*(\d+)\s*(|b|kb|kib|mb|mib|gb|gib)\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "kib": 2**10,
    "mb": 10**6,
    "mib": 2**20,
    "gb": 10**9,
    "gib": 2**30,
}


@dataclass(frozen=True, slots=True)
class Limits:
    """What `read_document` accepts; the defaults are documented on each constant."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_depth: int = DEFAULT_MAX_DEPTH
    max_alias_nodes: int = DEFAULT_MAX_ALIAS_NODES

    @classmethod
    def from_env(cls) -> Limits:
        """The defaults, with `max_bytes` from ``RELIABILITY_MAX_FILE_BYTES`` when it is set."""
        raw = os.environ.get(MAX_BYTES_ENV)
        if raw is None or not raw.strip():
            return cls()
        match = _SIZE_RE.match(raw)
        if match is None or int(match.group(1)) == 0:
            raise DocumentError(
                f"{MAX_BYTES_ENV}: expected a positive size in bytes or with a unit "
                f"(64MB, 256MiB), got {shorten(repr(raw), 60)}"
            )
        return cls(max_bytes=int(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])


def _size(n: int) -> str:
    if n >= 2**20:
        return f"{n / 2**20:.4g} MiB"
    if n >= 2**10:
        return f"{n / 2**10:.4g} KiB"
    return f"{n} bytes"


def shorten(text: str, limit: int = MESSAGE_VALUE_CHARS) -> str:
    """`text` cut to about `limit` characters, with how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters)"


_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxstring = MESSAGE_VALUE_CHARS
_REPR.maxother = MESSAGE_VALUE_CHARS
_REPR.maxlong = 40
for _attr in ("maxdict", "maxlist", "maxtuple", "maxset", "maxfrozenset"):
    setattr(_REPR, _attr, 8)


def short_repr(value: object, limit: int = MESSAGE_VALUE_CHARS) -> str:
    """`repr(value)` for an error message: bounded in time and cut to about `limit` characters."""
    try:
        return shorten(_REPR.repr(value), limit)
    except (RecursionError, MemoryError):  # pragma: no cover - reprlib is bounded by maxlevel
        return f"<{type(value).__name__}>"


# ------------------------------------------------------------------------------------ reading


def read_bytes(path: str | os.PathLike[str], limits: Limits | None = None) -> bytes:
    """The file's bytes, refused from its size before reading when over `limits.max_bytes`.

    Raises `OSError` when the file cannot be read, `DocumentError` when it is too large.
    """
    limit = (limits or Limits.from_env()).max_bytes
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        if size > limit:
            raise too_large(size, limit)
        data = file.read(limit + 1)  # a file growing while read is still cut at the limit
    if len(data) > limit:
        raise too_large(len(data), limit)
    return data


def read_head(path: str | os.PathLike[str], limit: int) -> tuple[bytes, int]:
    """The file's first `limit` bytes (all of a smaller file) and its size; `OSError` when it
    cannot be read."""
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        return file.read(limit), size


def too_large(size: int, limit: int) -> DocumentError:
    """The error for a file of `size` bytes, over the `limit`."""
    return DocumentError(
        f"the file is {_size(size)}, over the {_size(limit)} limit "
        f"(set {MAX_BYTES_ENV} to read larger files)"
    )


def decode(data: bytes) -> str:
    """UTF-8 text (a BOM is dropped), or `DocumentError`."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"expected UTF-8 text, byte {exc.start} is not") from None


def read_document(
    path: str | os.PathLike[str], *, limits: Limits | None = None, json_format: bool | None = None
) -> object:
    """Read and parse a YAML or JSON file (JSON by its ``.json`` suffix unless `json_format`).

    Raises `OSError` when the file cannot be read and `DocumentError` for everything else.
    """
    limits = limits or Limits.from_env()
    text = decode(read_bytes(path, limits))
    if json_format is None:
        json_format = Path(path).suffix.lower() == ".json"
    return parse_document(text, json_format=json_format, limits=limits)


def parse_document(text: str, *, json_format: bool = False, limits: Limits | None = None) -> object:
    """Parse YAML (or JSON) text within `limits`; a sealed YAML text must match its trailer."""
    limits = limits or Limits.from_env()
    if len(text) > limits.max_bytes:
        raise too_large(len(text), limits.max_bytes)
    try:
        if json_format:
            return _parse_json(text, limits)
        return _parse_yaml(unseal(text), limits)
    except RecursionError:
        raise DocumentError(f"nested deeper than {limits.max_depth} levels") from None
    except MemoryError:
        raise DocumentError("too large to hold in memory once parsed") from None


def _parse_json(text: str, limits: Limits) -> object:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise DocumentError(f"not valid JSON ({exc.msg} at {where})") from None
    check_depth(data, limits.max_depth)
    return data


def check_depth(data: object, max_depth: int) -> None:
    """Refuse parsed data nested deeper than `max_depth` (iterative: no recursion)."""
    stack: list[tuple[object, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > max_depth:
            raise DocumentError(f"nested deeper than {max_depth} levels")
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


# ------------------------------------------------------------------------------------ YAML

_MERGE_TAG = "tag:yaml.org,2002:merge"

#: libyaml's parser when PyYAML was built with it (about ten times faster on large files).
_BASE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: libyaml's safe dumper likewise, for the YAML files the tools write (rules, experiments).
#: PyYAML's pure-Python emitter is several times slower, and folds a NEL or U+2028 inside single
#: quotes into a space (the file reads back different); otherwise the two write the same text,
#: but that libyaml escapes the characters beyond the BMP (an emoji is written "\U0001F600").
SAFE_DUMPER: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class BoundedLoaderMixin:
    """Depth and alias limits and string keys for a `yaml.SafeLoader` (or libyaml's CSafeLoader)."""

    limits: Limits = Limits()
    _depth = 0

    def compose_node(self, parent: Node | None, index: object) -> Node:
        # Only the pure-Python composer recurses through here (libyaml composes in C, with its
        # own limit of 1,000 levels); refusing early keeps it clear of the recursion limit.
        self._depth += 1
        try:
            if self._depth > self.limits.max_depth:
                raise DocumentError(f"nested deeper than {self.limits.max_depth} levels")
            return super().compose_node(parent, index)  # type: ignore[misc,no-any-return]
        finally:
            self._depth -= 1

    may_share = True  # set False when the text has no anchor ('&'): no node can be shared

    def get_single_node(self) -> Node | None:
        node: Node | None = super().get_single_node()  # type: ignore[misc]
        if node is not None:
            if self.may_share:
                _check_graph(node, self.limits)
            else:
                _check_tree_depth(node, self.limits.max_depth)
        return node

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        """As SafeConstructor's, but a scalar key is the string written: YAML 1.1 would read
        `on`, `no` as booleans and `404` as a number, JSON and our schemas want strings."""
        self.flatten_mapping(node)  # type: ignore[attr-defined]
        mapping: dict[Hashable, Any] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag != _MERGE_TAG:
                key: object = key_node.value
            else:
                key = self.construct_object(key_node, deep=deep)  # type: ignore[attr-defined]
            if not isinstance(key, Hashable):
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    "found an unhashable key",
                    key_node.start_mark,
                )
            mapping[key] = self.construct_object(value_node, deep=deep)  # type: ignore[attr-defined]
        return mapping


class BoundedSafeLoader(BoundedLoaderMixin, _BASE_LOADER):  # type: ignore[valid-type,misc]
    """`yaml.SafeLoader` (libyaml's when available) with depth and alias limits, string keys."""


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _check_graph(root: Node, limits: Limits) -> None:
    """Refuse a composed YAML graph nested too deep, or whose aliases expand too far.

    Iterative post-order walk; each distinct node is visited once, and its expanded size and
    depth are memoised, so a "billion laughs" costs what its few hundred nodes cost.
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            children = _children(node)
            size[key] = 1 + sum(size[id(c)] for c in children)
            # Containers count, scalars do not (as in _check_tree_depth and JSON's check).
            depth[key] = (
                0
                if isinstance(node, ScalarNode)
                else 1 + max((depth[id(c)] for c in children), default=0)
            )
            if depth[key] > limits.max_depth:
                raise DocumentError(f"nested deeper than {limits.max_depth} levels")
            continue
        if key in size:
            continue
        if key in on_path:
            raise DocumentError("a YAML alias refers to a node that contains it (endless)")
        on_path.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in on_path:
                raise DocumentError("a YAML alias refers to a node that contains it (endless)")
            if id(child) not in size:
                stack.append((child, False))
    added = size[id(root)] - len(size)
    if added > limits.max_alias_nodes:
        raise DocumentError(
            f"YAML aliases expand the document by {added:,} nodes, over the limit of "
            f"{limits.max_alias_nodes:,} (an alias bomb?)"
        )


def _check_tree_depth(root: Node, max_depth: int) -> None:
    """Refuse a YAML tree (no shared nodes) nested deeper than `max_depth`, level by level.

    A third of the cost of `_check_graph`, which a document without anchors does not need.
    """
    level: list[Node] = [root]
    depth = 0
    while level:
        depth += 1
        below: list[Node] = []
        for node in level:
            if isinstance(node, MappingNode):
                for key, value in node.value:
                    if not isinstance(key, ScalarNode):
                        below.append(key)
                    if not isinstance(value, ScalarNode):
                        below.append(value)
            elif isinstance(node, SequenceNode):
                below.extend(n for n in node.value if not isinstance(n, ScalarNode))
        if below and depth >= max_depth:
            raise DocumentError(f"nested deeper than {max_depth} levels")
        level = below


def _parse_yaml(text: str, limits: Limits) -> object:
    loader = BoundedSafeLoader(text)
    loader.limits = limits
    loader.may_share = "&" in text
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        reason = getattr(exc, "problem", None) or type(exc).__name__
        raise DocumentError(f"not valid YAML{where} ({shorten(str(reason), 120)})") from None
    finally:
        loader.dispose()


# ------------------------------------------------------------------------------------ sealing

_HEADER = "# reliability-os sealed plan: the last line is its checksum\n"
_TRAILER_RE = re.compile(r"\n# reliability-os sha256:([0-9a-f]{64})\n?\Z")


def seal(text: str) -> str:
    """`text` between a header line and a checksum trailer line (both YAML comments).

    A reader (`parse_document`) then refuses the file unless it is complete: a reload never
    installs a plan caught half-written. Edit a sealed file by hand? Delete those two lines.
    """
    if not text.endswith("\n"):
        text += "\n"
    body = _HEADER + text
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
    return f"{body}# reliability-os sha256:{digest}\n"


def seal_chunks(chunks: Iterable[str]) -> Iterator[str]:
    """`seal` for text written piece by piece: the header, the chunks, then the trailer whose
    checksum was accumulated on the way (the same bytes as `seal("".join(chunks))`)."""
    digest = hashlib.sha256(_HEADER.encode("utf-8"))
    yield _HEADER
    last = ""
    for chunk in chunks:
        if chunk:
            digest.update(chunk.encode("utf-8"))
            last = chunk
            yield chunk
    if not last.endswith("\n"):
        digest.update(b"\n")
        yield "\n"
    yield f"# reliability-os sha256:{digest.hexdigest()}\n"


def is_sealed(text: str) -> bool:
    """Whether `text` starts with the header `seal` writes (so `unseal` checks its trailer)."""
    return text.startswith(_HEADER.rstrip("\n"))


def unseal(text: str) -> str:
    """`text` without its seal; `DocumentError` when a sealed text is incomplete or changed.

    A text without the header is returned as is (a file written by hand).
    """
    if not is_sealed(text):
        return text
    match = _TRAILER_RE.search(text)
    if match is None:
        raise DocumentError(
            "the file is sealed but has no checksum trailer as its last line: it is incomplete "
            "(still being written?)"
        )
    body = text[: match.start() + 1]
    if hashlib.sha256(body.encode("utf-8")).hexdigest() != match.group(1):
        raise DocumentError(
            "the file does not match its checksum trailer: it is incomplete (still being "
            "written?) or was edited after `reliability plan` wrote it (after editing by hand, "
            "delete its first and last lines, the '# reliability-os' seal)"
        )
    return body[len(_HEADER) :]
