"""`reliability probes SPEC`: blackbox_exporter modules, their scrape config and probe SLO rules."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]

_FILES = ("blackbox.yml", "prometheus-probes.yml", "probe-rules.yml")


def register(subparsers: Any) -> None:
    """Add the probes subcommand to the `reliability` parser."""
    probes = subparsers.add_parser(
        "probes",
        help="synthetic monitoring: blackbox_exporter modules, scrape config, probe SLO rules",
        description="For every entry point with a `probe:` (url, health, readiness, routes): "
        "blackbox_exporter modules (health, readiness, the key routes with the entry's p99 "
        "threshold as timeout), the Prometheus scrape jobs that run them and the time-based "
        f"probe SLO's rules. With -o DIR: {', '.join(_FILES)}; else all three on stdout.",
    )
    probes.add_argument("spec", metavar="SPEC", help="the system spec (system.yaml; - reads stdin)")
    probes.add_argument("-o", "--output", metavar="DIR", help="write the three files into DIR")
    probes.add_argument(
        "--blackbox-address",
        metavar="HOST:PORT",
        default=None,
        help="where Prometheus reaches the blackbox exporter (default 127.0.0.1:9115)",
    )
    probes.set_defaults(func=_cmd_probes)


def _address(text: str) -> str:
    from planner.errors import PlannerError

    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536 or " " in text:
        raise PlannerError(f"--blackbox-address: expected HOST:PORT, got {text!r}")
    return text


def _cmd_probes(args: argparse.Namespace) -> int:
    from planner.analysis import build_plan
    from planner.cli.output import write_files, write_output
    from planner.errors import PlannerError
    from planner.slo.definition import definitions_from_spec
    from planner.slo.probes import DEFAULT_BLACKBOX_ADDRESS, build_probes
    from planner.spec import load_spec

    address = _address(args.blackbox_address or DEFAULT_BLACKBOX_ADDRESS)
    spec = load_spec(args.spec)
    if not any(c.probe is not None for c in spec.components):
        raise PlannerError(
            f"{args.spec}: no entry point has a probe (add probe: {{url: http://host:port,"
            " routes: [/path]} to an entry point)"
        )
    main = definitions_from_spec(spec)[0]
    signals = build_plan(spec).monitoring.signals
    files = build_probes(spec, signals, main, blackbox_address=address)
    texts = (files.blackbox, files.scrape, files.rules.to_yaml())
    if args.output in (None, "-"):
        write_output("\n---\n".join(texts), None)
    else:
        out = Path(args.output)
        if not out.is_dir():
            raise PlannerError(f"{args.output}: not a directory (-o names the directory)")
        write_files({out / name: text for name, text in zip(_FILES, texts, strict=True)})
    for warning in files.warnings:
        print(f"reliability: warning: {warning}", file=sys.stderr)
    return 0
