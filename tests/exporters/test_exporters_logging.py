"""LoggingHook: one structured line per retry, breaker transition and rejection."""

from __future__ import annotations

import logging

import pytest
import structlog
from structlog.testing import capture_logs

from exporters.logging import LoggingHook
from resilience import CircuitOpenError, PolicyInfo, Rejected
from resilience.breaker import CircuitBreaker
from resilience.events import Emitter, StorageError
from resilience.policy import Policy
from resilience.retry import Retry


def make_policy(hook: LoggingHook) -> Policy:
    return Policy(
        "llm",
        retry=Retry(max_attempts=3, wait=0.5),
        circuit_breaker=CircuitBreaker(
            "llm", minimum_calls=3, window_size=3, failure_rate_threshold=0.5, open_duration=30
        ),
        hooks=[hook],
    )


async def run_calls(policy: Policy) -> None:
    @policy
    async def down() -> str:
        raise OSError("upstream said 503")

    @policy
    async def ok() -> str:
        return "ok"

    assert await ok() == "ok"  # success: no line
    with pytest.raises(CircuitOpenError):
        await down()  # attempt 1 fails, retry, attempt 2 fails (window 3/3: opens), retry refused


async def test_stdlib_lines(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.resilience")
    caplog.set_level(logging.INFO, logger="test.resilience")
    await run_calls(make_policy(LoggingHook(logger)))

    lines = [(r.levelno, r.getMessage()) for r in caplog.records]
    fields = [r.__dict__["resilience"] for r in caplog.records]  # set through `extra`
    assert lines == [
        (
            logging.WARNING,
            "event=retry_scheduled policy=llm attempt=1 wait=0.5 "
            "error='OSError: upstream said 503'",
        ),
        (
            logging.ERROR,
            "event=circuit_breaker_state_changed policy=llm from_state=closed to_state=open",
        ),
        (
            logging.WARNING,
            "event=retry_scheduled policy=llm attempt=2 wait=0.5 "
            "error='OSError: upstream said 503'",
        ),
        (
            logging.WARNING,
            "event=call_rejected policy=llm mechanism=circuit_breaker "
            f"retry_after={fields[3]['retry_after']}",
        ),
    ]
    assert fields[1] == {
        "event": "circuit_breaker_state_changed",
        "policy": "llm",
        "from_state": "closed",
        "to_state": "open",
    }
    assert 0 < fields[3]["retry_after"] <= 30


async def test_structlog_lines() -> None:
    with capture_logs() as logs:
        await run_calls(make_policy(LoggingHook(structlog=True)))
    assert [(e["event"], e["log_level"]) for e in logs] == [
        ("retry_scheduled", "warning"),
        ("circuit_breaker_state_changed", "error"),
        ("retry_scheduled", "warning"),
        ("call_rejected", "warning"),
    ]
    assert logs[0]["policy"] == "llm" and logs[0]["attempt"] == 1
    assert logs[0]["error"] == "OSError: upstream said 503"
    assert logs[1]["to_state"] == "open"
    assert logs[3]["mechanism"] == "circuit_breaker"


def test_structlog_is_the_default_when_installed_and_stdlib_when_a_logger_is_given() -> None:
    assert structlog is not None
    assert LoggingHook().structlog is True
    assert LoggingHook(logging.getLogger("x")).structlog is False


def test_storage_errors_are_logged_and_disabled_levels_cost_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("test.resilience.storage")
    caplog.set_level(logging.WARNING, logger="test.resilience.storage")
    emitter = Emitter(PolicyInfo("quota"), [LoggingHook(logger)])
    emitter.emit(StorageError("quota", "redis", "acquire", "ConnectionError"))
    logger.setLevel(logging.CRITICAL)
    emitter.emit(Rejected("quota", "rate_limiter", 0.25))
    assert [r.getMessage() for r in caplog.records] == [
        "event=storage_error policy=quota backend=redis operation=acquire error=ConnectionError"
    ]
