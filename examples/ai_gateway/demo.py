"""The end-to-end demo: spec → plan → decorated gateway → metrics → SLA against the tier.

It prints the plan for ``examples/ai_gateway/system.yaml``, starts two model backends and two
gateways on 127.0.0.1 — one loading the plan's mechanisms, one calling the primary model bare —
drives the same bounded load at both while it takes the primary down, makes it answer 429
storms and lets it recover, and ends with what each gateway delivered against the tier target,
side by side, when each went back to the primary model, and the SLA table measured from each
gateway's metrics (through a real Prometheus when ``prometheus`` is installed, otherwise from
one scrape of its ``/metrics``). The protected gateway loads the plan with its breakers' open
durations scaled to the run (`TIME_SCALE_S`), so a 30-second run shows the failback too. Every
process it starts is stopped at the end, on error and on Ctrl-C.

``python -m examples.ai_gateway.demo [--duration 30] [--rps 40]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import yaml

from planner.errors import PlannerError
from planner.model import Figure, SlaSection
from planner.slo.definition import definitions_from_spec
from planner.slo.report import budget_share, sla_text
from planner.slo.scrape import measure_scrape
from planner.slo.sla import measure_all
from planner.spec import load_spec

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SPEC = HERE / "system.yaml"
PLAN = HERE / "plan.yaml"
RELIABILITY = [sys.executable, "-m", "planner"]

PHASES = (  # (start as a share of the run, name, primary behaviour)
    (0.0, "healthy", {"down": False, "rate_limited": False}),
    (0.2, "primary hard down", {"down": True, "rate_limited": False}),
    (0.5, "primary 429 storm", {"down": False, "rate_limited": True, "retry_after": 2}),
    (0.8, "recovered", {"down": False, "rate_limited": False}),
)


@dataclass
class DemoResult:
    """What the demo measured: the client's view and the SLA from each gateway's metrics."""

    tallies: dict[str, Tally]
    sla: dict[str, SlaSection]


@dataclass
class Tally:
    """What the load generator saw from one gateway."""

    ok: int = 0
    failed: int = 0
    latencies: list[float] = field(default_factory=list)
    served_by: dict[str, int] = field(default_factory=dict)
    # (seconds into the run when the request was sent, who answered it: a model, "failed", ...)
    timeline: list[tuple[float, str]] = field(default_factory=list)

    def back_on(self, backend: str, since: float) -> float | None:
        """When, at or after `since`, requests started being answered by `backend` and stayed
        so to the end of the run, cache hits aside (None: they did not)."""
        back: float | None = None
        for sent, by in sorted(self.timeline):
            if sent < since or by == "cache":
                continue
            back = (sent if back is None else back) if by == backend else None
        return back

    @property
    def total(self) -> int:
        return self.ok + self.failed

    @property
    def availability(self) -> float | None:
        return self.ok / self.total if self.total else None

    def p99(self) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Processes:
    """The demo's child processes; `stop_all` ends every one of them."""

    def __init__(self, logdir: Path) -> None:
        self._procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self._logdir = logdir

    def start(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = open(self._logdir / f"{name}.log", "wb")  # noqa: SIM115 - owned by the process
        proc = subprocess.Popen(args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self._procs.append((name, proc))
        return proc

    def log_tail(self, name: str) -> str:
        path = self._logdir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-15:])

    def stop_all(self) -> None:
        for _, proc in self._procs:
            if proc.poll() is None:
                proc.terminate()
        for _, proc in self._procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def named(self, name: str) -> subprocess.Popen[bytes]:
        """The process started under `name`."""
        for proc_name, proc in self._procs:
            if proc_name == name:
                return proc
        raise KeyError(name)


async def wait_ready(
    session: aiohttp.ClientSession,
    url: str,
    procs: Processes,
    name: str,
    proc: subprocess.Popen[bytes],
    within: float = 20.0,
) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited early:\n{procs.log_tail(name)}")
        with contextlib.suppress(aiohttp.ClientError, OSError):
            async with session.get(url) as resp:
                if resp.status < 500:
                    return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{name} did not answer {url} within {within:.0f} s")


async def one_request(
    session: aiohttp.ClientSession, url: str, n: int, tally: Tally, sent: float = 0.0
) -> None:
    start = time.monotonic()
    by = "failed"
    try:
        async with session.post(url, json={"prompt": f"question {n}"}) as resp:
            body = await resp.json(content_type=None)
            ok = resp.status < 500
            if ok:
                by = str(body.get("served_by", "?"))
                tally.served_by[by] = tally.served_by.get(by, 0) + 1
    except (aiohttp.ClientError, TimeoutError, ValueError):
        ok = False
    tally.timeline.append((sent, by if ok else "failed"))
    tally.latencies.append(time.monotonic() - start)
    if ok:
        tally.ok += 1
    else:
        tally.failed += 1


def progress(elapsed: float, duration: float, phase: str, tallies: dict[str, Tally]) -> None:
    width = 30
    filled = min(width, int(width * elapsed / duration))
    shares = "  ".join(
        f"{name}: {t.availability * 100:6.2f}%" if t.availability is not None else f"{name}: -"
        for name, t in tallies.items()
    )
    line = (
        f"\r[{'#' * filled}{'.' * (width - filled)}] {elapsed:4.1f}/{duration:.0f}s "
        f"{phase:<18} {shares}"
    )
    if sys.stderr.isatty():
        sys.stderr.write(line)
        sys.stderr.flush()


async def drive_load(
    gateways: dict[str, str], primary_admin: str, duration: float, rps: float
) -> dict[str, Tally]:
    """Open-loop load at `rps` per gateway for `duration` s while the primary misbehaves."""
    tallies = {name: Tally() for name in gateways}
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        tasks: set[asyncio.Task[None]] = set()
        start = time.monotonic()
        phase_index = -1
        n = 0
        while (elapsed := time.monotonic() - start) < duration:
            current = max(i for i, p in enumerate(PHASES) if elapsed >= p[0] * duration)
            if current != phase_index:
                phase_index = current
                async with session.post(primary_admin, json=PHASES[current][2]) as resp:
                    resp.raise_for_status()
                if not sys.stderr.isatty():
                    print(f"  {elapsed:5.1f}s  {PHASES[current][1]}", file=sys.stderr)
            for name, url in gateways.items():
                task = asyncio.create_task(one_request(session, url, n, tallies[name], elapsed))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            n += 1
            progress(elapsed, duration, PHASES[phase_index][1], tallies)
            await asyncio.sleep(max(0.0, start + n / rps - time.monotonic()))
        if tasks:
            await asyncio.wait(tasks)
        progress(duration, duration, "done", tallies)
        if sys.stderr.isatty():
            sys.stderr.write("\n")
    return tallies


def tier_target(spec_path: Path) -> float:
    """The SLO target (a ratio) of the spec: its `slo`, or its tier's."""
    spec = yaml.safe_load(spec_path.read_text())
    tiers = {"standard": 99.9, "high": 99.95, "critical": 99.99, "ultra": 99.999}
    percent = spec.get("slo") or tiers[spec.get("tier", "standard")]
    return float(percent) / 100.0


def _budget_share(used: float) -> str:
    """A share of the budget as the SLA report writes it: past ten budgets, a multiple."""
    return budget_share(Figure(used * 100, "%", "(1 − availability) / (1 − target)"))


RECOVERED_AT = next(start for start, name, _ in PHASES if name == "recovered")


def recovery_summary(tallies: dict[str, Tally], duration: float) -> str:
    """When each gateway's traffic went back to the primary model after it recovered."""
    healthy = RECOVERED_AT * duration
    lines = [f"RECOVERY (the primary model answers again at {healthy:.1f} s)"]
    for name, tally in tallies.items():
        back = tally.back_on("primary", healthy)
        if back is None:
            lines.append(f"- {name}: not back on the primary by the end of the run")
        else:
            lines.append(
                f"- {name}: served by the primary again from {back:.1f} s"
                f" ({back - healthy:.1f} s after it recovered) to the end"
            )
    return "\n".join(lines)


#: The demo compresses an incident into a short run: breaker open durations are scaled by the
#: run's duration over this many seconds (in a 30 s run, 60 s open → 0.75 s and the 300 s cap
#: → 3.75 s), so a half-open probe finds the recovered primary and fails back before the end.
TIME_SCALE_S = 2400.0


def demo_plan(workdir: Path, duration: float) -> Path:
    """The plan with every breaker's open duration scaled to the run (see TIME_SCALE_S)."""
    plan = yaml.safe_load(PLAN.read_text())
    factor = duration / TIME_SCALE_S
    for mechanism in plan.get("mechanisms", {}).values():
        breaker = mechanism.get("circuit_breaker") if isinstance(mechanism, dict) else None
        opened = breaker.get("open_duration") if isinstance(breaker, dict) else None
        if isinstance(opened, dict):
            for key in ("initial", "max"):
                if isinstance(opened.get(key), int | float):
                    opened[key] = round(opened[key] * factor, 3)
        elif isinstance(opened, int | float) and isinstance(breaker, dict):
            breaker["open_duration"] = round(opened * factor, 3)
    path = workdir / "plan.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return path


def comparison_table(tallies: dict[str, Tally], target: float) -> str:
    rows = [
        ("Gateway", "Requests", "Availability", "p99 latency", "Budget used", "Target", "Served by")
    ]
    for name, t in tallies.items():
        avail = t.availability
        p99 = t.p99()
        used = (1 - avail) / (1 - target) if avail is not None else None
        rows.append(
            (
                name,
                str(t.total),
                f"{avail * 100:.3f}%" if avail is not None else "no data",
                f"{p99 * 1000:.0f}ms" if p99 is not None else "-",
                _budget_share(used) if used is not None else "-",
                # over this run only: whether a 30-day period is breached is the SLA table's call
                "no data" if avail is None else ("met" if avail >= target else "missed"),
                ", ".join(f"{k} {v}" for k, v in sorted(t.served_by.items())) or "-",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


@contextlib.contextmanager
def prometheus(
    targets: dict[str, str], rules: Path, workdir: Path, procs: Processes
) -> Iterator[str | None]:
    """A real Prometheus scraping the gateways every second, or None when it is not installed."""
    binary = shutil.which("prometheus")
    if binary is None:
        yield None
        return
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules)],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [addr]}]}
            for job, addr in targets.items()
        ],
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    procs.start(
        "prometheus",
        [
            binary,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
    )
    yield f"http://127.0.0.1:{port}"


def run_cli(*args: str) -> int:
    """Run a `reliability` command, its output going to ours."""
    sys.stdout.flush()
    return subprocess.run([*RELIABILITY, *args], cwd=ROOT, check=False).returncode


async def run(duration: float, rps: float, show_plan: bool) -> DemoResult:
    if show_plan:
        run_cli("plan", str(SPEC))
    target = tier_target(SPEC)
    with tempfile.TemporaryDirectory(prefix="reliability-demo-") as tmp:
        workdir = Path(tmp)
        procs = Processes(workdir)
        try:
            return await _run(workdir, procs, duration, rps, target)
        finally:
            procs.stop_all()


async def _run(
    workdir: Path, procs: Processes, duration: float, rps: float, target: float
) -> DemoResult:
    ports = {name: free_port() for name in ("primary", "secondary", "gateway", "gateway-bare")}
    url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    py = [sys.executable, "-m"]
    started = {
        "primary": procs.start(
            "primary",
            [
                *py,
                "examples.ai_gateway.backend",
                "--port",
                str(ports["primary"]),
                "--name",
                "primary",
                "--p50",
                "0.15",
                "--p99",
                "0.8",
                "--seed",
                "1",
            ],
        ),
        "secondary": procs.start(
            "secondary",
            [
                *py,
                "examples.ai_gateway.backend",
                "--port",
                str(ports["secondary"]),
                "--name",
                "secondary",
                "--p50",
                "0.2",
                "--p99",
                "1.0",
                "--seed",
                "2",
            ],
        ),
        "gateway": procs.start(
            "gateway",
            [
                *py,
                "examples.ai_gateway.gateway",
                "--port",
                str(ports["gateway"]),
                "--primary",
                url["primary"],
                "--secondary",
                url["secondary"],
                "--plan",
                str(demo_plan(workdir, duration)),
            ],
        ),
        "gateway-bare": procs.start(
            "gateway-bare",
            [
                *py,
                "examples.ai_gateway.gateway",
                "--port",
                str(ports["gateway-bare"]),
                "--primary",
                url["primary"],
                "--secondary",
                url["secondary"],
                "--no-mechanisms",
            ],
        ),
    }
    rules = workdir / "rules.yml"
    if run_cli("rules", str(SPEC), "-o", str(rules)) != 0:
        raise RuntimeError("reliability rules failed")
    scrape = {name: f"127.0.0.1:{ports[name]}" for name in ("gateway", "gateway-bare")}
    gateways = {"with plan": "gateway", "bare": "gateway-bare"}
    with prometheus(scrape, rules, workdir, procs) as prom_url:
        async with aiohttp.ClientSession() as session:
            for name, proc in started.items():
                probe = "/healthz" if name.startswith("gateway") else "/admin/behaviour"
                await wait_ready(session, url[name] + probe, procs, name, proc)
            if prom_url is not None:
                await wait_ready(
                    session, prom_url + "/-/ready", procs, "prometheus", procs.named("prometheus")
                )
                # Prometheus's increase() cannot count what a series held when it first saw it:
                # make the success and the failure series exist, and be scraped, before the load.
                await warm_up(session, url, prom_url)
        print(
            f"\nDriving {rps:g} requests/s at each gateway for {duration:g} s "
            "(primary: healthy → hard down → 429 storm → recovered); breaker open durations "
            f"scaled ×{duration / TIME_SCALE_S:g} to the run",
            file=sys.stderr,
        )
        load_started = time.time()
        tallies = await drive_load(
            {label: url[job] + "/v1/complete" for label, job in gateways.items()},
            url["primary"] + "/admin/behaviour",
            duration,
            rps,
        )
        print(f"\nCLIENT-OBSERVED, SIDE BY SIDE (target {target * 100:g}%)")
        print(comparison_table(tallies, target))
        print()
        print(recovery_summary(tallies, duration))
        sla: dict[str, SlaSection] = {}
        async with aiohttp.ClientSession() as session:
            if prom_url is not None:
                sent = {job: WARM_UP + tallies[label].total for label, job in gateways.items()}
                await wait_for_scrape(session, prom_url, sent)
            for label, job in gateways.items():
                spec = SPEC if job == "gateway" else spec_for_job(workdir, job)
                slos = definitions_from_spec(load_spec(spec))
                if prom_url is not None:
                    sections = await measure_all(slos, prom_url)
                else:
                    sections = await measure_scrape(slos, url[job] + "/metrics")
                sla[label] = sections[0]
                source = "Prometheus" if prom_url is not None else "its /metrics"
                print(f"\nSLA TRACKING of the gateway {label}, measured from {source}:")
                print(sla_text(sections[0]))
        if prom_url is not None:
            close_the_loop(prom_url, load_started)
    return DemoResult(tallies, sla)


def close_the_loop(prom_url: str, since: float) -> None:
    """Calibrate the spec from what the run measured, and write the run's post-mortem."""
    print("\nCALIBRATE: the spec's declared figures against what Prometheus measured")
    run_cli("calibrate", str(SPEC), "--prometheus", prom_url, "--window", "1h")
    print("\nPOST-MORTEM of the run, from Prometheus:")
    run_cli(
        "postmortem",
        str(SPEC),
        "--prometheus",
        prom_url,
        "--from",
        f"{since:.0f}",
        "--to",
        f"{time.time():.0f}",
    )


WARM_UP = 2
"""Requests each gateway serves before the load: one while the primary is up, one while down."""


async def warm_up(session: aiohttp.ClientSession, url: dict[str, str], prom_url: str) -> None:
    """One request per gateway with the primary up and one with it down, then one scrape."""
    admin = url["primary"] + "/admin/behaviour"
    for down in (False, True):
        async with session.post(admin, json={"down": down}) as resp:
            resp.raise_for_status()
        for job in ("gateway", "gateway-bare"):
            async with session.post(
                url[job] + "/v1/complete", json={"prompt": f"warm-up {down}"}
            ) as resp:
                await resp.read()
    async with session.post(admin, json={"down": False}) as resp:
        resp.raise_for_status()
    await wait_for_scrape(session, prom_url, {"gateway": WARM_UP, "gateway-bare": WARM_UP})


async def wait_for_scrape(
    session: aiohttp.ClientSession, prom_url: str, expected: dict[str, int], within: float = 15.0
) -> None:
    """Wait until Prometheus's newest sample of each job counts `expected` requests."""
    query = 'sum by (job) (http_server_request_duration_seconds_count{http_route="/v1/complete"})'
    deadline = time.monotonic() + within
    seen: dict[str, int] = {}
    while time.monotonic() < deadline:
        async with session.get(prom_url + "/api/v1/query", params={"query": query}) as resp:
            body = await resp.json()
        seen = {
            r["metric"].get("job", "?"): int(float(r["value"][1]))
            for r in body.get("data", {}).get("result", [])
        }
        if all(seen.get(job) == n for job, n in expected.items()):
            return
        await asyncio.sleep(0.25)
    print(
        f"note: after {within:g} s Prometheus counts {seen} requests, expected {expected}",
        file=sys.stderr,
    )


def spec_for_job(workdir: Path, job: str) -> Path:
    """The example spec with its SLIs pointed at another Prometheus job (the bare gateway)."""
    spec = yaml.safe_load(SPEC.read_text())
    for slo in spec.get("slos", []):
        slo["sli"] = {
            key: value.replace('job="gateway"', f'job="{job}"') for key, value in slo["sli"].items()
        }
    path = workdir / f"system-{job}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The reliability-os end-to-end demo.")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    parser.add_argument("--rps", type=float, default=40.0, help="requests/s per gateway")
    parser.add_argument("--no-plan", action="store_true", help="skip printing the plan")
    args = parser.parse_args(argv)
    try:
        asyncio.run(run(args.duration, args.rps, not args.no_plan))
    except KeyboardInterrupt:
        print("\ninterrupted: every demo process was stopped", file=sys.stderr)
        return 130
    except (RuntimeError, PlannerError, aiohttp.ClientError, OSError) as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
