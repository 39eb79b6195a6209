"""RateLimiter: token-bucket accuracy in virtual time, rejections, waiting, cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resilience import ConfigError, RateLimitedError
from resilience.events import Emitter, Event, PolicyInfo, Rejected
from resilience.ratelimiter import RateLimiter


async def test_burst_is_admitted_at_once_then_refused_with_retry_after() -> None:
    limiter = RateLimiter(rate_per_second=10, burst=5)
    for _ in range(5):
        await limiter.acquire()
    with pytest.raises(RateLimitedError) as caught:
        await limiter.acquire()
    assert caught.value.retry_after == pytest.approx(0.1)
    assert caught.value.mechanism == "rate_limiter"
    await asyncio.sleep(0.1)
    await limiter.acquire()  # one token refilled after 1/rate seconds


async def test_default_burst_is_one_second_of_calls() -> None:
    assert RateLimiter(rate_per_second=50).burst == 50
    assert RateLimiter(rate_per_second=0.5).burst == 1


async def test_sustained_rate_in_virtual_time_is_burst_plus_rate_times_t() -> None:
    rate, burst, seconds = 50.0, 10, 20.0
    limiter = RateLimiter(rate_per_second=rate, burst=burst, max_wait=seconds * 2)
    loop = asyncio.get_running_loop()
    start = loop.time()
    admitted: list[float] = []

    async def caller() -> None:
        await limiter.acquire()
        admitted.append(loop.time() - start)

    # Far more callers than the limiter can admit in `seconds`: it must pace them.
    await asyncio.gather(*(caller() for _ in range(int(rate * seconds * 1.5))))
    in_window = sum(1 for t in admitted if t <= seconds + 1e-9)
    assert in_window == pytest.approx(burst + rate * seconds, abs=1)
    # The first `burst` calls go at once, then one every 1/rate seconds, in arrival order.
    assert admitted[:burst] == [0.0] * burst
    assert admitted[burst + 99] == pytest.approx(100 / rate)
    assert admitted == sorted(admitted)


async def test_waiting_beyond_max_wait_is_refused() -> None:
    limiter = RateLimiter(rate_per_second=2, burst=1, max_wait=0.6)
    await limiter.acquire()
    waiter = asyncio.ensure_future(limiter.acquire())  # token in 0.5s: within max_wait
    await asyncio.sleep(0)
    with pytest.raises(RateLimitedError) as caught:  # next token in 1.0s > 0.6s
        await limiter.acquire()
    assert caught.value.retry_after == pytest.approx(1.0)
    await waiter
    assert asyncio.get_running_loop().time() == pytest.approx(0.5)


async def test_cancelled_waiter_gives_its_token_back() -> None:
    loop = asyncio.get_running_loop()
    limiter = RateLimiter(rate_per_second=1, burst=1, max_wait=10)
    await limiter.acquire()
    waiter = asyncio.ensure_future(limiter.acquire())
    await asyncio.sleep(0.2)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    start = loop.time()
    await limiter.acquire()  # would wait until t=2.0 if the cancelled reservation were kept
    assert loop.time() == pytest.approx(1.0)
    assert loop.time() - start == pytest.approx(0.8)


async def test_decorator_and_async_with_take_a_token() -> None:
    limiter = RateLimiter(rate_per_second=1, burst=2)

    @limiter
    async def work(x: int) -> int:
        return x * 2

    assert await work(2) == 4
    async with limiter:
        pass
    with pytest.raises(RateLimitedError):
        await work(3)


class _FakeTime:
    """A manual clock for the sync path (threads have no virtual loop)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_sync_functions_share_the_bucket_across_threads() -> None:
    clock = _FakeTime()
    limiter = RateLimiter(rate_per_second=10, burst=20, clock=clock)
    passed: list[int] = []

    @limiter
    def call(i: int) -> None:
        passed.append(i)

    def worker(start: int) -> None:
        for i in range(start, start + 10):
            with contextlib.suppress(RateLimitedError):
                call(i)

    threads = [threading.Thread(target=worker, args=(n * 10,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(passed) == 20  # 40 calls at one instant, burst 20: exactly 20 pass
    clock.now = 1.0
    worker(100)
    assert len(passed) == 30  # one second later, 10 more tokens


def test_a_sync_call_that_may_wait_is_refused_inside_a_running_loop() -> None:
    limiter = RateLimiter(rate_per_second=10, max_wait=1)

    @limiter
    def call() -> str:
        return "ok"

    assert call() == "ok"

    async def from_async_code() -> None:
        call()

    with pytest.raises(RuntimeError, match=r"block the running event loop.*async def"):
        asyncio.run(from_async_code())


async def test_reconfigure_keeps_the_tokens_already_spent() -> None:
    # Raising the rate from 10/s to 11/s must not refill the bucket: 21 calls in 0 s would pass.
    limiter = RateLimiter(rate_per_second=10)
    passed = 0

    @limiter
    async def call() -> None:
        nonlocal passed
        passed += 1

    for _ in range(10):
        await call()
    limiter.reconfigure(rate_per_second=11, burst=11)
    for _ in range(11):
        with contextlib.suppress(RateLimitedError):
            await call()
    assert passed == 10 and limiter.available == pytest.approx(0.0)
    await asyncio.sleep(1)
    assert limiter.available == pytest.approx(11.0)  # refills at the new rate, up to the new burst
    limiter.reconfigure(burst=3)
    assert limiter.available == pytest.approx(3.0)  # a lower burst caps the tokens held
    with pytest.raises(ConfigError):
        limiter.reconfigure(rate_per_second=0)
    assert (limiter.rate_per_second, limiter.burst) == (11.0, 3)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"rate_per_second": 0}, "rate_per_second"),
        ({"rate_per_second": float("inf")}, "rate_per_second"),
        ({"rate_per_second": 1, "burst": 0}, "burst"),
        ({"rate_per_second": 1, "burst": 1.5}, "burst"),
        ({"rate_per_second": 1, "max_wait": -1}, "max_wait"),
    ],
)
def test_invalid_settings_name_the_field(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        RateLimiter(**kwargs)  # type: ignore[arg-type]


async def test_rejection_is_reported_to_hooks() -> None:
    seen: list[Event] = []
    limiter = RateLimiter(rate_per_second=4, burst=1)
    limiter.bind("llm", Emitter(PolicyInfo(name="llm"), hooks=[seen.append]))
    await limiter.acquire()
    with pytest.raises(RateLimitedError) as caught:
        await limiter.acquire()
    assert caught.value.policy == "llm"
    assert [(e.policy, e.mechanism) for e in seen if isinstance(e, Rejected)] == [
        ("llm", "rate_limiter")
    ]
    assert [e.retry_after for e in seen if isinstance(e, Rejected)] == [pytest.approx(0.25)]


async def test_shared_storage_decides_instead_of_the_local_bucket() -> None:
    calls: list[tuple[str, float, int, float]] = []

    class Storage:
        def __init__(self) -> None:
            self.answers = [(True, 0.0), (True, 0.3), (False, 2.0)]

        async def reserve(
            self, key: str, *, rate_per_second: float, burst: int, max_wait: float
        ) -> tuple[bool, float]:
            calls.append((key, rate_per_second, burst, max_wait))
            return self.answers.pop(0)

    loop = asyncio.get_running_loop()
    limiter = RateLimiter(rate_per_second=5, burst=3, max_wait=1, storage=Storage(), key="llm")
    await limiter.acquire()
    await limiter.acquire()
    assert loop.time() == pytest.approx(0.3)  # the storage asked us to wait 0.3s
    with pytest.raises(RateLimitedError) as caught:
        await limiter.acquire()
    assert caught.value.retry_after == 2.0
    assert calls == [("llm", 5.0, 3, 1.0)] * 3


class _FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@settings(max_examples=150, deadline=None)
@given(
    rate=st.integers(min_value=1, max_value=20),
    burst=st.integers(min_value=1, max_value=10),
    gaps=st.lists(st.integers(min_value=0, max_value=400), min_size=1, max_size=80),
)
def test_admits_exactly_what_a_token_bucket_allows(rate: int, burst: int, gaps: list[int]) -> None:
    """A call at t is admitted iff, for every earlier admission u, admitted[u, t) + 1 ≤
    burst + rate·(t − u) (and burst ≥ 1): the token bucket's definition, not its code."""
    clock = _FakeClock()
    limiter = RateLimiter(rate_per_second=rate, burst=burst, clock=clock)
    admitted: list[float] = []
    for gap in gaps:
        clock.now += gap / 1000
        t = clock.now
        margins = [
            burst + rate * (t - u) - sum(1 for a in admitted if a >= u) - 1 for u in admitted
        ]
        allowed = all(m >= 0 for m in margins)
        try:
            wait = limiter.reserve()
        except RateLimitedError as exc:
            got = False
            assert exc.retry_after is not None and exc.retry_after > 0
        else:
            got = True
            assert wait == 0.0
            admitted.append(t)
        if all(abs(m) > 1e-6 for m in margins):  # skip float ties at the exact boundary
            assert got == allowed, (t, admitted, margins)


async def test_in_a_policy_each_attempt_takes_a_token() -> None:
    from resilience.policy import Policy

    seen: list[Event] = []
    policy = Policy(
        "llm", rate_limiter=RateLimiter(rate_per_second=1, burst=2), hooks=[seen.append]
    )
    assert "RateLimiter(rate_per_second=1, burst=2, max_wait=0s)" in policy.describe()

    @policy
    async def work() -> str:
        return "ok"

    assert [await work(), await work()] == ["ok", "ok"]
    with pytest.raises(RateLimitedError) as caught:
        await work()
    assert caught.value.policy == "llm"
    rejected = [e for e in seen if isinstance(e, Rejected)]
    assert [(e.policy, e.mechanism) for e in rejected] == [("llm", "rate_limiter")]
    assert rejected[0].retry_after == pytest.approx(1.0)


async def test_a_token_after_the_callers_deadline_is_refused_at_once() -> None:
    from resilience.policy import Policy

    limiter = RateLimiter(rate_per_second=1, burst=1, max_wait=10)
    call = Policy("llm", rate_limiter=limiter, deadline=0.5)(_noop)
    await call()
    loop = asyncio.get_running_loop()
    with pytest.raises(RateLimitedError) as caught:
        await call()  # the next token is 1s away, the deadline 0.5s
    assert caught.value.retry_after == pytest.approx(1.0)
    assert loop.time() == 0.0  # refused without waiting
    assert limiter.available == pytest.approx(0.0)  # and the reservation was given back
    await asyncio.sleep(1.0)
    assert await call() == "ok"


async def _noop() -> str:
    return "ok"
