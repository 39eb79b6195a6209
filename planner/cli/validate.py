"""`reliability validate` (a spec or a plan file) and `reliability schema` (its JSON Schema)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from planner.cli.output import write_output
from planner.errors import PlannerError

__all__ = ["register", "spec_json_schema"]


def register(subparsers: Any) -> None:
    """Add the validate and schema subcommands to the `reliability` parser."""
    validate = subparsers.add_parser(
        "validate",
        help="check a system spec or a plan file",
        description="Check a system spec (system.yaml) or a plan file (what resilience.load_plan "
        "reads); says which it is and that it is valid, or names the offending field.",
    )
    validate.add_argument(
        "file", metavar="FILE", help="a system spec or a plan (YAML or JSON; - reads stdin)"
    )
    validate.set_defaults(func=_cmd_validate)

    schema = subparsers.add_parser(
        "schema",
        help="the JSON Schema of plan files (--spec: of system.yaml)",
        description="The JSON Schema (draft 2020-12) of the plan file resilience.load_plan reads, "
        "or with --spec of system.yaml (for editors: schemas/system.schema.json).",
    )
    schema.add_argument(
        "--spec", action="store_true", help="the schema of the system spec instead of the plan"
    )
    schema.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    schema.set_defaults(func=_cmd_schema)


def _read_document(path: str) -> object:
    """Parse a YAML or JSON file (`-`: stdin), bounded (`resilience.files`), for `validate` to
    tell a spec from a plan."""
    from planner.inputs import read_document

    return read_document(path, "the file")


def _count(n: int, word: str) -> str:
    """`1 policy`, `3 policies`, `2 components`."""
    if n == 1:
        return f"1 {word}"
    return f"{n} {word[:-1]}ies" if word.endswith("y") else f"{n} {word}s"


def _shown(path: str) -> str:
    """A file name for messages: `-` is standard input."""
    return "<stdin>" if path == "-" else path


def _cmd_validate(args: argparse.Namespace) -> int:
    from planner.perf import no_cyclic_gc

    with no_cyclic_gc():  # the document and the spec: many small objects, no cycles
        return _validate(args.file)


def _validate(path: str) -> int:
    document = _read_document(path)
    if isinstance(document, dict) and "components" in document:
        return _validate_spec(path, document)
    if isinstance(document, dict) and "mechanisms" in document:
        import resilience
        from resilience.names import Names

        # The service's own exception classes and functions are registered in its code, which
        # validate never imports: they are stood in for, and listed.
        lookup = Names(stand_ins=True)
        # load_plan reads a JSON file up to its report (resilience._json_head): what follows
        # the report is checked from the document read here
        keys = list(document)
        if path != "-" and ("report" not in keys or keys[-1] == "report"):
            resilience.load_plan(path, names=lookup)
        else:
            try:
                resilience.load_plan(document, names=lookup)
            except resilience.PlanError as exc:  # named after the file, not "<plan mapping>"
                raise resilience.PlanError(_shown(path), list(exc.problems)) from None
        mechanisms = document["mechanisms"] or {}
        names = sorted(name for name in mechanisms if name != "defaults")
        listed = ", ".join(names[:8]) + (", …" if len(names) > 8 else "")
        policies = _count(len(names), "policy")
        print(f"{_shown(path)}: valid plan: {document.get('system')}, {policies}: {listed}")
        unregistered = lookup.unregistered
        if unregistered:
            more = f", … {len(unregistered) - 8} more" if len(unregistered) > 8 else ""
            print(
                f"{_shown(path)}: names the service must register (load_plan(..., names=...)): "
                f"{', '.join(unregistered[:8])}{more}"
            )
        return 0
    raise PlannerError(
        f"{_shown(path)}: neither a system spec (no 'components' key) nor a plan"
        " (no 'mechanisms' key)"
    )


def _validate_spec(path: str, document: object) -> int:
    """Check a system spec as far as planning can refuse it, without building the plan.

    Past the schema, planning refuses a spec in two stages only: the SLOs' selectors
    (`derive_alerts`) and the mechanisms (`mechanisms.check`: a policy name two policies would
    share; with `check_tables`, as in the tests, a table the runtime would refuse); the later
    stages raise nothing on a valid spec. The failure modes are counted, not analysed
    (`failures.mode_count`): validating a 5,000-deep chain took 3.6 s with the whole plan.
    """
    from planner.analysis import mechanisms
    from planner.analysis.failures import mode_count
    from planner.analysis.graph import Graph
    from planner.analysis.monitoring.alerts import derive as derive_alerts
    from planner.spec import parse_spec, spec_warnings

    spec = parse_spec(document, _shown(path))  # the document _validate read
    for line in spec_warnings(spec):  # valid, but it cannot all be true
        print(f"reliability: warning: {_shown(path)}: {line}", file=sys.stderr)
    graph = Graph(spec)
    derive_alerts(spec)
    mechanisms.check(graph)
    modes = mode_count(graph)
    edges = sum(len(c.dependencies) for c in spec.components)
    counts = ", ".join(
        _count(n, word)
        for n, word in (
            (len(spec.components), "component"),
            (edges, "dependency"),
            (modes, "failure mode"),
        )
    )
    print(f"{_shown(path)}: valid system spec: {spec.system}, {counts}")
    return 0


def spec_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of `system.yaml`, for editors (yaml-language-server)."""
    from planner.spec import SystemSpec

    schema = SystemSpec.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "reliability-os system spec (system.yaml)",
        **{k: v for k, v in schema.items() if k != "title"},
    }


def _cmd_schema(args: argparse.Namespace) -> int:
    if args.spec:
        schema = spec_json_schema()
    else:
        from resilience.config import plan_json_schema

        schema = plan_json_schema()
    write_output(json.dumps(schema, indent=2, sort_keys=True) + "\n", args.output)
    return 0
