"""`reliability validate` (a spec or a plan file) and `reliability schema` (its JSON Schema)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

from planner.cli.output import write_output
from planner.errors import PlannerError

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the validate and schema subcommands to the `reliability` parser."""
    validate = subparsers.add_parser(
        "validate",
        help="check a system spec or a plan file",
        description="Check a system spec (system.yaml) or a plan file (what resilience.load_plan "
        "reads); says which it is and that it is valid, or names the offending field.",
    )
    validate.add_argument("file", metavar="FILE", help="a system spec or a plan (YAML or JSON)")
    validate.set_defaults(func=_cmd_validate)

    schema = subparsers.add_parser(
        "schema",
        help="the JSON Schema of plan files",
        description="The JSON Schema (draft 2020-12) of the plan file resilience.load_plan reads.",
    )
    schema.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    schema.set_defaults(func=_cmd_schema)


def _read_document(path: str) -> object:
    """Parse a YAML or JSON file for `validate` to tell a spec from a plan."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise PlannerError(f"{path}: not UTF-8 text") from None
    try:
        if path.endswith(".json"):
            return json.loads(text)
        return yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise PlannerError(f"{path}: not valid JSON at {where}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise PlannerError(f"{path}: not valid YAML{where}") from None


def _count(n: int, word: str) -> str:
    """`1 policy`, `3 policies`, `2 components`."""
    if n == 1:
        return f"1 {word}"
    return f"{n} {word[:-1]}ies" if word.endswith("y") else f"{n} {word}s"


def _cmd_validate(args: argparse.Namespace) -> int:
    path: str = args.file
    document = _read_document(path)
    if isinstance(document, dict) and "components" in document:
        from planner.spec import load_spec

        spec = load_spec(path)
        from planner.analysis import build_plan

        plan = build_plan(spec)  # the analyses check what the schema alone cannot
        edges = sum(len(c.dependencies) for c in spec.components)
        modes = len(plan.failure_modes)
        counts = ", ".join(
            _count(n, word)
            for n, word in (
                (len(spec.components), "component"),
                (edges, "dependency"),
                (modes, "failure mode"),
            )
        )
        print(f"{path}: valid system spec: {spec.system}, {counts}")
        return 0
    if isinstance(document, dict) and "mechanisms" in document:
        import resilience

        resilience.load_plan(path)
        mechanisms = document["mechanisms"] or {}
        names = sorted(name for name in mechanisms if name != "defaults")
        listed = ", ".join(names[:8]) + (", …" if len(names) > 8 else "")
        policies = _count(len(names), "policy")
        print(f"{path}: valid plan: {document.get('system')}, {policies}: {listed}")
        return 0
    raise PlannerError(
        f"{path}: neither a system spec (no 'components' key) nor a plan (no 'mechanisms' key)"
    )


def _cmd_schema(args: argparse.Namespace) -> int:
    from resilience.config import plan_json_schema

    write_output(json.dumps(plan_json_schema(), indent=2, sort_keys=True) + "\n", args.output)
    return 0
