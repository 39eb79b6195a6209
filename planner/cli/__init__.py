"""The `reliability` command: a thin argparse layer over the planner.

One module per command group, each adding its subcommands through `register(subparsers)`:
`report` (plan, failures, recovery, runbook, postmortem), `validate` (validate, schema), `slo`
(rules, sla, dashboard), `probes`, `openslo` (slo export, slo import), `chaos` and `completion`.
Each handler takes the parsed arguments and returns an exit code; `main` owns the error handling for
all of them: a `PlannerError`, `ResilienceError` or `OSError` becomes one line on stderr and exit
code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from planner.cli import chaos, completion, openslo, operate, probes, report, slo, validate
from planner.cli.report import format_for
from planner.errors import PlannerError
from resilience import ResilienceError

__all__ = ["build_parser", "format_for", "main"]

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
  reliability schema --spec -o system.schema.json   # editors complete system.yaml
  reliability plan - < system.yaml            # a spec from stdin
  source <(reliability completion bash)       # or: reliability completion zsh

exit codes: 0 ok, 1 a check failed, 2 bad input or an unreachable server
(one line on stderr; set RELIABILITY_DEBUG=1 for the traceback of an internal error)
"""


# -------------------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser: every command group's subcommands."""
    parser = argparse.ArgumentParser(
        prog="reliability",
        description="Reliability engineering plans from a system description: failure modes, "
        "blast radius, resilience mechanisms, recovery, monitoring and SLA tracking.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"reliability {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    # in this order: `slo` adds --prometheus/--at to `plan`, which `report` registered;
    # `completion` last, as it completes every command registered before it
    for group in (report, validate, slo, operate, probes, openslo, chaos, completion):
        group.register(subparsers)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("reliability-os")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


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
    except (RecursionError, MemoryError) as exc:
        # Readers bound their input (resilience.files); this is the last line of defence.
        _error(f"the input is too large or nested too deeply to process ({type(exc).__name__})")
        return 2
    except Exception as exc:
        if os.environ.get("RELIABILITY_DEBUG"):
            raise
        _error(f"internal error ({type(exc).__name__}: {exc}); please report it")
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
