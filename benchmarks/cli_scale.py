"""How long each `reliability` command takes on a large generated system, as a user runs it.

The spec comes from planner_scale.py's generators (mesh by default), written as JSON; each
command runs once as its own process (Python's start, the imports and planning included) and
writes into a temporary directory. Printed: wall seconds and the CPU seconds of the process
(user + system, from `os.wait4`), and its peak resident memory.

Run:  .venv/bin/python benchmarks/cli_scale.py [--shape mesh] [--sizes 2000,10000]
      [--commands plan,html,rules,chaos,runbook,dashboard,load]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks.planner_scale import GENERATORS, _validate_command  # noqa: E402

#: What each command runs, after `reliability`: SPEC is the spec, OUT a fresh path, PLAN the
#: JSON plan written by `plan`.
COMMANDS = {
    "plan": ["plan", "SPEC", "-o", "OUT.json"],
    "html": ["plan", "SPEC", "-o", "OUT.html"],
    "rules": ["rules", "SPEC", "-o", "OUT.yml"],
    "chaos": ["chaos", "generate", "SPEC", "-o", "OUT"],
    "runbook": ["runbook", "SPEC", "-o", "OUT"],
    "dashboard": ["dashboard", "SPEC", "-o", "OUT.json"],
}

#: `load`: resilience.load_plan of the JSON plan `plan` wrote, in a process of its own.
LOAD = "import sys, resilience; resilience.load_plan(sys.argv[1])"


def run(argv: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of one process; exits on its failure."""
    with tempfile.TemporaryFile() as err:  # a pipe could fill and stop the command
        start = time.perf_counter()
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            last = err.read().decode(errors="replace").strip().splitlines()[-1:]
            raise SystemExit(f"{' '.join(argv)}: {last}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    """Print one row per (size, command)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="mesh", choices=sorted(GENERATORS))
    parser.add_argument("--sizes", default="2000,10000")
    parser.add_argument("--commands", default=",".join([*COMMANDS, "load"]))
    args = parser.parse_args()
    commands = args.commands.split(",")
    unknown = sorted(set(commands) - {*COMMANDS, "load"})
    if unknown:
        parser.error(f"unknown command {', '.join(unknown)}")
    print(
        f"{'shape':>6} {'components':>10} {'command':>10} {'wall s':>8} {'cpu s':>8} {'peak MB':>8}"
    )
    for n in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            spec = Path(tmp) / "system.json"
            spec.write_text(json.dumps(GENERATORS[args.shape](n)), encoding="utf-8")
            plan = Path(tmp) / "plan.json"
            for name in commands:
                if name == "load":
                    if not plan.exists():
                        run([*_validate_command(), "plan", str(spec), "-o", str(plan)])
                    argv = [sys.executable, "-c", LOAD, str(plan)]
                else:
                    out = plan.with_suffix("") if name == "plan" else Path(tmp) / name
                    argv = [*_validate_command()] + [
                        str(spec) if a == "SPEC" else a.replace("OUT", str(out))
                        for a in COMMANDS[name]
                    ]
                wall, cpu, rss = run(argv)
                print(f"{args.shape:>6} {n:>10} {name:>10} {wall:>8.2f} {cpu:>8.2f} {rss:>8.0f}")


if __name__ == "__main__":
    main()
