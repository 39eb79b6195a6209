"""`Bulkhead`: at most `max_concurrent` calls in flight; others wait `max_wait` or are refused."""

from __future__ import annotations

import asyncio
import math
import threading
import weakref
from collections import deque
from collections.abc import Callable
from typing import TypeVar

from resilience._core import Call, CallContext, Mechanism, Step, SyncStep, refuse_in_event_loop
from resilience._errors import BulkheadFullError, ConfigError
from resilience._events import PolicyInfo, Rejected

T = TypeVar("T")

_EXPIRE_BATCH = 512
"""Waiters refused per loop iteration when many time out at once: the loop serves other work
between batches (40,000 waiters leaving together otherwise block it for their whole wake-up)."""


def _max_concurrent(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"Bulkhead.max_concurrent: expected an integer >= 1, got {value!r}")
    return value


def _max_wait(value: object) -> float:
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ConfigError(f"Bulkhead.max_wait: expected seconds >= 0, got {value!r}")
    return float(value)


class Bulkhead(Mechanism):
    """Limit concurrent calls to `max_concurrent`; a call waits at most `max_wait` seconds for a
    slot (0 = refuse at once) and then gets `BulkheadFullError`.

    Waiters are served in arrival order; a freed slot is handed straight to the next waiter. A
    cancelled call always gives its slot back, whether it held one or was still waiting; a
    waiter leaves in O(1) (timed out or cancelled), and many waiters timing out together are
    refused in batches so the loop keeps serving. `resize` changes the limits of a live bulkhead
    (a plan reload) keeping its calls and waiters. `in_flight` and `capacity` are live readouts
    (exporters read them as gauges). Sync functions are accepted and are thread-safe; serve one
    instance from either threads or one event loop, not both at once. Added in 0.1.0.
    """

    mechanism = "bulkhead"

    def __init__(self, *, max_concurrent: int, max_wait: float = 0.0) -> None:
        super().__init__()
        self.capacity = _max_concurrent(max_concurrent)
        self.max_wait = _max_wait(max_wait)
        self._in_flight = 0
        # Async waiters in arrival (= deadline) order: (deadline, future). A future resolves True
        # when a slot is handed to it, False when its wait ran out; one cancelled by its caller
        # stays in the deque (skipped, compacted now and then), so leaving costs O(1).
        self._waiters: deque[tuple[float, asyncio.Future[bool]]] = deque()
        self._waiting = 0  # live async waiters (futures not resolved yet)
        # The async waiters' loop (weakly: a bulkhead must not keep a finished loop alive) and
        # the pending expiry sweep, held only while someone waits.
        self._loop: Callable[[], asyncio.AbstractEventLoop | None] = _no_loop
        self._timer: asyncio.Handle | None = None
        self._cond = threading.Condition()

    @property
    def max_concurrent(self) -> int:
        """The number of slots (same as `capacity`)."""
        return self.capacity

    @property
    def in_flight(self) -> int:
        """Calls holding a slot right now (above `capacity` for a while after it was lowered)."""
        return self._in_flight

    @property
    def waiting(self) -> int:
        """Calls waiting for a slot right now."""
        return self._waiting

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

    # ------------------------------------------------------------------ live limits

    def resize(self, *, max_concurrent: int | None = None, max_wait: float | None = None) -> None:
        """Change the limits in place, keeping the calls in flight and the waiters.

        A higher `max_concurrent` hands the new slots to waiters at once; a lower one lets the
        calls in flight finish and admits new ones only below the new limit (as resilience4j's
        `changeConfig`). A new `max_wait` applies to new waiters, and cuts the waits of current
        ones that would now end later. Validated first: a bad value raises `ConfigError` and
        changes nothing. Safe to call from any thread. Added in 0.1.0.
        """
        capacity = self.capacity if max_concurrent is None else _max_concurrent(max_concurrent)
        wait = self.max_wait if max_wait is None else _max_wait(max_wait)
        shorter = wait < self.max_wait
        with self._cond:
            self.capacity, self.max_wait = capacity, wait
            self._cond.notify_all()  # sync callers waiting for a slot look again
        loop = self._loop()
        if loop is not None and not loop.is_closed() and not _runs_on(loop):
            loop.call_soon_threadsafe(self._serve_waiters, shorter)  # async waiters: their loop
        else:
            self._serve_waiters(shorter)

    def _serve_waiters(self, shorter: bool) -> None:
        """After a resize: cut waits that now end too late, hand new slots to waiters."""
        wait = self.max_wait
        loop = self._loop()
        if shorter and self._waiting and loop is not None:
            # Keep deadlines in order (the sweep reads the front): no wait ends later than now
            # plus the new max_wait.
            cap = loop.time() + wait
            self._waiters = deque((min(d, cap), f) for d, f in self._waiters if not f.done())
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._arm(loop, self._waiters[0][0])
        while self._waiting and self._in_flight < self.capacity:
            self._in_flight += 1
            if not self._hand_over():
                self._in_flight -= 1
                break

    # ------------------------------------------------------------------ async slots

    def _reject(self, ctx: CallContext) -> BulkheadFullError:
        if ctx.emitter.handlers:
            ctx.emitter.emit(Rejected(ctx.policy, self.mechanism, None))
        return BulkheadFullError(
            f"bulkhead full: {self.capacity} calls in flight"
            + (f", no slot freed within {self.max_wait:g} s" if self.max_wait else ""),
            policy=ctx.policy,
        )

    def _hand_over(self) -> bool:
        """Give the caller's slot to the oldest live waiter; False when there is none."""
        waiters = self._waiters
        while waiters:
            fut = waiters.popleft()[1]
            if not fut.done():
                fut.set_result(True)
                self._waiting -= 1
                return True
        return False

    def _release(self) -> None:
        if self._in_flight > self.capacity or not self._waiting or not self._hand_over():
            self._in_flight -= 1  # (the slot passed to a waiter otherwise: in_flight unchanged)

    def _arm(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        if self._timer is None:
            self._timer = loop.call_at(when, self._expire)

    def _expire(self) -> None:
        """Refuse the waiters whose wait ran out (a batch per loop iteration), then re-arm."""
        self._timer = None
        loop = self._loop()
        if loop is None:  # pragma: no cover - a loop that runs callbacks is alive
            return
        waiters = self._waiters
        now = loop.time() + 1e-6  # call_at may run a hair early (clock resolution)
        refused = 0
        while waiters:
            deadline, fut = waiters[0]
            if fut.done():
                waiters.popleft()
                continue
            if deadline > now:
                self._arm(loop, deadline)
                return
            if refused == _EXPIRE_BATCH:
                self._timer = loop.call_soon(self._expire)  # the rest on the next iteration
                return
            waiters.popleft()
            fut.set_result(False)
            self._waiting -= 1
            refused += 1

    async def _wait(self, ctx: CallContext) -> None:
        """Wait for a handed-over slot; on return the caller holds it."""
        if self.max_wait <= 0:
            raise self._reject(ctx)
        loop = asyncio.get_running_loop()
        if self._loop() is not loop:
            self._loop, self._timer = weakref.ref(loop), None
        fut: asyncio.Future[bool] = loop.create_future()
        deadline = loop.time() + self.max_wait
        waiters = self._waiters
        if len(waiters) > 2 * self._waiting + 64:
            # Cancelled waiters pinned behind live ones: drop them, amortised O(1) per waiter.
            self._waiters = waiters = deque(w for w in waiters if not w[1].done())
        waiters.append((deadline, fut))
        self._waiting += 1
        self._arm(loop, deadline)
        try:
            handed = await fut
        except BaseException:
            if not fut.done() or fut.cancelled():
                if not fut.cancelled():
                    fut.cancel()
                self._waiting -= 1  # left the queue (its entry is skipped from now on)
            elif fut.result():
                self._release()  # handed a slot but cancelled before using it: pass it on
            raise
        if not handed:
            raise self._reject(ctx) from None

    async def run(self, nxt: Step[T], call: Call[T], ctx: CallContext) -> T:
        """Run one call in a slot."""
        if self._in_flight < self.capacity and not self._waiting:
            self._in_flight += 1
        else:
            await self._wait(ctx)
        try:
            return await nxt(call, ctx)
        finally:
            self._release()

    # ------------------------------------------------------------------ sync slots

    def run_sync(self, nxt: SyncStep[T], call: Callable[[], T], ctx: CallContext) -> T:
        """Run one sync call in a slot (thread-safe); with a `max_wait`, refused on a thread
        running an event loop (waiting there would stall the loop)."""
        if self.max_wait > 0:
            refuse_in_event_loop(self)
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


def _no_loop() -> None:
    return None


def _runs_on(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
