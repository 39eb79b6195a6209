"""`resilience.testing` helpers for users' own test suites."""

from __future__ import annotations

import asyncio

import pytest

from resilience.testing import VirtualTimeLoop, virtual_time_loop_factory


@pytest.mark.real_time  # builds its own loop: not the suite's virtual-time one
def test_virtual_time_loop_factory_runs_an_hour_of_sleeps_at_once() -> None:
    async def an_hour() -> float:
        await asyncio.sleep(3600)
        return asyncio.get_running_loop().time()

    with asyncio.Runner(loop_factory=virtual_time_loop_factory) as runner:
        assert isinstance(runner.get_loop(), VirtualTimeLoop)
        assert runner.run(an_hour()) == 3600.0


@pytest.mark.real_time
def test_virtual_time_loop_factory_passes_its_start_time() -> None:
    with asyncio.Runner(loop_factory=lambda: virtual_time_loop_factory(start=100.0)) as runner:
        assert runner.run(asyncio.sleep(5, result="done")) == "done"
        assert runner.get_loop().time() == 105.0
