"""The end-to-end demo, short: the plan's mechanisms hold the tier, the bare gateway does not."""

from __future__ import annotations

import os
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
    capsys: pytest.CaptureFixture[str],
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
    assert result.sla["bare"].rows[-1].status == "Breached"
    assert len(started) >= 4
    assert not [pid for pid in started if _alive(pid)], "demo left processes running"
    out = capsys.readouterr().out
    assert "CLIENT-OBSERVED, SIDE BY SIDE" in out
    assert "SLA TRACKING — ai-gateway/availability" in out  # the measured table itself


def test_tier_target_comes_from_the_spec() -> None:
    spec = yaml.safe_load(demo.SPEC.read_text())
    tiers = {"standard": 0.999, "high": 0.9995, "critical": 0.9999, "ultra": 0.99999}
    assert demo.tier_target(demo.SPEC) == pytest.approx(tiers[spec["tier"]])
