"""A mechanism of one's own, written against the public `resilience.layers` and `.events`."""

from __future__ import annotations

import asyncio
from typing import TypeVar

from resilience import Policy, Retry
from resilience.events import CallFinished, Emitter, Event
from resilience.layers import Call, CallContext, Layer, Step, monotonic, remaining_time, sleep

T = TypeVar("T")


class CountCalls:
    """The module docstring's example layer, plus a pause through the public sleeper."""

    mechanism = "count_calls"

    def __init__(self) -> None:
        self.calls = 0
        self.policies: list[str] = []
        self.left: list[float | None] = []

    def bind(self, policy: str, emitter: Emitter) -> None:
        self.policies.append(policy)

    def describe(self) -> str:
        return "CountCalls()"

    async def run(self, nxt: Step[T], call: Call[T], ctx: CallContext) -> T:
        self.calls += 1
        self.left.append(remaining_time())
        await sleep(0.5)
        return await nxt(call, ctx)


async def test_a_layer_of_ones_own_runs_innermost_under_every_attempt() -> None:
    counter = CountCalls()
    assert isinstance(counter, Layer)
    events: list[Event] = []
    policy = Policy(
        "mine",
        retry=Retry(max_attempts=3, wait=0),
        deadline=10.0,
        chaos=counter,
        hooks=[events.append],
    )
    attempts = 0

    @policy
    async def flaky() -> str:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise ConnectionError("reset")
        return "ok"

    start = monotonic()
    assert await flaky() == "ok"
    assert counter.calls == 3 and counter.policies == ["mine"]
    assert monotonic() - start == 1.5  # three pauses of 0.5 s, in virtual time
    assert counter.left == [10.0, 9.5, 9.0]  # the policy's deadline, seen from inside
    assert policy.describe().splitlines()[1:] == [
        "  1. Deadline(seconds=10)",
        "  2. Retry(max_attempts=3, wait=wait_fixed(wait_fixed=0.0), retry_on=(Exception), "
        "retry_if_result=None, max_retry_after=60, budget=None)",
        "  3. CountCalls()",
        "  4. call",
    ]
    (finished,) = [e for e in events if isinstance(e, CallFinished)]
    assert finished.duration == 1.5
    await asyncio.sleep(0)
