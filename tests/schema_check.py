"""A small checker for the JSON Schema subset of tests/schemas/ (see its README).

Keywords: type, enum, properties (unknown properties are errors unless additionalProperties
allows them), required, additionalProperties, items, anyOf, pattern, minLength, maxLength,
minimum, maximum, exclusiveMinimum. Returns every violation with its path.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

SCHEMAS = Path(__file__).resolve().parent / "schemas"

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


def load_schema(name: str) -> dict[str, Any]:
    """A schema of tests/schemas/ by file name."""
    schema: dict[str, Any] = yaml.safe_load((SCHEMAS / name).read_text())
    return schema


def violations(value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """What in `value` the schema does not allow, one line per violation."""
    out: list[str] = []
    if "anyOf" in schema:
        if all(violations(value, option, path) for option in schema["anyOf"]):
            out.append(f"{path}: matches none of {schema['anyOf']}")
        return out
    kind = schema.get("type")
    if kind is not None:
        ok = isinstance(value, _TYPES[kind]) and not (
            kind in ("integer", "number") and isinstance(value, bool)
        )
        if not ok:
            return [f"{path}: expected {kind}, got {type(value).__name__} {value!r}"]
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            out.append(f"{path}: {value!r} does not match {schema['pattern']}")
        if len(value) < schema.get("minLength", 0):
            out.append(f"{path}: shorter than {schema['minLength']}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            out.append(f"{path}: longer than {schema['maxLength']}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "maximum" in schema and value > schema["maximum"]:
            out.append(f"{path}: {value} is above {schema['maximum']}")
        if "minimum" in schema and value < schema["minimum"]:
            out.append(f"{path}: {value} is below {schema['minimum']}")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            out.append(f"{path}: {value} is not above {schema['exclusiveMinimum']}")
    if isinstance(value, dict):
        props: dict[str, Any] = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key in schema.get("required", []):
            if key not in value:
                out.append(f"{path}: missing required {key!r}")
        for key, item in value.items():
            if key in props:
                out += violations(item, props[key], f"{path}.{key}")
            elif isinstance(extra, dict):
                out += violations(item, extra, f"{path}.{key}")
            elif props or extra is False:
                out.append(f"{path}: unknown field {key!r} (would be pruned or rejected)")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            out += violations(item, schema["items"], f"{path}[{i}]")
    return out
