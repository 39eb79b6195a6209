"""`reliability plan`, `failures`, `recovery`, `runbook` and `postmortem`: the plan as a report.

Each handler reads the spec once, builds the plan and renders it; `planner.cli.main` turns
PlannerError/OSError into one stderr line and exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planner.cli.output import write_chunks, write_into_directory, write_output
from planner.cli.progress import Progress
from planner.errors import PlannerError
from planner.figure import DERIVATIONS
from planner.render import FORMATS

if TYPE_CHECKING:
    from planner.model import Plan
    from planner.spec import SystemSpec

__all__ = ["format_for", "register"]

Handler = Callable[[argparse.Namespace], int]


def register(subparsers: Any) -> None:
    """Add the report subcommands to the `reliability` parser."""
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
        help="the post-mortem for this system: a template, or filled from Prometheus",
        description="The post-mortem template (timeline, impact, error budget) for this system; "
        "with --prometheus URL --from T --to T, filled from what Prometheus recorded.",
    )
    postmortem.add_argument("spec", metavar="SPEC", help="the system spec (system.yaml)")
    postmortem.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    postmortem.add_argument(
        "--prometheus",
        metavar="URL",
        help="fill it from this Prometheus: timeline, failing dependency, impact, detection",
    )
    postmortem.add_argument("--from", dest="start", metavar="TIME", help="incident start (UTC)")
    postmortem.add_argument("--to", dest="end", metavar="TIME", help="incident end (UTC)")
    postmortem.set_defaults(func=_cmd_postmortem)


def _load(spec_path: str, progress: Progress | None = None) -> tuple[SystemSpec, Plan]:
    """The spec at `spec_path`, read once, and its plan (imports local: `--help` stays fast);
    `progress` counts the parse and each stage of the analysis."""
    from planner.inputs import shown
    from planner.spec import load_spec, spec_warnings

    spec = load_spec(spec_path)
    for line in spec_warnings(spec):  # a contradiction the plan is still built from
        print(f"reliability: warning: {shown(spec_path)}: {line}", file=sys.stderr)
    from planner.analysis import build_plan

    if progress is None:
        return spec, build_plan(spec)
    progress.step("spec read")
    return spec, build_plan(spec, progress.step)


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
        from planner.analysis import STAGES

        progress = Progress(1 + len(STAGES) + 1)  # the spec, the analysis, the output
        try:
            return _render(args, sections, progress)
        finally:
            progress.close()

    return handle


def _render(
    args: argparse.Namespace,
    sections: tuple[str, ...] | None,
    progress: Progress,
) -> int:
    """Plan `args.spec` and write it in `--format`, counting each step on `progress`."""
    from planner.render import render_chunks

    spec, plan = _load(args.spec, progress)
    if getattr(args, "prometheus", None):  # `plan --prometheus URL` (planner.cli.slo)
        from planner.cli.slo import measure_into

        plan = measure_into(spec, plan, args)
    if args.output is not None and _names_directory(args.output):
        return _write_page(plan, sections, args)
    fmt = args.format or format_for(args.output)
    # the plan file compact (a machine's file, half the size); a section's records readable
    derivations = args.derivations or ("compact" if sections is None else "refs")
    chunks = render_chunks(plan, fmt, sections, derivations)
    if sections is None and fmt == "yaml":
        # The plan file load_plan reads: sealed, so a reload never takes it half-written.
        from resilience.files import seal_chunks

        chunks = seal_chunks(chunks)
    write_chunks(progress.writing(chunks), args.output)
    return 0


#: The page's file name when `-o` names a directory.
PAGE = "index.html"


def _names_directory(output: str) -> bool:
    """`-o DIR/` (the trailing slash says it): the HTML page and its runbooks go into it. An
    existing directory named without the slash stays an error, so a typo never fills one."""
    return output.endswith(("/", os.sep))


def _write_page(plan: Plan, sections: tuple[str, ...] | None, args: argparse.Namespace) -> int:
    """DIR/index.html with its runbooks beside it, linked from the page: all files or none."""
    from planner.render.html import render_html
    from planner.render.runbooks import runbook_files

    if args.format not in (None, "html"):
        raise PlannerError(
            f"{args.output}: -o names a directory, which holds an HTML report and its runbooks;"
            f" --format {args.format} writes one file: give -o a file name"
        )
    runbooks = runbook_files(plan)
    files = {PAGE: render_html(plan, sections, runbooks=""), **runbooks}
    for path in write_into_directory(args.output, files):
        print(path)
    return 0


def _cmd_runbook(args: argparse.Namespace) -> int:
    from planner.render.runbooks import runbook_files

    _spec, plan = _load(args.spec)
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

    if args.prometheus is None:
        if args.start is not None or args.end is not None:
            raise PlannerError("--from and --to need --prometheus URL (the data to read)")
        _spec, plan = _load(args.spec)
        write_output(postmortem_markdown(plan), args.output)
        return 0
    from planner.cli.operate import postmortem_from_data

    spec, plan = _load(args.spec)
    write_output(postmortem_from_data(spec, plan, args), args.output)
    return 0


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
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE|DIR/",
        help="write here instead of stdout; a directory (DIR/, with the slash) gets the HTML "
        "report as DIR/index.html with its runbooks beside it, linked from the page",
    )
    parser.add_argument(
        "--derivations",
        choices=DERIVATIONS,
        default=None,
        help="json/yaml: how each figure's derivation is written — compact (the plan's"
        " default): each distinct figure once, in report.figures, its index everywhere else,"
        " and each list of records a table {fields, rows} (planner.decode.decode reads it"
        " back as refs); refs (a section's default): records, each figure's inputs and the"
        " index of its formula in report.formulas, each fact once (the reason lines,"
        " mitigations and runbook text left out); full: the formula text in every figure and"
        " all the prose; none: value and unit only",
    )
    parser.set_defaults(func=_report(sections))
