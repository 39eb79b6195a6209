"""A logging hook: one structured line per retry, breaker transition, rejection and storage error.

With structlog installed (and ``structlog=None``, the default) lines go through
``structlog.get_logger("resilience")`` as key/value events; otherwise through the stdlib logger
``resilience.events`` as ``event=retry_scheduled policy=ledger attempt=1 ...`` with the same fields
in ``record.resilience`` (a dict) for JSON formatters. Successful calls are never logged.

Levels: a retry, a rejection and a storage error are WARNING; a breaker opening (open,
forced_open) is ERROR and any other transition INFO.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any

from exporters._watch import OPEN_STATES
from resilience import PolicyInfo, Rejected, RetryScheduled, StateChanged
from resilience.events import Event, EventHandler, StorageError

Fields = dict[str, str | int | float | None]


def _error(exc: BaseException | None) -> str | None:
    if exc is None:
        return None
    text = str(exc)
    text = text if len(text) <= 200 else text[:199] + "…"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def describe(event: Event) -> tuple[int, str, Fields] | None:
    """(level, event name, fields) of the line `event` deserves, or None for no line."""
    if isinstance(event, RetryScheduled):
        return (
            logging.WARNING,
            "retry_scheduled",
            {
                "policy": event.policy,
                "attempt": event.attempt,
                "wait": round(event.wait, 6),
                "error": _error(event.exception),
            },
        )
    if isinstance(event, StateChanged):
        level = logging.ERROR if event.to_state in OPEN_STATES else logging.INFO
        return (
            level,
            "circuit_breaker_state_changed",
            {"policy": event.policy, "from_state": event.from_state, "to_state": event.to_state},
        )
    if isinstance(event, Rejected):
        return (
            logging.WARNING,
            "call_rejected",
            {
                "policy": event.policy,
                "mechanism": event.mechanism,
                "retry_after": event.retry_after,
            },
        )
    if isinstance(event, StorageError):
        return (
            logging.WARNING,
            "storage_error",
            {
                "policy": event.policy,
                "backend": event.backend,
                "operation": event.operation,
                "error": event.error,
            },
        )
    return None


def _format(name: str, fields: Fields) -> str:
    parts = [f"event={name}"]
    for key, value in fields.items():
        if value is None:
            continue
        text = str(value)
        parts.append(
            f"{key}={text!r}" if (" " in text or "=" in text or not text) else f"{key}={text}"
        )
    return " ".join(parts)


class LoggingHook:
    """A hook writing one structured log line per retry, transition, rejection, storage error.

    `logger` (stdlib) defaults to ``logging.getLogger("resilience.events")``. `structlog`: True
    forces structlog, False forces stdlib logging, None (default) uses structlog when installed.
    Added in 0.1.0.
    """

    def __init__(
        self, logger: logging.Logger | None = None, *, structlog: bool | None = None
    ) -> None:
        if structlog is None:
            structlog = logger is None and importlib.util.find_spec("structlog") is not None
        self.structlog = structlog
        self.logger = logger or logging.getLogger("resilience.events")

    def bind(self, policy: PolicyInfo) -> EventHandler | None:
        """The same handler for every policy (the event carries the policy name)."""
        return self._handle_structlog if self.structlog else self._handle_stdlib

    def _handle_stdlib(self, event: Event) -> None:
        line = describe(event)
        if line is None:
            return
        level, name, fields = line
        if self.logger.isEnabledFor(level):
            self.logger.log(
                level, "%s", _format(name, fields), extra={"resilience": {"event": name, **fields}}
            )

    def _handle_structlog(self, event: Event) -> None:
        line = describe(event)
        if line is None:
            return
        import structlog  # only when chosen; imported modules are cached after the first line

        level, name, fields = line
        log: Any = structlog.get_logger("resilience")
        log.log(level, name, **{k: v for k, v in fields.items() if v is not None})

    def __repr__(self) -> str:
        return f"LoggingHook(structlog={self.structlog})"
