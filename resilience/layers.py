"""The public extension surface for mechanisms of your own: the layer protocol and what it uses.

A *layer* is one mechanism of a policy's pipeline. Anything implementing `Layer` fits a slot of
`Policy` (or its ``chaos=`` list)::

    class CountCalls:
        mechanism = "count_calls"

        def __init__(self) -> None:
            self.calls = 0

        def bind(self, policy: str, emitter: Emitter) -> None: ...

        def describe(self) -> str:
            return "CountCalls()"

        async def run(self, nxt: Step[T], call: Call[T], ctx: CallContext) -> T:
            self.calls += 1
            return await nxt(call, ctx)

``run(nxt, call, ctx)`` runs one call: ``await nxt(call, ctx)`` runs the inner layers and finally
the user's function. A layer that also has ``run_sync`` (`SyncLayer`) lets a policy decorate sync
functions. The contracts every layer keeps (cancellation propagates and releases what the layer
holds; events go to ``ctx.emitter`` and are built only when ``ctx.emitter.handlers`` is non-empty;
``ctx.once`` means the call cannot be repeated) are in the `Layer` docs below.

`ORDER` is the pipeline's slot order, outermost first; time comes from `monotonic` (the running
loop's clock, virtual under `resilience.testing.VirtualTimeLoop`) and sleeping from a `Sleeper`
(default `sleep`); `remaining_time()` is what is left of the caller's total deadline. Events and
hooks are in `resilience.events`. Added in 0.1.0.
"""

from __future__ import annotations

from resilience._clock import Clock, Sleeper, monotonic, sleep
from resilience._core import (
    Call,
    CallContext,
    Layer,
    Mechanism,
    Step,
    SyncLayer,
    SyncStep,
    compose,
    compose_sync,
    remaining_time,
)
from resilience._events import Emitter
from resilience.policy import ORDER

__all__ = [
    "ORDER",
    "Call",
    "CallContext",
    "Clock",
    "Emitter",
    "Layer",
    "Mechanism",
    "Sleeper",
    "Step",
    "SyncLayer",
    "SyncStep",
    "compose",
    "compose_sync",
    "monotonic",
    "remaining_time",
    "sleep",
]
