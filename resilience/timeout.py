"""`Timeout` (per attempt) and `Deadline` (a policy's total deadline), on one cheap timer per loop.

`asyncio.timeout` costs ~6.6 µs per call on 3.11, most of it creating and cancelling a
`TimerHandle`. Every attempt of one `Timeout` has the same duration, so on a monotonic clock its
deadlines arrive in order: a FIFO queue per (mechanism, loop) with lazy deletion and ONE
`loop.call_at` handle for its oldest live entry replaces a timer per call. When an entry is
overdue the handle cancels its task; the layer recognises its own cancellation (the entry is
marked fired), uncancels the task and raises `AttemptTimeoutError` / `DeadlineExceededError`
instead — unless someone else also cancelled the task, in which case `CancelledError` propagates.
The same holds when the inner code turns our cancellation into an error of its own: that error is
chained as the timeout's cause, and the task's cancel count is balanced on every exit.
"""

from __future__ import annotations

import asyncio
import math
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from resilience._core import Call, CallContext, Mechanism, Step, deadline_var
from resilience._errors import AttemptTimeoutError, ConfigError, DeadlineExceededError
from resilience._events import TimedOut

T = TypeVar("T")

_ACTIVE, _DONE, _FIRED = 0, 1, 2
_current_task = asyncio.current_task


class _Entry:
    __slots__ = ("deadline", "state", "task")

    def __init__(self, deadline: float, task: asyncio.Task[Any]) -> None:
        self.deadline = deadline
        self.task: asyncio.Task[Any] | None = task
        self.state = _ACTIVE


class _TimerQueue:
    """Entries of one mechanism on one loop, in deadline order, watched by one timer handle.

    Holds its loop weakly and no timer handle (a handle references its loop): the queue is the
    value of a `WeakKeyDictionary` keyed by the loop, so a strong path from it to the loop would
    keep every loop the mechanism ever ran on alive. A finished entry forgets its task for the
    same reason.
    """

    __slots__ = ("__weakref__", "_armed", "_entries", "_loop", "_message", "active")

    def __init__(self, loop: asyncio.AbstractEventLoop, message: str) -> None:
        self._loop = weakref.ref(loop)
        self._message = message
        self._entries: deque[_Entry] = deque()
        self._armed = False  # a `call_at(..., self._fire)` is pending
        self.active = 0

    def push(self, deadline: float, task: asyncio.Task[Any]) -> _Entry:
        entry = _Entry(deadline, task)
        entries = self._entries
        # Finished entries at the front go now, so a sequential caller keeps the queue tiny.
        while entries and entries[0].state != _ACTIVE:
            entries.popleft()
        entries.append(entry)
        self.active += 1
        if not self._armed:
            task.get_loop().call_at(deadline, self._fire)
            self._armed = True
        elif len(entries) > 2 * self.active + 64:
            # A long-lived attempt at the front pins finished ones behind it: drop them in O(n),
            # amortised O(1) per push.
            self._entries = deque(e for e in entries if e.state == _ACTIVE)
        return entry

    def done(self, entry: _Entry) -> None:
        if entry.state == _ACTIVE:
            entry.state = _DONE
            entry.task = None
            self.active -= 1

    def _fire(self) -> None:
        self._armed = False
        loop = self._loop()
        if loop is None:  # pragma: no cover - a loop that runs callbacks is alive
            return
        entries = self._entries
        due = loop.time() + 1e-6  # call_at may run a hair early (clock resolution)
        while entries:
            entry = entries[0]
            if entry.state == _ACTIVE:
                if entry.deadline > due:
                    loop.call_at(entry.deadline, self._fire)
                    self._armed = True
                    return
                entry.state = _FIRED
                self.active -= 1
                task, entry.task = entry.task, None
                if task is not None:
                    task.cancel(msg=self._message)
            entries.popleft()


def _no_loop() -> None:
    return None


class _TimerLayer(Mechanism):
    """What `Timeout` and `Deadline` share: run the rest of the pipeline under one deadline.

    Subclasses set `_message` (the cancellation message of their timer), `_sets_deadline`
    (whether inner layers see the deadline through `deadline_var`) and `_expired` (the error).
    """

    _message = ""
    _sets_deadline = False

    def __init__(self, seconds: float, field: str) -> None:
        super().__init__()
        if (
            not isinstance(seconds, int | float)
            or isinstance(seconds, bool)
            or not math.isfinite(seconds)
            or seconds <= 0
        ):
            raise ConfigError(f"{field}: expected a positive number of seconds, got {seconds!r}")
        self.seconds = float(seconds)
        # The last loop used and its queue, for the hot path; the loop held weakly (see
        # `_TimerQueue`).
        self._qloop: Callable[[], asyncio.AbstractEventLoop | None] = _no_loop
        self._queue: _TimerQueue | None = None
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _TimerQueue] = (
            weakref.WeakKeyDictionary()
        )

    def _queue_for(self, loop: asyncio.AbstractEventLoop) -> _TimerQueue:
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = _TimerQueue(loop, self._message)
        self._qloop, self._queue = weakref.ref(loop), queue
        return queue

    def _expired(self, ctx: CallContext) -> TimeoutError:
        """The error raised (and the `TimedOut` event emitted) when the deadline passed."""
        raise NotImplementedError

    async def run(self, nxt: Step[T], call: Call[T], ctx: CallContext) -> T:
        """Run the rest of the pipeline; past `seconds`, cancel it and raise `_expired(ctx)`."""
        task = _current_task()
        if task is None:
            raise RuntimeError(f"{self.describe()} must run inside an asyncio task")
        loop = task.get_loop()
        queue = self._queue if loop is self._qloop() else None
        if queue is None:
            queue = self._queue_for(loop)
        deadline = loop.time() + self.seconds
        token = None
        if self._sets_deadline:
            outer = deadline_var.get()  # a nested policy keeps the tighter deadline
            token = deadline_var.set(deadline if outer is None or deadline < outer else outer)
        cancelling = task.cancelling()
        entry = queue.push(deadline, task)
        try:
            result = await nxt(call, ctx)
        except BaseException as exc:
            if entry.state == _FIRED:
                # Our timer fired, so we own one cancellation request: undo it on every exit,
                # or the caller's own `asyncio.timeout` would later surface as CancelledError.
                outer = task.uncancel() > cancelling
                if isinstance(exc, asyncio.CancelledError):
                    if not outer:
                        raise self._expired(ctx) from exc
                elif isinstance(exc, Exception):
                    # Once the timer fired the inner code's next await raised CancelledError:
                    # this error is what it made of our cancellation (some client libraries
                    # convert it). Someone else's cancellation must still reach them, though.
                    if outer:
                        raise asyncio.CancelledError() from exc
                    raise self._expired(ctx) from exc
            raise
        finally:
            if entry.state == _ACTIVE:  # inlined queue.done(entry): this is the hot path
                entry.state = _DONE
                entry.task = None
                queue.active -= 1
            if token is not None:
                deadline_var.reset(token)
        if entry.state == _FIRED:
            task.uncancel()  # the inner code swallowed our cancellation: keep the count balanced
        return result


class Timeout(_TimerLayer):
    """Bound each attempt to `seconds`; an overdue attempt is cancelled and `AttemptTimeoutError`
    (a `TimeoutError`) is raised.

    Coroutine functions only: decorating a sync function is refused at decoration time, since a
    running thread cannot be interrupted. Added in 0.1.0.
    """

    mechanism = "timeout"
    _message = "resilience: attempt timeout"

    def __init__(self, seconds: float) -> None:
        super().__init__(seconds, "Timeout.seconds")

    def describe(self) -> str:
        """Every setting as one line of text."""
        return f"Timeout(attempt, seconds={self.seconds:g})"

    def _expired(self, ctx: CallContext) -> TimeoutError:
        if ctx.emitter.handlers:
            ctx.emitter.emit(TimedOut(ctx.policy, "attempt", self.seconds))
        return AttemptTimeoutError(
            f"attempt timed out after {self.seconds:g} s", policy=ctx.policy, timeout=self.seconds
        )


class Deadline(_TimerLayer):
    """A total deadline over every attempt and backoff: `Policy(deadline=seconds)`.

    Inner layers and nested policies see it through `resilience._core.deadline_var` (a nested
    policy keeps the tighter deadline). Raises `DeadlineExceededError` (a `TimeoutError`).
    Added in 0.1.0.
    """

    mechanism = "deadline"
    _message = "resilience: total deadline"
    _sets_deadline = True

    def __init__(self, seconds: float) -> None:
        super().__init__(seconds, "Policy.deadline")

    def describe(self) -> str:
        """Every setting as one line of text."""
        return f"Timeout(total, seconds={self.seconds:g})"

    def _expired(self, ctx: CallContext) -> TimeoutError:
        if ctx.emitter.handlers:
            ctx.emitter.emit(TimedOut(ctx.policy, "total", self.seconds))
        return DeadlineExceededError(
            f"total deadline of {self.seconds:g} s exceeded",
            policy=ctx.policy,
            deadline=self.seconds,
        )
