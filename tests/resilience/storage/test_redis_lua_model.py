"""The breaker Lua script against a small reference model, on a real redis-server (hypothesis).

Random interleavings of what instances do (sync their window, publish a trip, ask for a permit,
give one back, record a probe) must give the model's answers, and never more than
`half_open_calls` permits out at once. Open durations are 0 (always expired) or huge (never), so
the server's clock cannot make the two disagree.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resilience.storage import redis as storage_redis
from tests.servers import RedisServer

pytestmark = pytest.mark.integration

INSTANCES = ("a", "b", "c")


@dataclass
class Model:
    """What the script should do, written plainly (minimum_calls, half_open_calls, threshold)."""

    minimum_calls: int
    half_open_calls: int
    threshold: float
    expired: bool  # open duration 0 (True) or effectively forever (False)
    half_open_minimum: int
    state: str = "closed"
    gen: int = 0
    open_count: int = 0
    windows: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    granted: int = 0
    done: int = 0
    failed: int = 0

    def _over(self, n: int, failed: int) -> bool:
        return n > 0 and failed / n >= self.threshold

    def _to_open(self) -> None:
        self.state, self.gen, self.open_count = "open", self.gen + 1, self.open_count + 1
        self.granted = self.done = self.failed = 0
        self.windows.clear()

    def apply(self, op: str, who: str, seen: int, calls: int, failures: int) -> tuple[Any, ...]:
        sums = (0, 0, 0)
        granted = 0
        if op == "sync":
            if seen == self.gen and self.state == "closed":
                self.windows[who] = (calls, failures, 0)
            else:
                self.windows.pop(who, None)
            c = sum(w[0] for w in self.windows.values())
            f = sum(w[1] for w in self.windows.values())
            sums = (c, f, 0)
            if self.state == "closed" and c >= self.minimum_calls and self._over(c, f):
                self._to_open()
        elif op == "trip":
            if seen in (self.gen, 0) and self.state in ("closed", "half_open"):
                self._to_open()
        elif op == "acquire":
            if self.state == "open" and self.expired:
                self.state, self.gen = "half_open", self.gen + 1
                self.granted = self.done = self.failed = 0
            if self.state == "half_open" and self.granted < self.half_open_calls:
                self.granted += 1
                granted = 1
        elif op == "release":
            if seen == self.gen and self.state == "half_open" and self.granted > self.done:
                self.granted -= 1
        elif op == "record" and seen == self.gen and self.state == "half_open":
            self.done += 1
            self.failed += failures
            if self.done >= self.half_open_minimum:
                if self._over(self.done, self.failed):
                    self._to_open()
                else:
                    self.state, self.gen, self.open_count = "closed", self.gen + 1, 0
                    self.granted = self.done = self.failed = 0
                    self.windows.clear()
        return (self.state, self.gen, self.open_count, *sums, granted)


@pytest.fixture(scope="module")
def client() -> Iterator[redis.Redis]:
    server = RedisServer().start()
    c = redis.Redis.from_url(server.url)
    try:
        yield c
    finally:
        c.close()
        server.stop()


OPS = st.tuples(
    st.sampled_from(["sync", "sync", "trip", "acquire", "acquire", "release", "record"]),
    st.sampled_from(INSTANCES),
    st.integers(0, 6),  # calls (sync)
    st.integers(0, 6),  # failures (sync; record: > 0 means failed)
    st.booleans(),  # use a stale generation
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    minimum_calls=st.integers(1, 5),
    half_open_calls=st.integers(1, 4),
    threshold=st.sampled_from([0.25, 0.5, 1.0]),
    expired=st.booleans(),
    half_open_minimum=st.integers(1, 4),
    ops=st.lists(OPS, min_size=1, max_size=40),
)
def test_script_matches_the_reference_model(
    client: redis.Redis,
    minimum_calls: int,
    half_open_calls: int,
    threshold: float,
    expired: bool,
    half_open_minimum: int,
    ops: list[tuple[str, str, int, int, bool]],
) -> None:
    script = client.register_script(storage_redis._BREAKER_LUA)
    key = "model:breaker"
    client.delete(key)
    half_open_minimum = min(half_open_minimum, half_open_calls)
    model = Model(minimum_calls, half_open_calls, threshold, expired, half_open_minimum)
    known = dict.fromkeys(INSTANCES, 0)  # the generation each instance last saw
    # A new key starts at the server's time in ms: create it with a no-op sync, start from there.
    first = script(
        keys=[key],
        args=[
            "sync",
            "init",
            0,
            0,
            0,
            0,
            threshold,
            2.0,
            minimum_calls,
            half_open_calls,
            "1",
            3600,
            3600,
            60,
            half_open_minimum,
        ],
    )
    model.gen = int(first[1])
    for op, who, calls, failures, stale in ops:
        failures = min(failures, calls) if op == "sync" else int(failures > 0)
        seen = known[who] - 1 if stale and known[who] else known[who]
        args: list[str | int | float] = [
            op,
            who,
            seen,
            calls,
            failures,
            0,
            threshold,
            2.0,
            minimum_calls,
            half_open_calls,
            "0" if expired else "1000000",
            3600,
            3600,
            60,
            half_open_minimum,
        ]
        reply = script(keys=[key], args=args)
        state = reply[0].decode()
        expected = model.apply(op, who, seen, calls, failures)
        got = (
            state,
            int(reply[1]),
            int(reply[3]),
            int(reply[4]),
            int(reply[5]),
            int(reply[6]),
            int(reply[7]),
        )
        assert got == expected, (op, who, seen, calls, failures)
        # Never more permits out in an episode than half_open_calls, whatever the interleaving.
        assert int(client.hget(key, "ho_granted") or 0) <= half_open_calls
        remaining = float(reply[2])
        assert (remaining > 0) == (state == "open" and not expired)
        known[who] = int(reply[1])
