"""Run an experiment: steady state before, the method, steady state after, rollbacks — always.

The order is Chaos Toolkit's, with its ``rollbacks: always`` strategy fixed on: rollbacks run after
a deviation, after a failed action and after an interruption, and a failed rollback does not stop
the next one. A steady state that does not hold *before* the method skips the method (the system
was not steady, so the experiment proves nothing); a steady-state probe that cannot reach its
server before the method skips it too, as status ``unreachable`` (nothing was measured, nothing
injected). A failed action aborts the method.

Before anything runs, `chaos.preflight` checks what would otherwise fail only after the
experiment had run against a live service (URLs and their hosts, the admin token, the journal's
directory). Requests go only to the hosts the caller allows (`chaos.hosts.AllowedHosts`, loopback
by default), redirects are not followed, and the admin token — read from
``$RELIABILITY_CHAOS_TOKEN`` or the variable the caller names, never from the file — is sent only
with the injection actions, to the admin URL's host.

While it runs, the runner draws a progress bar and (on a terminal) a live line of the
steady-state probes, re-sampled every ``runtime.hypothesis_frequency`` seconds during the method;
elsewhere it prints one line per activity. It returns the JSON journal (Chaos Toolkit's keys plus
``verdict``) and a `Verdict`. Added in 0.1.0.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import aiohttp

from chaos import actions, probes
from chaos.admin import TOKEN_ENV
from chaos.experiment import (
    Action,
    Experiment,
    HttpProvider,
    InjectionProvider,
    LoadProvider,
    MetricProvider,
    Probe,
    PrometheusProvider,
)
from chaos.hosts import AllowedHosts
from chaos.preflight import preflight
from chaos.probes import ActivityError, UnreachableError, client_session
from chaos.progress import Display
from chaos.tolerance import describe, within


@dataclass(frozen=True)
class Deviation:
    """One probe out of tolerance: where (before, after, method), which, expected and got."""

    phase: str
    probe: str
    expected: str
    got: Any

    def __str__(self) -> str:
        return f"{self.phase}: {self.probe}: got {_show(self.got)}, expected {self.expected}"


@dataclass
class Verdict:
    """What an experiment showed."""

    title: str
    status: str = "completed"
    """completed | failed (steady state not met before) | unreachable (a steady-state probe got
    no answer before the method: nothing injected) | aborted (an action failed) | interrupted."""
    held_before: bool | None = None
    held_after: bool | None = None
    deviations: list[Deviation] = field(default_factory=list)
    failed_activities: list[str] = field(default_factory=list)
    rollbacks_run: int = 0
    rollbacks_failed: int = 0
    unreachable: str | None = None
    """With status unreachable: what could not be reached ("cannot reach URL: reason")."""

    @property
    def held(self) -> bool:
        """True when everything ran and every judged probe was within tolerance."""
        return (
            self.status == "completed"
            and self.held_before is not False
            and self.held_after is not False
            and not self.deviations
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the journal."""
        data = asdict(self)
        data["held"] = self.held
        data["deviations"] = [{**asdict(d), "message": str(d)} for d in self.deviations]
        return data


@dataclass
class RunResult:
    """The journal (JSON-ready) and the verdict of one run."""

    journal: dict[str, Any]
    verdict: Verdict


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if value is None:
        return "no value"
    return str(value)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _strict(value: Any) -> Any:
    """`value` with infinities and NaN as strings: strict JSON (jq, browsers) has neither."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(v) for v in value]
    return value


def _journal_error(exc: OSError, target: Path) -> OSError:
    return type(exc)(exc.errno, f"cannot write the journal: {exc.strerror}", str(target))


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> None:
    """Write `data` as strict JSON through a temporary file and `os.replace` (never half-written).

    Infinite bounds (a tolerance ``[1, .inf]``) are written as the string ``"inf"``. An OSError
    names `path` (never the temporary file) and says why.
    """
    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise _journal_error(exc, target) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(_strict(data), handle, indent=2, default=str, allow_nan=False)
            handle.write("\n")
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise _journal_error(exc, target) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class Runner:
    """Runs one experiment (use `run_experiment`)."""

    def __init__(
        self,
        experiment: Experiment,
        display: Display,
        *,
        token: str = "",
        allowed: AllowedHosts | None = None,
    ) -> None:
        self.experiment = experiment
        self.display = display
        self._token = token
        self.allowed = allowed if allowed is not None else AllowedHosts.of()
        self.verdict = Verdict(experiment.title)
        self.baselines: dict[str, float] = {}
        self.session: aiohttp.ClientSession | None = None
        self.journal: dict[str, Any] | None = None
        """The journal of an interrupted run (set before the interruption propagates)."""

    # ------------------------------------------------------------------------------- providers

    async def _call(self, provider: Any) -> Any:
        session = self.session
        url = provider.admin_url if isinstance(provider, InjectionProvider) else provider.url
        if url is not None and not self.allowed.allows(url):
            # preflight refused the file already; this keeps the rule where requests are made
            raise ActivityError(f"{url}: not an allowed host (allowed: {self.allowed})")
        if isinstance(provider, InjectionProvider):
            return await actions.switch_injection(provider, session, token=self._token)
        if isinstance(provider, LoadProvider):
            return await actions.drive_load(provider, session)
        if isinstance(provider, HttpProvider):
            return await probes.http_requests(provider, session)
        if isinstance(provider, PrometheusProvider):
            return await probes.prometheus_query(provider, session)
        if isinstance(provider, MetricProvider):
            value = await probes.metric_value(provider, session)
            if provider.mode == "increase":
                key = provider.model_dump_json()
                if key not in self.baselines:
                    raise ActivityError(
                        f"metric {provider.name}: no baseline was read when the experiment started"
                    )
                return value - self.baselines[key]
            return value
        raise TypeError(f"unknown provider {provider!r}")

    def _increase_probes(self) -> list[MetricProvider]:
        hypothesis = self.experiment.steady_state_hypothesis
        activities: list[Probe | Action] = [
            *(hypothesis.probes if hypothesis else []),
            *self.experiment.method,
        ]
        return [
            a.provider
            for a in activities
            if isinstance(a.provider, MetricProvider) and a.provider.mode == "increase"
        ]

    async def _read_baselines(self) -> None:
        for provider in self._increase_probes():
            key = provider.model_dump_json()
            if key not in self.baselines:
                # A failed baseline read leaves the key out: the probe then fails with the reason.
                with contextlib.suppress(ActivityError):
                    if provider.url is None or self.allowed.allows(provider.url):
                        self.baselines[key] = await probes.metric_value(provider, self.session)

    # ------------------------------------------------------------------------------ activities

    async def activity(self, activity: Probe | Action, phase: str) -> dict[str, Any]:
        """Run one activity with its pauses; its journal record (never raises an Exception)."""
        label = f"{phase} {activity.type} {activity.name}"
        self.display.start(label)
        record: dict[str, Any] = {
            "activity": activity.model_dump(mode="json", by_alias=True),
            "status": "succeeded",
            "start": _now(),
        }
        started = time.monotonic()
        try:
            if activity.pauses.before:
                await asyncio.sleep(activity.pauses.before)
            record["output"] = await self._call(activity.provider)
            if activity.pauses.after:
                await asyncio.sleep(activity.pauses.after)
        except (ActivityError, aiohttp.ClientError, OSError) as exc:
            record["status"] = "failed"
            record["output"] = None
            record["exception"] = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, UnreachableError):
                record["unreachable"] = str(exc)
        record["end"] = _now()
        record["duration"] = round(time.monotonic() - started, 6)
        outcome = record["status"]
        if isinstance(activity, Probe) and activity.tolerance is not None:
            met, got = (
                within(activity.tolerance, record["output"])
                if record["status"] == "succeeded"
                else (False, None)
            )
            record["tolerance_met"] = met
            record["judged_value"] = got
            outcome = f"{_show(got)} ({'ok' if met else 'OUT of tolerance'})"
            if record["status"] == "failed":
                outcome = f"failed: {record['exception']}"
        elif record["status"] == "failed":
            outcome = f"failed: {record['exception']}"
        self.display.finish(label, outcome)
        return record

    def _judge(self, phase: str, probe: Probe, record: dict[str, Any]) -> None:
        if probe.tolerance is not None and not record.get("tolerance_met"):
            got = (
                record.get("judged_value")
                if record["status"] == "succeeded"
                else (record.get("exception"))
            )
            self.verdict.deviations.append(
                Deviation(phase, probe.name, describe(probe.tolerance), got)
            )

    async def hypothesis(self, phase: str, judge: bool = True) -> dict[str, Any] | None:
        """Run every steady-state probe; record deviations when `judge`."""
        hypothesis = self.experiment.steady_state_hypothesis
        if hypothesis is None:
            return None
        records = []
        for probe in hypothesis.probes:
            record = await self.activity(probe, f"steady state {phase}:")
            records.append(record)
            # Before the method, no answer is not a measurement: the run stops as unreachable.
            if judge and not (phase == "before" and "unreachable" in record):
                self._judge(phase, probe, record)
        return {
            "steady_state_met": all(r.get("tolerance_met") for r in records),
            "probes": records,
        }

    async def _sample_during(self, during: list[dict[str, Any]]) -> None:
        """Live steady-state line: re-run the hypothesis probes while the method runs."""
        hypothesis = self.experiment.steady_state_hypothesis
        if hypothesis is None:
            return
        while True:
            await asyncio.sleep(self.experiment.runtime.hypothesis_frequency)
            readings = []
            records = []
            for probe in hypothesis.probes:
                record: dict[str, Any] = {"activity": probe.name, "start": _now()}
                try:
                    output = await self._call(probe.provider)
                    assert probe.tolerance is not None
                    met, got = within(probe.tolerance, output)
                except (ActivityError, aiohttp.ClientError, OSError) as exc:
                    met, got = False, None
                    record["exception"] = f"{type(exc).__name__}: {exc}"
                record.update(tolerance_met=met, judged_value=got, end=_now())
                records.append(record)
                readings.append(f"{probe.name} {_show(got)} {'✓' if met else '✗'}")
            during.append(
                {"steady_state_met": all(r["tolerance_met"] for r in records), "probes": records}
            )
            self.display.steady_state("  ".join(readings))

    async def method(self, run: list[dict[str, Any]], during: list[dict[str, Any]]) -> None:
        """Run the method's activities in order (background ones concurrently)."""
        sampler = asyncio.create_task(self._sample_during(during)) if self.display.live else None
        background: list[tuple[Probe | Action, asyncio.Task[dict[str, Any]]]] = []
        try:
            for activity in self.experiment.method:
                if activity.background:
                    task = asyncio.create_task(self.activity(activity, "method"))
                    background.append((activity, task))
                    continue
                record = await self.activity(activity, "method")
                run.append(record)
                self._after_method_activity(activity, record)
                if self.verdict.status == "aborted":
                    break
            for activity, task in background:
                record = await task
                run.append(record)
                self._after_method_activity(activity, record)
        finally:
            for _, task in background:
                task.cancel()
            if sampler is not None:
                sampler.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sampler

    def _after_method_activity(self, activity: Probe | Action, record: dict[str, Any]) -> None:
        if isinstance(activity, Probe):
            self._judge("method", activity, record)
        elif record["status"] == "failed":
            self.verdict.failed_activities.append(f"{activity.name}: {record['exception']}")
            self.verdict.status = "aborted"

    async def rollbacks(self) -> list[dict[str, Any]]:
        """Run every rollback; a failed one does not stop the others."""
        records = []
        for action in self.experiment.rollbacks:
            record = await self.activity(action, "rollback")
            records.append(record)
            self.verdict.rollbacks_run += 1
            if record["status"] == "failed":
                self.verdict.rollbacks_failed += 1
        return records

    # ------------------------------------------------------------------------------------- run

    async def run(self) -> dict[str, Any]:
        """The whole experiment; returns the journal."""
        start, started = _now(), time.monotonic()
        states: dict[str, Any] = {"before": None, "after": None, "during": []}
        run: list[dict[str, Any]] = []
        rollbacks: list[dict[str, Any]] = []
        interrupted: BaseException | None = None
        async with client_session() as session:
            self.session = session
            try:
                await self._read_baselines()
                states["before"] = await self.hypothesis("before")
                unreachable = [
                    r["unreachable"]
                    for r in (states["before"] or {"probes": []})["probes"]
                    if "unreachable" in r
                ]
                if unreachable:
                    self.verdict.status = "unreachable"
                    self.verdict.unreachable = unreachable[0]
                elif states["before"] is not None:
                    self.verdict.held_before = states["before"]["steady_state_met"]
                if self.verdict.held_before is False:
                    self.verdict.status = "failed"
                elif self.verdict.status == "completed":
                    await self.method(run, states["during"])
                    if self.verdict.status == "completed":
                        states["after"] = await self.hypothesis("after")
                        if states["after"] is not None:
                            self.verdict.held_after = states["after"]["steady_state_met"]
            except (asyncio.CancelledError, KeyboardInterrupt) as exc:
                self.verdict.status = "interrupted"
                interrupted = exc
            finally:
                # Always: the fault must not outlive the experiment.
                rollbacks = await self.rollbacks()
                self.display.close()
        journal = {
            "reliability-os": "0.1.0",
            "platform": platform.platform(),
            "node": platform.node(),
            "experiment": self.experiment.to_dict(),
            "start": start,
            "status": self.verdict.status,
            "deviated": bool(self.verdict.deviations) or self.verdict.held_after is False,
            "steady_states": states,
            "run": run,
            "rollbacks": rollbacks,
            "end": _now(),
            "duration": round(time.monotonic() - started, 6),
            "verdict": self.verdict.to_dict(),
        }
        if interrupted is not None:
            self.journal = journal
            raise interrupted
        return journal


async def run_experiment(
    experiment: Experiment,
    *,
    journal_path: str | os.PathLike[str] | None = None,
    stream: TextIO | None = None,
    live: bool | None = None,
    source: str = "<experiment>",
    allow_hosts: AllowedHosts | None = None,
    token_env: str = TOKEN_ENV,
) -> RunResult:
    """Run `experiment`; progress goes to `stream` (default stderr), the journal to a file if given.

    Requests go only to `allow_hosts` (default: loopback, `chaos.hosts.LOOPBACK`); the admin
    token is read from the environment variable `token_env`. `preflight` runs first (`source`
    names the experiment in its errors). `live` turns the live steady-state sampling on or off
    (default: on when `stream` is a terminal). An interruption still runs the rollbacks and
    writes the journal, then propagates.
    """
    allowed = allow_hosts if allow_hosts is not None else AllowedHosts.of()
    preflight(experiment, journal_path, source, allowed=allowed, token_env=token_env)
    hypothesis = experiment.steady_state_hypothesis
    total = 2 * len(hypothesis.probes) if hypothesis else 0
    total += len(experiment.method) + len(experiment.rollbacks)
    display = Display(sys.stderr if stream is None else stream, total, live)
    runner = Runner(experiment, display, token=os.environ.get(token_env, ""), allowed=allowed)
    try:
        journal = await runner.run()
    except (asyncio.CancelledError, KeyboardInterrupt):
        if journal_path is not None and runner.journal is not None:
            write_json_atomic(journal_path, runner.journal)
        raise
    if journal_path is not None:
        write_json_atomic(journal_path, journal)
    return RunResult(journal, runner.verdict)
