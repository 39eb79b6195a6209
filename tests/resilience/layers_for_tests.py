"""Test layers shared by the mechanism-detail tests."""

from __future__ import annotations

from typing import Any

from resilience.layers import Call, CallContext, Emitter, Step, SyncStep


class AttemptLog:
    """A custom layer (innermost, in `chaos=`) that reads its context."""

    mechanism = "attempt_log"

    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []

    def bind(self, policy: str, emitter: Emitter) -> None:
        return None

    def describe(self) -> str:
        return "AttemptLog()"

    async def run(self, nxt: Step[Any], call: Call[Any], ctx: CallContext) -> Any:
        self.seen.append((ctx.policy, ctx.attempt))
        return await nxt(call, ctx)

    def run_sync(self, nxt: SyncStep[Any], call: Any, ctx: CallContext) -> Any:
        self.seen.append((ctx.policy, ctx.attempt))
        return nxt(call, ctx)
