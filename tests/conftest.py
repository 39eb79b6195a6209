"""Shared test configuration.

Async tests run on `VirtualTimeLoop` (virtual time: sleeps and timeouts cost no real time) unless
marked `real_time` or `integration`, which talk to real servers and need the real clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from resilience.testing import VirtualTimeLoop
from tests.servers import RedisServer, redis_server


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> Mapping[str, Any]:
    if item.get_closest_marker("real_time") or item.get_closest_marker("integration"):
        return {"real": asyncio.new_event_loop}
    return {"virtual": VirtualTimeLoop}


@pytest.fixture(scope="module")
def redis_srv() -> Iterator[RedisServer]:
    """A real redis-server on loopback, one per test module (tests use their own namespaces)."""
    with redis_server() as server:
        yield server
