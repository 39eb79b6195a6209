"""Mechanisms used alone: their own emitters and names, and `async with` for each of them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from resilience import (
    Bulkhead,
    BulkheadFullError,
    CallFinished,
    CircuitBreaker,
    CircuitOpenError,
    Retry,
    RetryScheduled,
    StateChanged,
    add_hook,
    remove_hook,
)


class Boom(Exception):
    pass


@pytest.fixture
def events() -> Iterator[list[object]]:
    seen: list[object] = []
    add_hook(seen.append)
    yield seen
    remove_hook(seen.append)


async def fetch_profile() -> None:
    raise Boom


async def test_a_standalone_retry_reports_under_the_function_name(events: list[object]) -> None:
    with pytest.raises(Boom):
        await Retry(max_attempts=2, wait=0)(fetch_profile)()
    assert [e.policy for e in events if isinstance(e, RetryScheduled)] == ["fetch_profile"]
    finished = [e for e in events if isinstance(e, CallFinished)]
    assert [(e.policy, e.outcome) for e in finished] == [("fetch_profile", "failure")]


async def test_a_standalone_breaker_reports_under_its_name(events: list[object]) -> None:
    breaker = CircuitBreaker("payments", minimum_calls=1, window_size=1)
    first = breaker(fetch_profile)
    second = breaker(fetch_profile)  # one breaker, two functions: one emitter, one name
    with pytest.raises(Boom):
        await first()
    with pytest.raises(CircuitOpenError):
        await second()
    assert [e for e in events if isinstance(e, StateChanged)] == [
        StateChanged("payments", "closed", "open")
    ]
    assert {e.policy for e in events if isinstance(e, CallFinished)} == {"payments"}


async def test_breaker_as_async_with_records_the_block() -> None:
    breaker = CircuitBreaker("block", minimum_calls=2, window_size=2)
    async with breaker:
        pass
    with pytest.raises(Boom):
        async with breaker:
            raise Boom
    assert breaker.state == "open"
    with pytest.raises(CircuitOpenError):
        async with breaker:
            pytest.fail("an open breaker must not run the block")


async def test_bulkhead_as_async_with() -> None:
    bulkhead = Bulkhead(max_concurrent=1)
    inside = asyncio.Event()
    leave = asyncio.Event()

    async def hold() -> None:
        async with bulkhead:
            inside.set()
            await leave.wait()

    holder = asyncio.ensure_future(hold())
    await inside.wait()
    assert bulkhead.in_flight == 1
    with pytest.raises(BulkheadFullError):
        async with bulkhead:
            pass
    leave.set()
    await holder
    assert bulkhead.in_flight == 0


async def test_retry_as_async_with_makes_one_attempt() -> None:
    runs = 0
    with pytest.raises(Boom):
        async with Retry(max_attempts=3, wait=0):
            runs += 1
            raise Boom
    assert runs == 1


async def test_nested_async_with_blocks_unwind_in_order() -> None:
    outer = CircuitBreaker("outer", minimum_calls=1, window_size=1)
    inner = Bulkhead(max_concurrent=1)
    async with outer:
        async with inner:
            assert inner.in_flight == 1
        assert inner.in_flight == 0
    assert outer.window_counts() == (1, 0, 0)
