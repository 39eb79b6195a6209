"""CPU seconds of each planning stage (`build_plan`'s STAGES), for a generated system.

The spec comes from planner_scale.py's generators (mesh by default); each size runs in a fresh
subprocess. CPU time (`time.process_time`), not wall time: the figures hold on a shared machine.

`--heap MB` first fills the heap with about MB megabytes of small objects in random order and
frees every other one, so the plan is built among scattered holes as in a large plan's last
stages: a small plan then costs more per component for the same work, which tells how much of
the growth of µs per component with size is the memory the plan lives in.

Run:  .venv/bin/python benchmarks/planner_stages.py [--shape mesh] [--sizes 1000,10000] [--heap MB]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
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


def fragment(megabytes: int) -> list[dict[str, object]]:
    """About `megabytes` MB of small dicts (~400 bytes each with their contents), allocated and
    then shuffled, every other one freed: the heap a large plan's later stages allocate in."""
    held = [{"name": str(i), "pair": [i, i + 0.5]} for i in range(megabytes * 2500)]
    random.Random(7).shuffle(held)
    del held[::2]
    return held


def measure(shape: str, n: int) -> dict[str, float]:
    """CPU seconds per stage of one `build_plan`, in all (`total`) and the kernel's share of the
    total (`sys`: mostly handing out memory, `faults` thousand pages of it: see page_cost.py)."""
    spec = parse_spec(GENERATORS[shape](n), f"<generated {shape} {n}>")
    seconds: dict[str, float] = {}
    before = resource.getrusage(resource.RUSAGE_SELF)
    last = start = time.process_time()

    def done(stage: str) -> None:
        nonlocal last
        now = time.process_time()
        seconds[stage] = now - last
        last = now

    build_plan(spec, done)
    seconds["total"] = time.process_time() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    seconds["sys"] = after.ru_stime - before.ru_stime
    seconds["faults"] = (after.ru_minflt - before.ru_minflt) / 1000
    return seconds


def main() -> None:
    """Print one row per size, each measured in its own subprocess."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="mesh", choices=sorted(GENERATORS))
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--heap", type=int, default=0, metavar="MB", help="fragment MB first")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # N, in this process, as JSON
    args = parser.parse_args()
    if args.one:
        held = fragment(args.heap)
        print(json.dumps(measure(args.shape, args.one)))
        del held
        return
    columns = [*STAGES, "total", "sys", "faults"]
    print(f"{'components':>10} " + " ".join(f"{c[:12]:>12}" for c in columns) + " mech share")
    for n in (int(s) for s in args.sizes.split(",")):
        argv = [sys.executable, __file__, "--shape", args.shape, "--heap", str(args.heap)]
        argv += ["--one", str(n)]
        done = subprocess.run(argv, capture_output=True, text=True, check=True)
        row = json.loads(done.stdout)
        cells = " ".join(f"{row[c]:>12.2f}" for c in columns)
        print(f"{n:>10} {cells} {row['mechanisms'] / row['total']:>10.0%}", flush=True)


if __name__ == "__main__":
    main()
