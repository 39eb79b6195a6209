"""Fallback: what the handler receives, what triggers it, what never does."""

from __future__ import annotations

import asyncio

import pytest

from resilience import (
    CallFinished,
    CircuitBreaker,
    CircuitOpenError,
    ConfigError,
    Fallback,
    FallbackUsed,
    Policy,
    Retry,
)


class Boom(Exception):
    pass


async def test_handler_gets_the_failure_and_the_call_arguments() -> None:
    seen: list[object] = []

    def cached(exc: BaseException, user: str, *, region: str) -> str:
        seen.append((type(exc).__name__, user, region))
        return f"cached {user}"

    @Fallback(cached)
    async def profile(user: str, *, region: str) -> str:
        raise Boom

    assert await profile("ada", region="eu") == "cached ada"
    assert seen == [("Boom", "ada", "eu")]


async def test_async_handler_and_result_predicate() -> None:
    async def default(result: object, key: str) -> str:
        await asyncio.sleep(0)
        return f"default for {key} (got {result})"

    @Fallback(default, if_result=lambda r: r is None)
    async def lookup(key: str) -> str | None:
        return None if key == "missing" else key

    assert await lookup("k") == "k"
    assert await lookup("missing") == "default for missing (got None)"


async def test_fires_on_rejections_and_timeouts_in_a_policy() -> None:
    events: list[object] = []
    breaker = CircuitBreaker("dep", minimum_calls=1, window_size=1)
    policy = Policy(
        "with-fallback",
        circuit_breaker=breaker,
        timeout=1.0,
        fallback=Fallback(lambda exc: type(exc).__name__),
        hooks=[events.append],
    )

    @policy
    async def call() -> str:
        await asyncio.sleep(5)
        return "live"

    assert await call() == "AttemptTimeoutError"
    assert breaker.state == "open"
    assert await call() == "CircuitOpenError"
    used = [e for e in events if isinstance(e, FallbackUsed)]
    assert [type(e.exception).__name__ for e in used] == ["AttemptTimeoutError", "CircuitOpenError"]
    assert [e.outcome for e in events if isinstance(e, CallFinished)] == ["fallback", "fallback"]


async def test_only_matching_exceptions_and_never_cancellation() -> None:
    handler_calls: list[object] = []
    fallback = Fallback(lambda exc, arg: handler_calls.append(exc), on=(ConnectionError,))

    @fallback
    async def failing(exc: BaseException) -> None:
        raise exc

    with pytest.raises(Boom):
        await failing(Boom())
    await failing(ConnectionError())
    assert len(handler_calls) == 1

    @Fallback(lambda exc: "fallback")
    async def slow() -> str:
        await asyncio.sleep(10)
        return "slow"

    task = asyncio.ensure_future(slow())
    await asyncio.sleep(1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_predicate_on() -> None:
    @Fallback(lambda exc, arg: "soft", on=lambda exc: isinstance(exc, CircuitOpenError))
    async def call(exc: Exception) -> str:
        raise exc

    assert await call(CircuitOpenError("open")) == "soft"
    with pytest.raises(Boom):
        await call(Boom())


def test_sync_function() -> None:
    @Fallback(lambda exc, x: x * 10)
    def divide(x: int) -> float:
        return 1 / (x - x)

    assert divide(3) == 30


async def test_async_with_lets_the_error_through() -> None:
    with pytest.raises(Boom):
        async with Fallback(lambda exc: "x"):
            raise Boom


def test_bad_settings_name_the_field() -> None:
    with pytest.raises(ConfigError, match="handler"):
        Fallback("not callable")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="on"):
        Fallback(print, on=("Boom",))  # type: ignore[arg-type]


def test_on_is_read_and_described_as_retry_on_is() -> None:
    def transient(exc: BaseException) -> bool:
        return isinstance(exc, ConnectionError)

    assert Fallback(print, on=ConnectionError).on == (ConnectionError,)
    assert (
        "on=(ConnectionError, TimeoutError)"
        in Fallback(print, on=(ConnectionError, TimeoutError)).describe()
    )
    assert (
        "retry_on=(ConnectionError, TimeoutError)"
        in Retry(retry_on=(ConnectionError, TimeoutError)).describe()
    )
    assert "on=transient," in Fallback(print, on=transient).describe()
    assert "retry_on=transient," in Retry(retry_on=transient).describe()
    # A fallback never stands in for what is not an Exception (cancellation, interrupts).
    with pytest.raises(ConfigError, match=r"Fallback\.on: expected Exception subclasses or a pred"):
        Fallback(print, on=KeyboardInterrupt)
    with pytest.raises(ConfigError, match=r"Retry\.retry_on: expected exception classes or a pred"):
        Retry(retry_on=(ConnectionError, "Boom"))  # type: ignore[arg-type]
