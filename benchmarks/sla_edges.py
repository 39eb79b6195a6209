"""How far the SLA's counts at a period edge are from the truth: exact edges vs `increase()`.

Run: ``.venv/bin/python benchmarks/sla_edges.py`` (needs ``prometheus`` and ``promtool``; starts
its own Prometheus on a free loopback port over a backfilled TSDB; env DAYS, SCRAPE, WINDOW_H,
SEED).

The generator draws per-second traffic (a daily cycle with per-minute noise) and, for every
midnight of DAYS days, a full outage of random length that starts 0–60 minutes before it: the
case where the issue found `increase()` under-counting. Counters are sampled every SCRAPE seconds
at an offset, so no midnight falls on a sample. For each day it counts the errors and requests
of (midnight, midnight + WINDOW_H hours] (default a week) three ways and compares each with the
generator's truth:

- ``exact edges`` — `planner.slo.counters.EventCounter`, what `reliability sla` uses;
- ``increase()`` — ``sum(increase(x[range]))`` at the range's end, what it used before;
- the bound: the events of the scrape interval straddling each edge.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp

from planner.slo.counters import EventCounter
from planner.slo.prometheus import PrometheusClient

DAYS = int(os.environ.get("DAYS", "20"))
SCRAPE = int(os.environ.get("SCRAPE", "60"))
SEED = int(os.environ.get("SEED", "7"))
OFFSET = 17
START = 1_775_001_600  # 2026-04-01T00:00:00Z
WINDOW = int(float(os.environ.get("WINDOW_H", "168")) * 3600)
METRIC = "bench_requests_total"


def _generate() -> tuple[list[int], list[int], list[tuple[int, int]]]:
    """Per-second requests and errors from START − 1 day, and the outages."""
    rng = random.Random(SEED)
    seconds = (DAYS + 2) * 86400 + WINDOW
    minute_noise = [rng.uniform(0.5, 1.5) for _ in range(seconds // 60 + 1)]
    outages = []
    for day in range(1, DAYS + 1):
        midnight = day * 86400
        outages.append((midnight - rng.randint(0, 3600), midnight + rng.randint(60, 5400)))
    requests, errors = [], []
    o = 0
    for i in range(seconds):
        daily = 3 + 2 * math.sin(2 * math.pi * i / 86400)
        r = max(0, round(daily * minute_noise[i // 60] + rng.random()))
        while o < len(outages) and outages[o][1] < i:
            o += 1
        down = o < len(outages) and outages[o][0] < i <= outages[o][1]
        requests.append(r)
        errors.append(r if down else (1 if rng.random() < 0.001 else 0))
    return requests, errors, outages


def _openmetrics(requests: list[int], errors: list[int]) -> str:
    base = START - 86400
    ok_lines, err_lines = [], []
    ok = err = 0
    for i, (r, e) in enumerate(zip(requests, errors, strict=True)):
        ok += r - e
        err += e
        if (i - OFFSET) % SCRAPE == 0:
            ok_lines.append(f'{METRIC}{{code="200"}} {ok} {base + i}')
            err_lines.append(f'{METRIC}{{code="500"}} {err} {base + i}')
    return "\n".join([f"# TYPE {METRIC} unknown", *ok_lines, *err_lines, "# EOF", ""])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"prometheus exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("prometheus was not ready within 30 s")


async def _measure(url: str, truth: tuple[list[int], list[int]]) -> list[list[float]]:
    requests, errors = truth
    base = START - 86400
    rows: list[list[float]] = []
    async with aiohttp.ClientSession() as session:
        client = PrometheusClient(url, session)
        counter = EventCounter(
            client, data_start=base + OFFSET, grace=2 * SCRAPE, latest=base + len(requests)
        )
        for day in range(1, DAYS + 1):
            lo, hi = START + (day - 1) * 86400, START + (day - 1) * 86400 + WINDOW
            i, j = lo - base, hi - base
            true_err, true_req = sum(errors[i + 1 : j + 1]), sum(requests[i + 1 : j + 1])
            exact_err = await counter.events(f'{METRIC}{{code="500"}}', lo, hi) or 0.0
            exact_req = (await counter.events(METRIC, lo, hi)) or 0.0
            rng = f"[{WINDOW}s]"
            inc_err = await client.total(f'sum(increase({METRIC}{{code="500"}}{rng}))', hi) or 0.0
            inc_req = await client.total(f"sum(increase({METRIC}{rng}))", hi) or 0.0
            straddle = (lo - base - OFFSET) // SCRAPE * SCRAPE + OFFSET
            bound = sum(requests[straddle + 1 : straddle + SCRAPE + 1])
            end_straddle = (hi - base - OFFSET) // SCRAPE * SCRAPE + OFFSET
            bound += sum(requests[end_straddle + 1 : end_straddle + SCRAPE + 1])
            rows.append(
                [
                    exact_err - true_err,
                    inc_err - true_err,
                    exact_req - true_req,
                    inc_req - true_req,
                    bound,
                    true_err,
                ]
            )
    return rows


def main() -> int:
    prometheus, promtool = shutil.which("prometheus"), shutil.which("promtool")
    if prometheus is None or promtool is None:
        print("needs prometheus and promtool (apt-get install prometheus)", file=sys.stderr)
        return 2
    requests, errors, _ = _generate()
    with tempfile.TemporaryDirectory(prefix="sla-edges-") as tmp:
        root = Path(tmp)
        (root / "series.om").write_text(_openmetrics(requests, errors))
        subprocess.run(
            [
                promtool,
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                "--max-block-duration=720h",
                str(root / "series.om"),
                str(root / "data"),
            ],
            check=True,
            capture_output=True,
        )
        (root / "prometheus.yml").write_text("global:\n  scrape_interval: 1m\n")
        port = _free_port()
        proc = subprocess.Popen(
            [
                prometheus,
                f"--config.file={root / 'prometheus.yml'}",
                f"--storage.tsdb.path={root / 'data'}",
                "--storage.tsdb.retention.time=3650d",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_ready(url, proc)
            rows = asyncio.run(_measure(url, (requests, errors)))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    print(
        f"{DAYS} ranges (midnight, +{WINDOW / 3600:g} h], each midnight inside a full outage;"
        f" scrape {SCRAPE} s "
        f"at :{OFFSET}; errors per range: median {statistics.median(r[5] for r in rows):,.0f}"
    )
    print()
    print(
        "| count              | method      | max |error| | median |error| | max |error| / bound |"
    )
    print(
        "|--------------------|-------------|-------------|----------------|---------------------|"
    )
    for label, index in (("errors", 0), ("requests", 2)):
        for method, col in (("exact edges", index), ("increase()", index + 1)):
            errs = [abs(r[col]) for r in rows]
            ratio = max(abs(r[col]) / r[4] for r in rows if r[4] > 0)
            median = statistics.median(errs)
            print(
                f"| {label:<18} | {method:<11} | {max(errs):>11,.1f} | {median:>14,.1f}"
                f" | {ratio:>19.2f} |"
            )
    print()
    print("bound: the events of the two scrape intervals straddling the range's edges")
    return 0


if __name__ == "__main__":
    sys.exit(main())
