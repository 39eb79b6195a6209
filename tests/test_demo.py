"""The end-to-end demo, short: the plan's mechanisms hold the tier, the bare gateway does not."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
import yaml

from examples.ai_gateway import demo

pytestmark = pytest.mark.integration


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is gone once its parent reaped it (Popen.wait does).
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" not in status.read_text()


async def test_short_demo_holds_the_tier_with_the_plan_and_breaches_it_without(
    capfd: pytest.CaptureFixture[str],
) -> None:
    started: list[int] = []
    real_start = demo.Processes.start

    def recording_start(self: demo.Processes, name: str, args: list[str]) -> object:
        proc = real_start(self, name, args)
        started.append(proc.pid)
        return proc

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(demo.Processes, "start", recording_start)
        result = await demo.run(duration=6.0, rps=20.0, show_plan=False)

    target = demo.tier_target(demo.SPEC)
    protected, bare = result.tallies["with plan"], result.tallies["bare"]
    assert protected.total == bare.total >= 100
    assert protected.availability is not None and protected.availability >= target
    assert bare.availability is not None and bare.availability < 0.9
    # the protected gateway rode out the outage on the secondary model
    assert protected.served_by.get("secondary", 0) > 0
    # the SLA measured from each gateway's own metrics tells the same story as the clients
    for label, tally in result.tallies.items():
        rolling = result.sla[label].rows[-1]
        assert rolling.actual is not None and tally.availability is not None
        assert rolling.actual.value / 100 == pytest.approx(tally.availability, abs=0.02)
    assert result.sla["with plan"].rows[-1].status == "OK"
    # a few seconds at 40 % spend a sliver of 30 days' budget, at a pace of thousands of budgets:
    # Risk, with the pace as a multiple (never a six-digit percentage beside minutes)
    bare_row = result.sla["bare"].rows[-1]
    assert bare_row.status == "Risk"
    assert bare_row.pace is not None and bare_row.pace.value > 100 * 100
    assert bare_row.budget_used is not None and bare_row.budget_used.value < 100
    # the bare gateway only has the primary: back on it the moment it recovers (the timeline
    # the recovery summary reads is the clients' own)
    healthy = demo.RECOVERED_AT * 6.0
    back = bare.back_on("primary", healthy)
    assert back is not None and healthy <= back < healthy + 0.2
    assert len(started) >= 4
    assert not [pid for pid in started if _alive(pid)], "demo left processes running"
    out = capfd.readouterr().out  # fd level: the demo's `reliability` commands are processes
    assert "CLIENT-OBSERVED, SIDE BY SIDE" in out
    assert "SLA TRACKING — ai-gateway/availability" in out  # the measured table itself
    assert "RECOVERY (the primary model answers again at 4.8 s)" in out
    assert "- with plan: " in out and "- bare: served by the primary again from 4.8 s" in out
    assert not re.search(r"\d{1,3},\d{3},?\d*%", out)  # no six-digit percentage anywhere
    if shutil.which("prometheus"):
        # the demo ends by closing the loop on what it just measured
        assert "Measured over 1h (declared in the spec):" in out
        assert "# Post-mortem: ai-gateway" in out
        assert "— llm-primary starts failing" in out and "— fallback of llm-primary starts" in out


def test_tier_target_comes_from_the_spec() -> None:
    spec = yaml.safe_load(demo.SPEC.read_text())
    tiers = {"standard": 0.999, "high": 0.9995, "critical": 0.9999, "ultra": 0.99999}
    assert demo.tier_target(demo.SPEC) == pytest.approx(tiers[spec["tier"]])


def test_recovery_is_when_answers_come_from_the_primary_again_to_the_end() -> None:
    tally = demo.Tally()
    tally.timeline = [
        (1.0, "primary"),
        (5.0, "secondary"),
        (24.5, "primary"),  # one probe answered by the primary, then the breaker opened again
        (25.0, "secondary"),
        (26.0, "primary"),
        (27.0, "cache"),  # a cache hit says nothing about the models
        (28.0, "primary"),
    ]
    assert tally.back_on("primary", 24.0) == 26.0
    assert tally.back_on("secondary", 24.0) is None
    summary = demo.recovery_summary({"with plan": tally}, 30.0)
    assert summary.splitlines() == [
        "RECOVERY (the primary model answers again at 24.0 s)",
        "- with plan: served by the primary again from 26.0 s (2.0 s after it recovered)"
        " to the end",
    ]
    tally.timeline.append((29.0, "failed"))
    assert demo.recovery_summary({"x": tally}, 30.0).endswith(
        "- x: not back on the primary by the end of the run"
    )
