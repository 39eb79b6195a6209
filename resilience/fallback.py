"""`Fallback`: serve a substitute value when the call fails (or returns an unacceptable result)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from resilience._core import Call, CallContext, Mechanism, Step, SyncStep
from resilience._errors import ConfigError
from resilience._events import FallbackUsed
from resilience._matching import ExceptionFilter, ExceptionSpec

T = TypeVar("T")


class Fallback(Mechanism):
    """On a failure matching `on` (or a result matching `if_result`), return
    ``handler(failure, *args, **kwargs)`` instead: `failure` is the exception (or the rejected
    result) and `args`/`kwargs` are the call's own arguments. `handler` may be sync or async.

    `on` defaults to every `Exception`, so the fallback also serves our own rejections
    (`CircuitOpenError`, `BulkheadFullError`, `RateLimitedError`) and timeouts. Cancellation is
    never caught. In a `Policy` it is the outermost layer, so it sees the final outcome; an
    ``async with`` block cannot be substituted, so there the fallback lets the error through.
    Added in 0.1.0.
    """

    mechanism = "fallback"

    def __init__(
        self,
        handler: Callable[..., Any],
        *,
        on: ExceptionSpec = (Exception,),
        if_result: Callable[[Any], bool] | None = None,
    ) -> None:
        super().__init__()
        if not callable(handler):
            raise ConfigError(f"Fallback.handler: expected a callable, got {handler!r}")
        self.handler = handler
        self._filter = ExceptionFilter(
            on, "Fallback.on", base=Exception, expected="Exception subclasses"
        )
        self.on = self._filter.spec
        self.if_result = if_result

    def describe(self) -> str:
        """Every setting as one line of text."""
        name = getattr(self.handler, "__qualname__", repr(self.handler))
        return (
            f"Fallback(handler={name}, on={self._filter.describe()}, "
            f"if_result={'set' if self.if_result else 'None'})"
        )

    def _used(self, ctx: CallContext, exc: Exception | None) -> None:
        ctx.fallback_used = True
        if ctx.emitter.handlers:
            ctx.emitter.emit(FallbackUsed(ctx.policy, exc))

    async def run(self, nxt: Step[T], call: Call[T], ctx: CallContext) -> T:
        """Run a call; on a matching failure, run the handler instead."""
        if ctx.once:
            return await nxt(call, ctx)
        try:
            result = await nxt(call, ctx)
        except Exception as exc:
            if not self._filter(exc):
                raise
            self._used(ctx, exc)
            value = self.handler(exc, *ctx.args, **ctx.kwargs)
            if inspect.isawaitable(value):
                value = await value
            return value  # type: ignore[no-any-return]
        check = self.if_result
        if check is not None and check(result):
            self._used(ctx, None)
            value = self.handler(result, *ctx.args, **ctx.kwargs)
            if inspect.isawaitable(value):
                value = await value
            return value  # type: ignore[no-any-return]
        return result

    def run_sync(self, nxt: SyncStep[T], call: Callable[[], T], ctx: CallContext) -> T:
        """Run a sync call; on a matching failure, run the (sync) handler instead."""
        try:
            result = nxt(call, ctx)
        except Exception as exc:
            if not self._filter(exc):
                raise
            self._used(ctx, exc)
            return self.handler(exc, *ctx.args, **ctx.kwargs)  # type: ignore[no-any-return]
        check = self.if_result
        if check is not None and check(result):
            self._used(ctx, None)
            return self.handler(result, *ctx.args, **ctx.kwargs)  # type: ignore[no-any-return]
        return result
