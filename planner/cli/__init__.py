"""The `reliability` command: a thin argparse layer over the planner.

Each subcommand's handler takes the parsed arguments and returns an exit code; `main` owns the
error handling for all of them, including the subcommands that other modules register
(`planner.cli.slo`, `planner.cli.chaos`, through their `register(subparsers)`): a
`PlannerError`, `ResilienceError` or `OSError` becomes one line on stderr and exit code 2, never a
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from planner.cli.output import write_into_directory, write_output
from planner.errors import PlannerError
from resilience import ResilienceError

__all__ = ["EXTENSIONS", "FORMATS", "build_parser", "format_for", "main"]

#: Modules that add subcommands through `register(subparsers) -> None`.
EXTENSIONS = ("planner.cli.slo", "planner.cli.chaos")

#: Output formats of the report commands (`--format`).
FORMATS = ("text", "markdown", "html", "json", "yaml")

#: Exit code for a bug in reliability itself (not the user's input), after one line on stderr.
EXIT_INTERNAL = 70

Handler = Callable[[argparse.Namespace], int]

_EPILOG = """\
examples:
  reliability plan examples/ai_gateway/system.yaml
  reliability plan system.yaml -o plan.yaml   # the plan file resilience.load_plan reads
  reliability plan system.yaml -o plan.html   # format from the -o extension, or --format
  reliability failures system.yaml --format markdown
  reliability recovery system.yaml
  reliability runbook system.yaml -o runbooks/
  reliability postmortem system.yaml -o postmortem.md
  reliability validate plan.yaml              # a system spec or a plan file
  reliability schema -o plan.schema.json

exit codes: 0 ok, 1 a check failed, 2 bad input or an unreachable server
(one line on stderr; set RELIABILITY_DEBUG=1 for the traceback of an internal error)
"""


# ------------------------------------------------------------------------------------ handlers


def _load_plan_of(spec_path: str) -> Any:
    """The spec at `spec_path`, analysed into a plan (imports kept local: `--help` stays fast)."""
    from planner.spec import load_spec

    spec = load_spec(spec_path)
    from planner.analysis import build_plan

    return build_plan(spec)


#: `-o` file extension → the format written when `--format` is not given.
_FORMAT_BY_SUFFIX = {
    ".yaml": "yaml",
    ".yml": "yaml",
    ".json": "json",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
}


def format_for(output: str | None) -> str:
    """The format for `-o output` when `--format` is absent: by extension, else text.

    So `reliability plan system.yaml -o plan.yaml` writes the plan file load_plan reads, not a
    text report under a .yaml name.
    """
    if output is None:
        return "text"
    return _FORMAT_BY_SUFFIX.get(Path(output).suffix.lower(), "text")


def _report(sections: tuple[str, ...] | None) -> Handler:
    """A handler that renders `sections` of the plan (None: all of them) in `--format`."""

    def handle(args: argparse.Namespace) -> int:
        from planner.render import render_plan

        plan = _load_plan_of(args.spec)
        if getattr(args, "prometheus", None):  # `plan --prometheus URL` (planner.cli.slo)
            from planner.cli.slo import measure_into

            plan = measure_into(plan, args)
        fmt = args.format or format_for(args.output)
        write_output(render_plan(plan, fmt, sections), args.output)
        return 0

    return handle


def _cmd_runbook(args: argparse.Namespace) -> int:
    from planner.render.runbooks import runbook_files

    plan = _load_plan_of(args.spec)
    files = runbook_files(plan)
    if args.output is None:
        write_output("\n\n".join(text.rstrip("\n") for text in files.values()) + "\n", None)
        return 0
    directory = Path(args.output)
    if directory.exists() and not directory.is_dir():
        raise PlannerError(f"{directory}: -o must name a directory for the runbooks")
    # All runbooks or none: a failure midway must not leave a partial set that looks complete.
    for path in write_into_directory(directory, files):
        print(path)
    if not files:
        print(f"no P1/P2 failure modes in {args.spec}: no runbook written", file=sys.stderr)
    return 0


def _cmd_postmortem(args: argparse.Namespace) -> int:
    from planner.render.runbooks import postmortem_markdown

    write_output(postmortem_markdown(_load_plan_of(args.spec)), args.output)
    return 0


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


# -------------------------------------------------------------------------------------- parser


def _add_report_command(
    subparsers: Any, name: str, help_text: str, sections: tuple[str, ...] | None
) -> None:
    parser = subparsers.add_parser(name, help=help_text, description=help_text)
    parser.add_argument("spec", metavar="SPEC", help="the system spec (system.yaml)")
    parser.add_argument(
        "--format",
        "-f",
        choices=FORMATS,
        default=None,
        help="output format (default: from the -o file's extension — .yaml/.yml, .json, .md, "
        ".html — else text); json and yaml are plan files for resilience.load_plan",
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    parser.set_defaults(func=_report(sections))


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, including the subcommands registered by EXTENSIONS."""
    parser = argparse.ArgumentParser(
        prog="reliability",
        description="Reliability engineering plans from a system description: failure modes, "
        "blast radius, resilience mechanisms, recovery, monitoring and SLA tracking.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_report_command(subparsers, "plan", "the full reliability engineering plan", None)
    _add_report_command(
        subparsers, "failures", "failure-mode analysis: risk matrix, blast radius", ("failures",)
    )
    _add_report_command(
        subparsers, "recovery", "recovery procedures: RTO/RPO, DR strategy, failover", ("recovery",)
    )

    runbook = subparsers.add_parser(
        "runbook",
        help="one markdown runbook per P1/P2 failure mode",
        description="One markdown runbook per P1/P2 failure mode (symptoms, alert, diagnosis, "
        "mitigation, recovery, verification); printed, or written into a directory with -o.",
    )
    runbook.add_argument("spec", metavar="SPEC", help="the system spec (system.yaml)")
    runbook.add_argument("-o", "--output", metavar="DIR", help="directory for the runbook files")
    runbook.set_defaults(func=_cmd_runbook)

    postmortem = subparsers.add_parser(
        "postmortem",
        help="the post-mortem template for this system",
        description="The post-mortem template (timeline, impact, error budget) for this system.",
    )
    postmortem.add_argument("spec", metavar="SPEC", help="the system spec (system.yaml)")
    postmortem.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    postmortem.set_defaults(func=_cmd_postmortem)

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

    for module_name in EXTENSIONS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise  # the extension exists but one of its own imports is missing: a bug
            continue
        module.register(subparsers)
    return parser


# ---------------------------------------------------------------------------------------- main


def _error(message: str) -> None:
    print(f"reliability: error: {message}", file=sys.stderr)


def _os_error_message(exc: OSError) -> str:
    """`[Errno 2] No such file or directory: 'x'` → `x: No such file or directory`."""
    if exc.strerror and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror}"
    return str(exc) or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 check failed, 2 bad input)."""
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # argparse: --help (0) or a usage error (2, usage on stderr)
            return exc.code if isinstance(exc.code, int) else 2
        handler: Handler = args.func
        return int(handler(args))
    except KeyboardInterrupt:
        print("reliability: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`reliability plan x | head`): silence the flush at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except (PlannerError, ResilienceError) as exc:
        _error(str(exc) or type(exc).__name__)
        return 2
    except OSError as exc:
        _error(_os_error_message(exc))
        return 2
    except Exception as exc:
        if os.environ.get("RELIABILITY_DEBUG"):
            raise
        _error(f"internal error ({type(exc).__name__}: {exc}); please report it")
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
