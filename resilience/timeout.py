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

Sync callables (Flask, Django, `requests`): a running thread cannot be interrupted, so the rest of
the pipeline runs on a worker thread of a small pool owned by the mechanism (at most
`max_sync_workers` threads, started on demand, daemons) while the caller waits at most `seconds`
(or the time left before the policy's deadline). Past that, the caller gets the same error as
an async caller and goes on; the abandoned call keeps its worker until it returns by itself (its
result or error is dropped), and a call still queued for a worker when its caller gave up never
starts. The trade-off: the caller's latency is bounded and the number of stuck calls is bounded
by the pool (when all workers hang, new calls time out waiting for one, as a bulkhead would
refuse them), at the cost of a thread hand-off (~20-50 µs) per call and of abandoned calls that
may still complete their side effects. The worker runs in a copy of the caller's context, so
context variables (the deadline, Flask's and Django's request context) are visible to it.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import queue
import threading
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from resilience import _clock
from resilience._core import (
    Call,
    CallContext,
    Mechanism,
    Step,
    SyncStep,
    deadline_var,
    refuse_in_event_loop,
    remaining_time,
)
from resilience._errors import AttemptTimeoutError, ConfigError, DeadlineExceededError
from resilience._events import TimedOut, TimeoutKind

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


class _Work:
    """One sync call handed to a worker; `done` is set when it returned or raised."""

    __slots__ = ("abandoned", "args", "done", "error", "fn", "result")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.fn = fn
        self.args = args
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None
        self.abandoned = False  # the caller gave up: if not started yet, never start

    def run(self) -> None:
        """Run the call (unless abandoned); the worker sets `done` afterwards."""
        if self.abandoned:
            return
        try:
            self.result = self.fn(*self.args)
        except BaseException as exc:  # handed to the caller, or dropped if it gave up
            self.error = exc


class _Workers:
    """At most `size` daemon threads, started on demand, running `_Work` items in order."""

    def __init__(self, size: int, name: str) -> None:
        self._size = size
        self._name = name
        self._queue: queue.SimpleQueue[_Work] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0

    def submit(self, work: _Work) -> None:
        with self._lock:
            start = self._idle <= 0 and self._threads < self._size
            if start:
                self._threads += 1
            else:
                self._idle -= 1  # this item will wake an idle worker (or wait for a busy one)
        if start:
            threading.Thread(target=self._serve, name=self._name, daemon=True).start()
        self._queue.put(work)

    def _serve(self) -> None:
        get = self._queue.get
        while True:
            work = get()
            work.run()
            # Idle before the caller hears back: its next call then reuses this worker instead
            # of starting another one.
            with self._lock:
                self._idle += 1
            work.done.set()


class _TimerLayer(Mechanism):
    """What `Timeout` and `Deadline` share: run the rest of the pipeline under one deadline.

    Subclasses set `_message` (the cancellation message of their timer), `_sets_deadline`
    (whether inner layers see the deadline through `deadline_var`) and `_expired` (the error).
    """

    _message = ""
    _sets_deadline = False

    def __init__(self, seconds: float, field: str, max_sync_workers: int = 32) -> None:
        super().__init__()
        if (
            not isinstance(max_sync_workers, int)
            or isinstance(max_sync_workers, bool)
            or max_sync_workers < 1
        ):
            raise ConfigError(
                f"{field.split('.')[0]}.max_sync_workers: expected an integer >= 1, "
                f"got {max_sync_workers!r}"
            )
        self.max_sync_workers = max_sync_workers
        self._workers: _Workers | None = None
        self._workers_lock = threading.Lock()
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
            if entry.state == _ACTIVE:  # the attempt ended before its timer: this is the hot path
                entry.state = _DONE
                entry.task = None
                queue.active -= 1
            if token is not None:
                deadline_var.reset(token)
        if entry.state == _FIRED:
            task.uncancel()  # the inner code swallowed our cancellation: keep the count balanced
        return result

    def run_sync(self, nxt: SyncStep[T], call: Callable[[], T], ctx: CallContext) -> T:
        """Run the rest of the pipeline on a worker thread and wait at most `seconds` for it
        (see the module docstring); refused on a thread running an event loop."""
        refuse_in_event_loop(self)
        seconds = self.seconds
        left = remaining_time()
        if left is not None and left < seconds:
            seconds = max(0.0, left)  # never wait past the caller's deadline
        context = contextvars.copy_context()
        if self._sets_deadline:
            deadline = _clock.monotonic() + self.seconds
            outer = deadline_var.get()
            context.run(deadline_var.set, deadline if outer is None or deadline < outer else outer)
        work = _Work(context.run, (nxt, call, ctx))
        workers = self._workers
        if workers is None:
            with self._workers_lock:
                workers = self._workers
                if workers is None:
                    name = f"resilience-{self.mechanism}-{ctx.policy}"
                    workers = self._workers = _Workers(self.max_sync_workers, name)
        workers.submit(work)
        if not work.done.wait(seconds):
            work.abandoned = True
            raise self._expired(ctx)
        if work.error is not None:
            raise work.error
        return work.result  # type: ignore[no-any-return]


class Timeout(_TimerLayer):
    """Bound each attempt to `seconds`; an overdue attempt is cancelled and `AttemptTimeoutError`
    (a `TimeoutError`) is raised.

    A sync function runs on one of at most `max_sync_workers` worker threads while its caller
    waits at most `seconds`; an abandoned call finishes on its worker, unseen (module
    docstring). Added in 0.1.0.
    """

    mechanism = "timeout"
    _message = "resilience: attempt timeout"

    def __init__(self, seconds: float, *, max_sync_workers: int = 32) -> None:
        super().__init__(seconds, "Timeout.seconds", max_sync_workers)

    def describe(self) -> str:
        """Every setting as one line of text."""
        return f"Timeout(attempt, seconds={self.seconds:g})"

    def _expired(self, ctx: CallContext) -> TimeoutError:
        if ctx.emitter.handlers:
            ctx.emitter.emit(TimedOut(ctx.policy, TimeoutKind.ATTEMPT, self.seconds))
        return AttemptTimeoutError(
            f"attempt timed out after {self.seconds:g} s", policy=ctx.policy, timeout=self.seconds
        )


class Deadline(_TimerLayer):
    """A total deadline over every attempt and backoff: `Policy(deadline=seconds)`.

    Inner layers and nested policies see it through `resilience.layers.remaining_time()` (a
    nested policy keeps the tighter deadline). Raises `DeadlineExceededError` (a `TimeoutError`).
    For a sync function, the attempts run on a worker thread while the caller waits at most
    `seconds`, as for `Timeout`. Added in 0.1.0.
    """

    mechanism = "deadline"
    _message = "resilience: total deadline"
    _sets_deadline = True

    def __init__(self, seconds: float) -> None:
        super().__init__(seconds, "Policy.deadline")

    def describe(self) -> str:
        """Every setting as one line of text."""
        return f"Deadline(seconds={self.seconds:g})"

    def _expired(self, ctx: CallContext) -> TimeoutError:
        if ctx.emitter.handlers:
            ctx.emitter.emit(TimedOut(ctx.policy, TimeoutKind.DEADLINE, self.seconds))
        return DeadlineExceededError(
            f"total deadline of {self.seconds:g} s exceeded",
            policy=ctx.policy,
            deadline=self.seconds,
        )
