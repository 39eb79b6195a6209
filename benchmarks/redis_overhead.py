"""What sharing a circuit breaker through Redis costs a successful call, beside pybreaker's storage.

Run: ``.venv/bin/python benchmarks/redis_overhead.py`` (starts its own redis-server on a free
loopback port; ``--url redis://...`` uses yours; env N calls per round, ROUNDS, RATE_SECONDS).

Two tables:

1. Per-call time of a successful call (µs, median of ROUNDS interleaved rounds of N calls) through
   a `CircuitBreaker` alone in memory, the same breaker with `RedisStorage` (default
   ``sync_interval=1.0``), and pybreaker with its `CircuitRedisStorage` (sync redis-py); the
   "overhead" column subtracts a bare ``await``, the ratio compares with our in-memory breaker.
2. Redis round trips (commands sent by clients, seen with MONITOR; the commands a Lua script runs
   inside Redis are not round trips and are left out) per 1,000 successful calls at about 1,000
   calls/s for RATE_SECONDS seconds: the meaningful row, where the background sync's one round
   trip per `sync_interval` shows. The tight-loop row is only a check that the call path itself
   sends nothing: its loop never yields to the event loop, so the sync never runs in it and its
   0 is not what a service would see.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator

import pybreaker
import redis

from resilience.breaker import CircuitBreaker
from resilience.storage.redis import RedisStorage

N = int(os.environ.get("N", "20000"))
ROUNDS = int(os.environ.get("ROUNDS", "7"))
RATE_SECONDS = float(os.environ.get("RATE_SECONDS", "3"))

Body = Callable[[], Awaitable[object]]


async def f() -> int:
    return 1


@contextlib.contextmanager
def redis_server(url: str | None) -> Iterator[str]:
    """`url` as is, or a throw-away redis-server on a free loopback port."""
    if url is not None:
        yield url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not installed (apt-get install redis-server), or pass --url")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(port=port)
        for _ in range(100):
            with contextlib.suppress(redis.ConnectionError):
                if client.ping():
                    break
            time.sleep(0.05)
        client.close()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait()


class CommandCounter:
    """Counts the commands clients send to Redis (MONITOR), not those Lua scripts run inside it.

    `mark()` returns the count so far: it sends a marker command and waits for MONITOR to show it,
    so every command sent before the call is included.
    """

    def __init__(self, url: str) -> None:
        self._monitor_client = redis.Redis.from_url(url)
        self._side = redis.Redis.from_url(url)
        self.count = 0
        self._marks: dict[str, int] = {}
        self._seen: dict[str, threading.Event] = {}
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        ready.wait(5)

    def _run(self, ready: threading.Event) -> None:
        with self._monitor_client.monitor() as monitor:  # type: ignore[no-untyped-call]
            ready.set()
            for entry in monitor.listen():
                command = entry["command"]
                if command.startswith("ECHO bench-mark-"):
                    token = command.split()[1]
                    self._marks[token] = self.count
                    self._seen[token].set()
                    if token.endswith("-stop"):
                        return
                elif entry["client_type"] != "lua":
                    self.count += 1

    def mark(self, stop: bool = False) -> int:
        token = f"bench-mark-{uuid.uuid4().hex}" + ("-stop" if stop else "")
        self._seen[token] = threading.Event()
        self._side.echo(token)
        if not self._seen[token].wait(10):
            raise RuntimeError("MONITOR did not show the marker within 10 s")
        return self._marks[token]

    def close(self) -> None:
        self.mark(stop=True)
        self._thread.join(5)
        self._side.close()
        self._monitor_client.close()


async def per_call(body: Body, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        await body()
    return (time.perf_counter() - start) / n * 1e6


def pybreaker_redis(url: str) -> Body:
    storage = pybreaker.CircuitRedisStorage(
        pybreaker.STATE_CLOSED, redis.Redis.from_url(url), namespace="bench-pybreaker"
    )
    breaker = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=60, state_storage=storage)

    async def body() -> int:
        with breaker.calling():
            return await f()

    return body


async def timing_table(url: str) -> list[tuple[str, float]]:
    storage = RedisStorage(url, namespace="bench", sync_interval=1.0)
    cases: dict[str, Body] = {
        "bare await": f,
        "CircuitBreaker, in memory": CircuitBreaker("bench-memory")(f),
        "CircuitBreaker + RedisStorage": CircuitBreaker("bench-redis", storage=storage)(f),
        "pybreaker + CircuitRedisStorage": pybreaker_redis(url),
    }
    small = {"pybreaker + CircuitRedisStorage": max(1, N // 20)}  # a round trip per call: fewer
    for name, body in cases.items():
        await per_call(body, small.get(name, N) // 10)  # warm-up
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(ROUNDS):
        for name, body in cases.items():
            samples[name].append(await per_call(body, small.get(name, N)))
    await storage.aclose()
    return [(name, statistics.median(values)) for name, values in samples.items()]


async def round_trips(url: str) -> list[tuple[str, int, float]]:
    counter = CommandCounter(url)
    rows: list[tuple[str, int, int]] = []
    try:
        # Tight loop: N successful calls as fast as they go (storage and connection set up first).
        storage = RedisStorage(url, namespace="bench-tight", sync_interval=1.0)
        guarded = CircuitBreaker("tight", storage=storage)(f)
        before = counter.mark()
        for _ in range(N):
            await guarded()
        # The loop never yields (a successful call awaits nothing that suspends): the sync task
        # never runs, so this row counts the call path alone, not what a service would send.
        rows.append(
            (
                f"RedisStorage, tight loop ({N:,} calls; never yields, so no sync ran)",
                N,
                counter.mark() - before,
            )
        )
        await storage.aclose()
        # About 1,000 calls/s for RATE_SECONDS: the background sync runs once per second.
        storage = RedisStorage(url, namespace="bench-rate", sync_interval=1.0)
        guarded = CircuitBreaker("rate", storage=storage)(f)
        loop = asyncio.get_running_loop()
        before = counter.mark()
        calls = 0
        start = loop.time()
        while loop.time() - start < RATE_SECONDS:
            for _ in range(10):
                await guarded()
            calls += 10
            await asyncio.sleep(0.01)
        sent = counter.mark() - before
        rows.append(
            (f"RedisStorage, ~1,000 calls/s for {RATE_SECONDS:g} s (sync included)", calls, sent)
        )
        await storage.aclose()
        # pybreaker's CircuitRedisStorage, for comparison.
        body = pybreaker_redis(url)
        await body()
        before = counter.mark()
        for _ in range(1000):
            await body()
        rows.append(("pybreaker CircuitRedisStorage (1,000 calls)", 1000, counter.mark() - before))
    finally:
        counter.close()
    return [(name, calls, sent / calls * 1000) for name, calls, sent in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="use this Redis instead of starting one")
    args = parser.parse_args()
    with redis_server(args.url) as url:
        timings = asyncio.run(timing_table(url))
        trips = asyncio.run(round_trips(url))
    bare = timings[0][1]
    memory = timings[1][1]
    print(f"Python {platform.python_version()}, {platform.machine()}, N={N}, ROUNDS={ROUNDS}")
    print()
    print(f"{'successful call':36} {'µs/call':>9} {'overhead':>9} {'× in-memory':>12}")
    for name, micros in timings:
        ratio = (micros - bare) / (memory - bare) if name != "bare await" else float("nan")
        ratio_text = f"{ratio:>11.2f}×" if name != "bare await" else f"{'':>12}"
        print(f"{name:36} {micros:>9.2f} {micros - bare:>9.2f} {ratio_text}")
    print()
    print(f"{'Redis round trips per 1,000 successful calls':72} {'calls':>8} {'per 1,000':>9}")
    for name, calls, per_thousand in trips:
        print(f"{name:72} {calls:>8,} {per_thousand:>9.2f}")


if __name__ == "__main__":
    main()
