"""CPU seconds of each planning stage (`build_plan`'s STAGES), for a generated system.

The spec comes from planner_scale.py's generators (mesh by default); each size runs in a fresh
subprocess. CPU time (`time.process_time`), not wall time: the figures hold on a shared machine.

Run:  .venv/bin/python benchmarks/planner_stages.py [--shape mesh] [--sizes 1000,10000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks.planner_scale import GENERATORS  # noqa: E402
from planner.analysis import STAGES, build_plan  # noqa: E402
from planner.spec import parse_spec  # noqa: E402


def measure(shape: str, n: int) -> dict[str, float]:
    """CPU seconds per stage of one `build_plan`, and in all (`total`)."""
    spec = parse_spec(GENERATORS[shape](n), f"<generated {shape} {n}>")
    seconds: dict[str, float] = {}
    last = start = time.process_time()

    def done(stage: str) -> None:
        nonlocal last
        now = time.process_time()
        seconds[stage] = now - last
        last = now

    build_plan(spec, done)
    seconds["total"] = time.process_time() - start
    return seconds


def main() -> None:
    """Print one row per size, each measured in its own subprocess."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="mesh", choices=sorted(GENERATORS))
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # N, in this process, as JSON
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.shape, args.one)))
        return
    columns = [*STAGES, "total"]
    print(f"{'components':>10} " + " ".join(f"{c[:12]:>12}" for c in columns) + " mech share")
    for n in (int(s) for s in args.sizes.split(",")):
        argv = [sys.executable, __file__, "--shape", args.shape, "--one", str(n)]
        done = subprocess.run(argv, capture_output=True, text=True, check=True)
        row = json.loads(done.stdout)
        cells = " ".join(f"{row[c]:>12.2f}" for c in columns)
        print(f"{n:>10} {cells} {row['mechanisms'] / row['total']:>10.0%}", flush=True)


if __name__ == "__main__":
    main()
