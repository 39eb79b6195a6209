"""What the kernel charges for memory a process touches for the first time: the floor of a large
plan's `sys` seconds (`planner_stages.py`'s sys column, `planner_scale.py`'s plan_sys_s).

Each round maps `--mb` MB of fresh anonymous memory, writes one byte into every 4 KB page and
unmaps it: in huge pages (`MADV_HUGEPAGE`), then in 4 KB pages, then in huge pages again. A
round's figure is wall seconds per GB and µs per 4 KB page, with the minor page faults it took.
On a virtual machine whose host backs guest memory lazily, the first round pays for memory the
host has not handed over yet (or took back: let the machine idle a minute before a run), the
later ones reuse what the round before freed; huge pages cut the faults 512-fold, and the time
only of memory already handed over.

Run:  .venv/bin/python benchmarks/page_cost.py [--mb 1024]
"""

from __future__ import annotations

import argparse
import mmap
import resource
import time

PAGE = 4096


def touch(megabytes: int, huge: bool) -> tuple[float, int]:
    """Seconds and minor faults to write one byte into each 4 KB page of a fresh mapping."""
    size = megabytes * 1024 * 1024
    area = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        if huge:
            area.madvise(mmap.MADV_HUGEPAGE)
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        start = time.perf_counter()
        for offset in range(0, size, PAGE):
            area[offset] = 1
        seconds = time.perf_counter() - start
        return seconds, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    finally:
        area.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=1024, help="megabytes touched per round")
    args = parser.parse_args()
    pages = args.mb * 1024 * 1024 // PAGE
    print(f"{'round':>12} {'s per GB':>9} {'µs/page':>8} {'faults':>8}")
    for label, huge in (("huge, first", True), ("4 KB", False), ("huge", True)):
        seconds, faults = touch(args.mb, huge)
        per_gb = seconds * 1024 / args.mb
        print(f"{label:>12} {per_gb:>9.2f} {seconds / pages * 1e6:>8.2f} {faults:>8}", flush=True)


if __name__ == "__main__":
    main()
