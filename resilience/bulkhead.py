"""`Bulkhead`: at most `max_concurrent` calls in flight; others wait `max_wait` or are refused."""

from __future__ import annotations

import asyncio
import math
import threading
from collections import deque
from collections.abc import Callable
from typing import TypeVar

from resilience._core import Call, CallContext, Mechanism, Step, SyncStep
from resilience._errors import BulkheadFullError, ConfigError
from resilience._events import PolicyInfo, Rejected

T = TypeVar("T")


class Bulkhead(Mechanism):
    """Limit concurrent calls to `max_concurrent`; a call waits at most `max_wait` seconds for a
    slot (0 = refuse at once) and then gets `BulkheadFullError`.

    Waiters are served in arrival order; a freed slot is handed straight to the next waiter. A
    cancelled call always gives its slot back, whether it held one or was still waiting.
    `in_flight` and `capacity` are live readouts (exporters read them as gauges). Sync functions
    are accepted and are thread-safe; serve one instance from either threads or one event loop,
    not both at once. Added in 0.1.0.
    """

    mechanism = "bulkhead"

    def __init__(self, *, max_concurrent: int, max_wait: float = 0.0) -> None:
        super().__init__()
        if not isinstance(max_concurrent, int) or isinstance(max_concurrent, bool):
            raise ConfigError(
                f"Bulkhead.max_concurrent: expected an integer >= 1, got {max_concurrent!r}"
            )
        if max_concurrent < 1:
            raise ConfigError(
                f"Bulkhead.max_concurrent: expected an integer >= 1, got {max_concurrent!r}"
            )
        if (
            not isinstance(max_wait, int | float)
            or isinstance(max_wait, bool)
            or not math.isfinite(max_wait)
            or max_wait < 0
        ):
            raise ConfigError(f"Bulkhead.max_wait: expected seconds >= 0, got {max_wait!r}")
        self.capacity = max_concurrent
        self.max_wait = float(max_wait)
        self._in_flight = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._cond = threading.Condition()

    @property
    def max_concurrent(self) -> int:
        """The number of slots (same as `capacity`)."""
        return self.capacity

    @property
    def in_flight(self) -> int:
        """Calls holding a slot right now."""
        return self._in_flight

    @property
    def waiting(self) -> int:
        """Calls waiting for a slot right now."""
        return sum(1 for fut in self._waiters if not fut.done())

    def describe(self) -> str:
        """Every setting as one line of text."""
        return f"Bulkhead(max_concurrent={self.capacity}, max_wait={self.max_wait:g})"

    def standalone_info(self, name: str) -> PolicyInfo:
        """A standalone bulkhead's `PolicyInfo`, with live gauges."""
        return PolicyInfo(
            name=name,
            mechanisms=(self.mechanism,),
            bulkhead_in_flight=lambda: self._in_flight,
            bulkhead_capacity=lambda: self.capacity,
        )

    def _reject(self, ctx: CallContext) -> BulkheadFullError:
        if ctx.emitter.handlers:
            ctx.emitter.emit(Rejected(ctx.policy, self.mechanism, None))
        return BulkheadFullError(
            f"bulkhead full: {self.capacity} calls in flight"
            + (f", no slot freed within {self.max_wait:g} s" if self.max_wait else ""),
            policy=ctx.policy,
        )

    def _release(self) -> None:
        waiters = self._waiters
        while waiters:
            fut = waiters.popleft()
            if not fut.done():
                fut.set_result(None)  # the slot passes to the next waiter; in_flight unchanged
                return
        self._in_flight -= 1

    async def _wait(self, ctx: CallContext) -> None:
        """Wait for a handed-over slot; on return the caller holds it."""
        if self.max_wait <= 0:
            raise self._reject(ctx)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            async with asyncio.timeout(self.max_wait):
                await fut
        except TimeoutError:
            if fut.done() and not fut.cancelled():
                return  # the slot arrived as the wait ran out: keep it
            self._forget(fut)
            raise self._reject(ctx) from None
        except BaseException:
            if fut.done() and not fut.cancelled():
                self._release()  # handed a slot but cancelled before using it: pass it on
            else:
                self._forget(fut)
            raise

    def _forget(self, fut: asyncio.Future[None]) -> None:
        fut.cancel()
        if fut in self._waiters:
            self._waiters.remove(fut)

    async def run(self, nxt: Step[T], call: Call[T], ctx: CallContext) -> T:
        """Run one call in a slot."""
        if self._in_flight < self.capacity and not self._waiters:
            self._in_flight += 1
        else:
            await self._wait(ctx)
        try:
            return await nxt(call, ctx)
        finally:
            self._release()

    def run_sync(self, nxt: SyncStep[T], call: Callable[[], T], ctx: CallContext) -> T:
        """Run one sync call in a slot (thread-safe)."""
        cond = self._cond
        with cond:
            if self._in_flight >= self.capacity and (
                self.max_wait <= 0
                or not cond.wait_for(lambda: self._in_flight < self.capacity, self.max_wait)
            ):
                raise self._reject(ctx)
            self._in_flight += 1
        try:
            return nxt(call, ctx)
        finally:
            with cond:
                self._in_flight -= 1
                cond.notify()
