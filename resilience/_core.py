"""The internal layer protocol: how `Policy` composes mechanisms, ours and anyone else's.

A *layer* is one mechanism in a policy's pipeline (CircuitBreaker, Retry, Timeout, Bulkhead,
Fallback, RateLimiter, Hedge, a chaos injection...). It implements `Layer`:

``mechanism``
    A short name (``"circuit_breaker"``, ``"retry"``...) listed in `PolicyInfo.mechanisms` and in
    `Policy.describe()`.
``bind(policy, emitter)``
    Called once when a `Policy` is built (or a mechanism is used standalone): the layer learns the
    policy's name and its `Emitter`. Do per-policy preparation here, never per call.
``describe() -> str``
    One line with every setting, e.g. ``"Retry(max_attempts=3, wait=...)"``.
``async run(nxt, call, ctx) -> T``
    Run one call through this layer. ``await nxt(call, ctx)`` runs the remaining inner layers and
    finally the user's function; ``call()`` creates a fresh coroutine of the user's function (the
    innermost step calls it; a retry calls ``nxt`` again for a new attempt). ``ctx`` is the
    per-call `CallContext`.

Optionally ``run_sync(nxt, call, ctx) -> T`` does the same for sync callables (`nxt` and `call`
are then plain functions); a policy accepts a sync function only if all its layers have it. A
true ``reads_call_key`` attribute says the layer reads `resilience.keyed.call_key_var` (as
`KeyedBreaker` does), which the httpx transports then set.

Rules every layer keeps (DESIGN.md): `asyncio.CancelledError` and every non-`Exception`
`BaseException` propagate unchanged and release what the layer holds; our own rejections are
`RejectedError` subclasses; per-call events go to ``ctx.emitter`` and are built only when
``ctx.emitter.handlers`` is non-empty. When ``ctx.once`` is true the call cannot be repeated (the
body of an ``async with`` block): retries and hedges must make exactly one attempt, and a
fallback must let the error through.

`compose(layers)` chains layers outside-in into one `Step`; `decorate` and `Block` turn a `Step`
into a decorator and an ``async with`` context manager. `Mechanism` is the base class of our own
mechanisms (standalone decorator and ``async with`` for free).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import types
from collections.abc import Awaitable, Callable, Coroutine, Generator, Sequence
from contextvars import ContextVar
from typing import Any, ParamSpec, Protocol, TypeAlias, TypeVar, cast, runtime_checkable

from resilience import _clock
from resilience._errors import RejectedError
from resilience._events import CallFinished, CallOutcome, Emitter, PolicyInfo

T = TypeVar("T")
P = ParamSpec("P")
FnT = TypeVar("FnT", bound=Callable[..., Any])

Call: TypeAlias = Callable[[], Awaitable[T]]
"""Creates one fresh awaitable of the user's function (one attempt)."""

Step: TypeAlias = Callable[[Call[T], "CallContext"], Coroutine[Any, Any, T]]
"""Runs a call through the remaining (inner) layers."""

SyncStep: TypeAlias = Callable[[Callable[[], T], "CallContext"], T]
"""The sync counterpart of `Step`."""

deadline_var: ContextVar[float | None] = ContextVar("resilience_deadline", default=None)
"""The caller's total deadline (absolute, on the running loop's clock) or None.

Set by a `Policy(deadline=...)` for everything it runs, so an inner retry never sleeps past it and a
nested policy inherits the tighter of the two deadlines.
"""


class TestingMode:
    """The switch `resilience.testing.set_testing` flips: no backoff sleeps, capped attempts."""

    __slots__ = ("active", "attempts", "cap")

    def __init__(self) -> None:
        self.active = False
        self.attempts = 1
        self.cap = False


testing_mode = TestingMode()
"""Process-wide testing mode, read by `Retry` on its failure path only."""


def remaining_time() -> float | None:
    """Seconds left before the current deadline (may be negative), or None without a deadline."""
    deadline = deadline_var.get()
    if deadline is None:
        return None
    return deadline - _clock.monotonic()


class CallContext:
    """What the layers of one call share: the policy, its emitter, the call's arguments.

    ``retrying`` is True while a `Retry` loop runs this call (the loop sets it, then publishes
    this context as the "inside a retry" mark that nested calls and child tasks read, and clears
    it when it ends); it is not set before: only a published context is ever asked.
    """

    __slots__ = (
        "args",
        "attempt",
        "emitter",
        "fallback_used",
        "kwargs",
        "once",
        "policy",
        "retrying",
    )
    retrying: bool

    def __init__(
        self,
        policy: str,
        emitter: Emitter,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        once: bool = False,
    ) -> None:
        self.policy = policy
        self.emitter = emitter
        self.args = args
        self.kwargs: dict[str, Any] = kwargs if kwargs is not None else {}
        self.once = once
        self.attempt = 1
        self.fallback_used = False


class _BareContext(CallContext):
    """A `CallContext` the class call makes without running an `__init__`: the wrappers set
    every attribute themselves (`new_context`)."""

    __slots__ = ()
    # object's own __init__ makes the class call all C (type_call → object_new, object_init):
    # cheaper than `object.__new__(CallContext)`, which goes through a method wrapper.
    __init__ = object.__init__


def new_context(
    policy: str, emitter: Emitter, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> CallContext:
    """``CallContext(policy, emitter, args, kwargs)``, made without running `CallContext.__init__`:
    what the wrappers run once per call. tests/resilience/test_policy.py checks that both set
    every attribute alike."""
    ctx: CallContext = _BareContext()
    ctx.policy = policy
    ctx.emitter = emitter
    ctx.args = args
    ctx.kwargs = kwargs
    ctx.once = False
    ctx.attempt = 1
    ctx.fallback_used = False
    return ctx


@runtime_checkable
class Layer(Protocol):
    """One mechanism of a policy's pipeline (see the module docstring)."""

    mechanism: str

    def bind(self, policy: str, emitter: Emitter) -> None:
        """Learn the policy's name and emitter (once, when the policy is built)."""

    def describe(self) -> str:
        """Every setting of this layer as one line of text."""

    def run(self, nxt: Step[T], call: Call[T], ctx: CallContext) -> Coroutine[Any, Any, T]:
        """Run one call through this layer; `nxt` runs the inner layers."""


@runtime_checkable
class SyncLayer(Protocol):
    """A layer that can also run sync callables."""

    def run_sync(self, nxt: SyncStep[T], call: Callable[[], T], ctx: CallContext) -> T:
        """Run one sync call through this layer; `nxt` runs the inner layers."""


def _innermost_sync(call: Callable[[], T], ctx: CallContext) -> T:
    return call()


def _innermost_direct(call: Call[T], ctx: CallContext) -> Coroutine[Any, Any, T]:
    # The innermost layer awaits the user's awaitable itself, not a coroutine awaiting it: one
    # coroutine frame less per call (measured ~0.1 µs), whatever the layers.
    return call()  # type: ignore[return-value]  # no cast(): a function call per call


def compose(layers: Sequence[Layer]) -> Step[Any]:
    """Chain `layers` outside-in: ``layers[0]`` runs first and the user's call runs last.

    The innermost step returns the awaitable ``call()`` gives (a coroutine for an ``async
    def``): the innermost layer awaits it (or wraps it in a coroutine of its own for a task), and
    without layers the step's caller awaits it.
    """
    step: Step[Any] = _innermost_direct
    for layer in reversed(layers):
        # partial (C) binds the inner step without an extra Python frame per layer; of the
        # function and the layer rather than of the bound method: one C call less per layer.
        run = layer.run
        if isinstance(run, types.MethodType):
            step = functools.partial(run.__func__, run.__self__, step)
        else:
            step = functools.partial(run, step)
    return step


def compose_sync(layers: Sequence[Layer]) -> SyncStep[Any]:
    """Chain sync-capable `layers` outside-in; TypeError names the first layer that is not."""
    step: SyncStep[Any] = _innermost_sync
    for layer in reversed(layers):
        if not isinstance(layer, SyncLayer):
            raise TypeError(
                f"{layer.describe()} cannot run a sync function; decorate a coroutine function "
                "(async def) instead"
            )
        step = functools.partial(layer.run_sync, step)
    return step


_running_loop = asyncio._get_running_loop


def refuse_in_event_loop(layer: Layer) -> None:
    """Raise `RuntimeError` when a sync call would wait (sleep, block on a slot or a worker)
    on a thread running an event loop: that wait would stall every other task of the loop."""
    if _running_loop() is not None:
        raise RuntimeError(
            f"{layer.describe()} would block the running event loop: a sync function under a "
            "mechanism that waits (retry backoff, timeout, bulkhead or rate limiter wait) cannot "
            "be called from async code; decorate an async def for this policy instead, or call "
            "the sync function with `await asyncio.to_thread(fn, ...)`"
        )


def _finished(ctx: CallContext, start: float, exc: Exception | None) -> None:
    if exc is None:
        outcome = CallOutcome.FALLBACK if ctx.fallback_used else CallOutcome.SUCCESS
    elif isinstance(exc, RejectedError):
        outcome = CallOutcome.REJECTED
    else:
        outcome = CallOutcome.FAILURE
    ctx.emitter.emit(
        CallFinished(ctx.policy, outcome, _clock.monotonic() - start, exc, ctx.attempt)
    )


def decorate(
    fn: Callable[P, Any],
    policy: str,
    emitter: Emitter,
    step: Step[Any],
    sync_step: Callable[[], SyncStep[Any]],
) -> Callable[P, Any]:
    """Wrap `fn` (async, or sync when `sync_step()` allows it) so each call runs through `step`.

    Emits `CallFinished` for every call that was not cancelled, when a hook listens.
    """
    if _is_async(fn):
        afn = cast(Callable[P, Awaitable[Any]], fn)

        @functools.wraps(fn)
        async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            ctx = new_context(policy, emitter, args, kwargs)
            call = functools.partial(afn, *args, **kwargs)
            if not emitter.handlers:
                return await step(call, ctx)
            start = _clock.monotonic()
            try:
                result = await step(call, ctx)
            except Exception as exc:
                _finished(ctx, start, exc)
                raise
            _finished(ctx, start, None)
            return result

        return async_wrapper

    if not callable(fn):
        raise TypeError(f"can only decorate a function, got {fn!r}")
    sstep = sync_step()  # raises a clear TypeError at decoration time when not supported

    @functools.wraps(fn)
    def sync_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
        ctx = new_context(policy, emitter, args, kwargs)
        call = functools.partial(fn, *args, **kwargs)
        if not emitter.handlers:
            return sstep(call, ctx)
        start = _clock.monotonic()
        try:
            result = sstep(call, ctx)
        except Exception as exc:
            _finished(ctx, start, exc)
            raise
        _finished(ctx, start, None)
        return result

    return sync_wrapper


def _is_async(fn: Callable[..., Any]) -> bool:
    """A coroutine function, or an object whose ``__call__`` is one."""
    return inspect.iscoroutinefunction(fn) or (
        not inspect.isfunction(fn) and inspect.iscoroutinefunction(getattr(fn, "__call__", None))  # noqa: B004
    )


class _BodyMarker:
    """Yielded up through the layers' coroutine when the pipeline reaches the block's body."""


_BODY = _BodyMarker()


class _Body:
    __slots__ = ()

    def __await__(self) -> Generator[Any, Any, Any]:
        return (yield _BODY)


class _Forward:
    """Re-yields what the driven coroutine yielded (a future, or None) to our own task."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __await__(self) -> Generator[Any, Any, Any]:
        return (yield self.obj)


async def _awaiting(awaitable: Awaitable[T]) -> T:
    return await awaitable


class Block:
    """One ``async with`` run of a pipeline: the block's body plays the part of the call.

    The pipeline's coroutine is driven by hand: `enter` runs the layers' entry code (forwarding any
    future they wait on to the current task) up to the body; `exit` resumes them with the body's
    outcome. Contextvars the layers set (the deadline) are therefore visible inside the body, and a
    timeout cancels the task that runs the body.
    """

    __slots__ = ("_coro", "_ctx", "_entered", "_start")

    def __init__(self, step: Step[Any], ctx: CallContext) -> None:
        self._ctx = ctx
        self._entered = False
        self._start = _clock.monotonic()
        coro = step(self._body, ctx)
        # A layer that hands on `nxt`'s awaitable unawaited (as the innermost `nxt` returns
        # ``call()``) gives the body's awaitable itself: drive it through a coroutine.
        self._coro: Coroutine[Any, Any, Any] = (
            coro if inspect.iscoroutine(coro) else _awaiting(coro)
        )

    def _body(self) -> Awaitable[Any]:
        if self._entered:
            raise RuntimeError("the body of an async with block runs once; it cannot be repeated")
        self._entered = True
        return _Body()

    async def _drive(self, exc: BaseException | None) -> bool:
        """Advance the pipeline; True when it finished, False when it reached the body."""
        coro = self._coro
        value: Any = None
        while True:
            try:
                yielded = coro.send(value) if exc is None else coro.throw(exc)
            except StopIteration:
                return True
            if yielded is _BODY:
                return False
            try:
                value, exc = await _Forward(yielded), None
            except BaseException as err:  # cancellation while waiting goes into the pipeline
                value, exc = None, err

    async def enter(self) -> None:
        """Run the layers' entry code (may raise a rejection)."""
        try:
            finished = await self._drive(None)
        except Exception as exc:
            self._report(exc)
            raise
        if finished:
            raise RuntimeError("the pipeline finished without running the async with block")

    async def exit(self, exc: BaseException | None) -> bool:
        """Resume the layers with the body's outcome; True suppresses the body's exception."""
        try:
            finished = await self._drive(exc)
        except BaseException as err:
            if isinstance(err, Exception):
                self._report(err)
            if err is exc:
                return False
            raise
        if not finished:
            raise RuntimeError("the pipeline tried to run the async with block twice")
        self._report(None)
        return exc is not None

    def _report(self, exc: Exception | None) -> None:
        if self._ctx.emitter.handlers:
            _finished(self._ctx, self._start, exc)


_blocks: ContextVar[tuple[Block, ...]] = ContextVar("resilience_blocks", default=())


async def enter_block(step: Step[Any], ctx: CallContext) -> None:
    """Start an ``async with`` run of `step` in the current task."""
    block = Block(step, ctx)
    await block.enter()
    _blocks.set((*_blocks.get(), block))


async def exit_block(exc: BaseException | None) -> bool:
    """Finish the innermost ``async with`` run started in the current task."""
    stack = _blocks.get()
    if not stack:
        raise RuntimeError("async with exit without a matching enter")
    _blocks.set(stack[:-1])
    return await stack[-1].exit(exc)


class Mechanism:
    """Base of our mechanisms: a `Layer` usable alone as a decorator and as ``async with``.

    Used alone, a mechanism emits through its own `Emitter`, named after the decorated function's
    qualified name (or `standalone_name()` for ``async with``).
    """

    mechanism: str = ""

    def __init__(self) -> None:
        self._policy = ""
        self._emitters: tuple[Emitter, ...] = ()
        self._block_emitter: Emitter | None = None

    def bind(self, policy: str, emitter: Emitter) -> None:
        """Learn a policy's name and emitter; a mechanism shared by policies reports to each."""
        if not self._policy:
            self._policy = policy
        if emitter not in self._emitters:
            self._emitters = (*self._emitters, emitter)

    def describe(self) -> str:
        """Every setting as one line of text."""
        raise NotImplementedError

    def run(self, nxt: Step[T], call: Call[T], ctx: CallContext) -> Coroutine[Any, Any, T]:
        """Run one call through this mechanism (see `Layer`)."""
        raise NotImplementedError

    def standalone_name(self, fn: Callable[..., Any] | None = None) -> str:
        """The name events carry when this mechanism is used alone: the decorated function's
        qualified name, or the mechanism's name for ``async with``."""
        return self.mechanism if fn is None else _qualname(fn)

    def standalone_info(self, name: str) -> PolicyInfo:
        """The `PolicyInfo` of this mechanism used alone under `name`."""
        return PolicyInfo(name=name, mechanisms=(self.mechanism,))

    def _standalone_emitter(self, name: str) -> Emitter:
        emitter = Emitter(self.standalone_info(name))
        self.bind(name, emitter)
        return emitter

    def __call__(self, fn: FnT) -> FnT:
        """Decorate a coroutine function (or a sync function, where the mechanism allows it)."""
        name = self.standalone_name(fn)
        emitter = self._standalone_emitter(name)
        wrapped = decorate(fn, name, emitter, compose([self]), lambda: compose_sync([self]))
        return cast(FnT, wrapped)

    async def __aenter__(self) -> None:
        emitter = self._block_emitter
        if emitter is None:
            emitter = self._block_emitter = self._standalone_emitter(self.standalone_name())
        await enter_block(compose([self]), CallContext(emitter.info.name, emitter, once=True))

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> bool:
        return await exit_block(exc)


def _qualname(fn: Callable[..., Any]) -> str:
    return str(getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn))
