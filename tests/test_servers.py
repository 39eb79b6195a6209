"""The integration-test servers start, answer and stop cleanly."""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.servers import PrometheusServer, RedisServer, _redis_ping

pytestmark = pytest.mark.integration


def test_prometheus_starts_answers_queries_and_stops() -> None:
    config = "global:\n  scrape_interval: 15s\nscrape_configs: []\n"
    with PrometheusServer(config) as prom:
        with urllib.request.urlopen(f"{prom.url}/api/v1/query?query=1%2B1", timeout=5) as resp:
            body = json.load(resp)
        assert body["status"] == "success"
        assert body["data"]["result"][1] == "2"
        proc = prom.proc
    assert proc is not None and proc.poll() is not None


def test_redis_starts_can_be_killed_and_restarted_on_its_port() -> None:
    server = RedisServer().start()
    try:
        assert _redis_ping(server.port)
        server.kill()
        assert not _redis_ping(server.port)
        server.start()
        assert _redis_ping(server.port)
    finally:
        server.stop()
