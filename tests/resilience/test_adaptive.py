"""AdaptiveLimiter: the limit follows the backend's knee, by simulation in virtual time, and the
layer keeps the contracts (permits released on cancellation, rejections typed, events, sync)."""

from __future__ import annotations

import asyncio
import random
import statistics

import pytest

from resilience import (
    AIMD,
    AdaptiveLimiter,
    ConfigError,
    Criticality,
    Gradient2,
    LimitExceededError,
    Policy,
    Rejected,
    Timeout,
    Vegas,
    criticality,
)
from resilience.adaptive import LimitAlgorithm
from tests.limiter_sim import simulate

SERVICE = 0.1  # seconds per request at no load; the knee is the number of servers


def algorithms() -> list[tuple[str, LimitAlgorithm]]:
    return [
        ("vegas", Vegas(rng=random.Random(3))),
        ("gradient2", Gradient2()),
        # AIMD is loss-based: its knee is where calls get slower than latency_threshold.
        ("aimd", AIMD(latency_threshold=1.2 * SERVICE)),
    ]


def mean_limit(result: object, start: int, end: int) -> list[float]:
    from tests.limiter_sim import Result

    assert isinstance(result, Result)
    return [statistics.mean(result.limits_between(a, a + 1)) for a in range(start, end)]


@pytest.mark.parametrize(("name", "algorithm"), algorithms(), ids=[a for a, _ in algorithms()])
def test_limit_settles_at_the_halved_knee_and_recovers(
    name: str, algorithm: LimitAlgorithm
) -> None:
    limiter = AdaptiveLimiter(algorithm=algorithm, max_limit=1000)
    # 900 requests/s against 100 servers (90 % busy), then 50 servers from t=30 (1.8× overload),
    # then 100 again from t=60.
    result = simulate(
        limiter, duration=90, rate=900, servers=[(0, 100), (30, 50), (60, 100)], service=SERVICE
    )
    no_load_p99 = 1.1 * SERVICE  # the slowest service time, with no queue
    # Default requests may fill 0.9 of the limit (the rest is critical's reserve): that is the
    # concurrency which reaches the backend, and it settles within ±20 % of the knee (50)
    # within 5 s of the capacity halving, and stays there.
    admitted = [0.9 * m for m in mean_limit(result, 35, 60)]
    assert all(40 <= m <= 60 for m in admitted), [round(m) for m in admitted]
    assert max(w.p99() for w in result.between(35, 60)) <= 2 * no_load_p99
    # Capacity back: within 10 s nothing is refused any more and the limit serves the demand.
    late = result.between(70, 90)
    refused = sum(sum(w.refused.values()) for w in late)
    total = refused + sum(sum(w.admitted.values()) for w in late)
    assert refused / total < 0.03
    assert min(mean_limit(result, 70, 90)) * 0.9 >= 90


@pytest.mark.parametrize("algorithm", ["vegas", "gradient2"])
def test_no_upward_creep_over_a_long_saturated_run(algorithm: str) -> None:
    """Three minutes at 1.8× the capacity of 50 servers: the limit does not drift up (Gradient2's
    reported creep: a queue that raises its own baseline), nor does the latency."""
    algo: LimitAlgorithm = Vegas(rng=random.Random(5)) if algorithm == "vegas" else Gradient2()
    limiter = AdaptiveLimiter(algorithm=algo)
    result = simulate(limiter, duration=180, rate=900, servers=[(0, 50)], service=SERVICE)
    early = statistics.mean(mean_limit(result, 30, 60))
    late = statistics.mean(mean_limit(result, 150, 180))
    assert late <= early * 1.1, (early, late)
    assert 0.8 * 50 <= 0.9 * late <= 1.2 * 50
    assert (
        max(w.p99() for w in result.between(150, 180))
        <= max(w.p99() for w in result.between(30, 60)) * 1.1
    )


def test_vegas_grows_without_queue_and_shrinks_with_one() -> None:
    vegas = Vegas(probe_multiplier=1e9)
    assert vegas.update(100, 0.1, 100, False) == 100  # first sample: learns rtt_noload
    # No queue: grows by beta × log10(limit) = 6 × 2.
    assert vegas.update(100, 0.1, 100, False) == pytest.approx(112)
    # Queue of 100 × (1 − 0.1/0.2) = 50 > beta × log10: shrinks by log10(limit).
    assert vegas.update(100, 0.2, 100, False) == pytest.approx(98)
    # App-limited (fewer than half in flight): unchanged.
    assert vegas.update(100, 0.2, 40, False) == 100
    # A drop shrinks.
    assert vegas.update(100, 0.1, 100, True) == pytest.approx(98)


def test_aimd_backs_off_on_drops_and_slow_calls() -> None:
    aimd = AIMD(backoff_ratio=0.5, latency_threshold=1.0)
    assert aimd.update(40, 0.1, 30, False) == 41
    assert aimd.update(40, 0.1, 10, False) == 40
    assert aimd.update(40, 0.1, 30, True) == 20
    assert aimd.update(40, 2.0, 30, False) == 20


def test_gradient2_long_rtt_does_not_rise_while_saturated() -> None:
    g = Gradient2(smoothing=1.0)
    g.update(100, 0.1, 100, False)
    for _ in range(200):
        g.update(100, 0.3, 100, False, True)
    assert g.long_rtt == pytest.approx(0.1)
    # The gradient sees the queue: the limit halves (the floor of the gradient).
    assert g.update(100, 0.3, 100, False, True) == pytest.approx(50)


def test_limit_is_bounded_by_max_limit_and_resize_clamps() -> None:
    limiter = AdaptiveLimiter(algorithm=AIMD(), initial_limit=10, max_limit=12, sample_window=1)
    for _ in range(10):
        assert limiter.try_acquire(Criticality.CRITICAL)
        limiter.release(0.01)
        limiter._in_flight = 0
    for _ in range(20):
        limiter.try_acquire(Criticality.CRITICAL)
    while limiter.in_flight:
        limiter.release(0.01)
    assert limiter.limit == 12
    limiter.resize(5)
    assert limiter.limit == 5 and limiter.max_limit == 5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"algorithm": "reno"}, "AdaptiveLimiter.algorithm: expected one of vegas"),
        ({"max_limit": 0}, "AdaptiveLimiter.max_limit: expected an integer >= 1"),
        ({"min_limit": 5, "max_limit": 2}, "min_limit (5) must not exceed max_limit (2)"),
        ({"sample_window": 0}, "sample_window: expected an integer >= 1"),
    ],
)
def test_bad_settings_name_the_field(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        AdaptiveLimiter(**kwargs)  # type: ignore[arg-type]


def test_algorithm_parameters_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"Gradient2.tolerance: expected a number >= 1"):
        Gradient2(tolerance=0.5)
    with pytest.raises(ConfigError, match=r"AIMD.backoff_ratio"):
        AIMD(backoff_ratio=0.2)
    with pytest.raises(ConfigError, match=r"Vegas.beta"):
        Vegas(alpha=4, beta=2)


async def test_in_a_policy_refuses_past_the_limit_with_an_event_and_releases_on_cancel() -> None:
    limiter = AdaptiveLimiter(initial_limit=4, max_limit=4)
    events: list[object] = []
    policy = Policy(
        "limited", adaptive_limiter=limiter, timeout=Timeout(5.0), hooks=[events.append]
    )
    assert "AdaptiveLimiter(Vegas(" in policy.describe()
    assert policy.info.adaptive_limit is not None and policy.info.adaptive_limit() == 4
    gate = asyncio.Event()

    @policy
    async def work() -> str:
        await gate.wait()
        return "ok"

    with criticality("critical"):
        tasks = [asyncio.create_task(work()) for _ in range(4)]
        await asyncio.sleep(0)
        assert limiter.in_flight == 4
        with pytest.raises(LimitExceededError) as refused:
            await work()
    assert refused.value.retry_after == 1.0 and refused.value.criticality == "critical"
    assert [e for e in events if isinstance(e, Rejected)] == [
        Rejected("limited", "adaptive_limiter", 1.0)
    ]
    tasks[0].cancel()
    await asyncio.sleep(0)
    assert limiter.in_flight == 3
    gate.set()
    assert await asyncio.gather(*tasks[1:]) == ["ok"] * 3
    assert limiter.in_flight == 0


async def test_timeouts_are_drops_other_errors_give_no_sample() -> None:
    limiter = AdaptiveLimiter(algorithm=AIMD(), initial_limit=10, max_limit=100, sample_window=1)
    policy = Policy("drops", adaptive_limiter=limiter, timeout=0.5)

    @policy
    async def slow() -> None:
        await asyncio.sleep(1)

    @policy
    async def broken() -> None:
        raise ValueError("bad request")

    with pytest.raises(ValueError):
        await broken()
    assert limiter.estimated_limit == 10  # no sample
    with pytest.raises(TimeoutError):
        await slow()
    assert limiter.estimated_limit == pytest.approx(9)  # 10 × 0.9


def test_sync_calls_share_the_limit() -> None:
    limiter = AdaptiveLimiter(algorithm=AIMD(), initial_limit=2, max_limit=2, sample_window=1)

    @limiter
    def inner() -> int:
        with criticality(Criticality.CRITICAL), pytest.raises(LimitExceededError):
            outer_again()
        return limiter.in_flight

    @limiter
    def outer() -> int:
        return inner()

    @limiter
    def outer_again() -> int:
        return 0

    with criticality(Criticality.CRITICAL):
        assert outer() == 2
    assert limiter.in_flight == 0


class Backend:
    """`servers` workers behind a FIFO queue, each request 100 ms of virtual time."""

    def __init__(self, servers: int) -> None:
        self.capacity = servers
        self.free = servers
        self.waiters: list[asyncio.Future[None]] = []

    def resize(self, servers: int) -> None:
        self.free += servers - self.capacity  # may go below 0: running requests finish first
        self.capacity = servers
        self._wake()

    def _wake(self) -> None:
        while self.free > 0 and self.waiters:
            fut = self.waiters.pop(0)
            if not fut.done():
                self.free -= 1
                fut.set_result(None)

    async def serve(self) -> None:
        if self.free > 0 and not self.waiters:
            self.free -= 1
        else:
            fut = asyncio.get_running_loop().create_future()
            self.waiters.append(fut)
            await fut
        try:
            await asyncio.sleep(SERVICE)
        finally:
            self.free += 1
            self._wake()


async def test_through_a_policy_on_the_event_loop_the_limit_follows_the_knee() -> None:
    """The same property as the simulation, with the layer itself on virtual time: tasks arrive
    at 1 000/s against 100 workers (capacity 1 000/s), then 50 workers (2× overload)."""
    backend = Backend(100)
    limiter = AdaptiveLimiter(algorithm=Gradient2(), max_limit=500)
    policy = Policy("backend", adaptive_limiter=limiter)
    call = policy(backend.serve)
    loop = asyncio.get_running_loop()
    refused = 0
    limits: list[tuple[float, int]] = []
    tasks: set[asyncio.Task[None]] = set()

    async def one() -> None:
        nonlocal refused
        try:
            await call()
        except LimitExceededError:
            refused += 1

    start = loop.time()
    rng = random.Random(7)
    while loop.time() - start < 20:
        now = loop.time() - start
        if now >= 8 and backend.capacity == 100:
            backend.resize(50)
        task = asyncio.create_task(one())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        limits.append((now, limiter.limit))
        await asyncio.sleep(rng.expovariate(1000))
    await asyncio.gather(*tasks)
    # 1 s means of the concurrency admitted to default requests (0.9 × limit), from 5 s after
    # the change: within ±20 % of the new knee (50).
    per_second = [
        statistics.mean([0.9 * m for t, m in limits if s <= t < s + 1]) for s in range(20)
    ]
    assert all(40 <= m <= 60 for m in per_second[13:]), [round(m) for m in per_second]
    assert refused > 0 and limiter.in_flight == 0


async def test_random_cancellation_never_leaks_a_permit() -> None:
    limiter = AdaptiveLimiter(initial_limit=8, max_limit=8)
    rng = random.Random(11)

    @limiter
    async def work() -> None:
        await asyncio.sleep(rng.uniform(0, 0.2))

    with criticality(Criticality.CRITICAL):
        for _ in range(20):
            tasks = [asyncio.create_task(work()) for _ in range(12)]
            await asyncio.sleep(rng.uniform(0, 0.1))
            for task in rng.sample(tasks, 6):
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            assert limiter.in_flight == 0
