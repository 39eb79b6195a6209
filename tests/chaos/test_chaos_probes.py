"""Probes against real servers: Prometheus instant queries, metrics in this process, errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import Counter

from chaos.experiment import HttpProvider, MetricProvider, PrometheusProvider
from chaos.probes import (
    ActivityError,
    UnreachableError,
    http_requests,
    metric_value,
    prometheus_query,
)
from tests.servers import PrometheusServer, free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def prometheus() -> Iterator[PrometheusServer]:
    with PrometheusServer("global:\n  scrape_interval: 1m\n") as server:
        yield server


def query(server: PrometheusServer, promql: str) -> PrometheusProvider:
    return PrometheusProvider(type="prometheus", url=server.url, query=promql)


async def test_prometheus_values(prometheus: PrometheusServer) -> None:
    assert await prometheus_query(query(prometheus, "vector(0.25)")) == 0.25
    assert await prometheus_query(query(prometheus, "scalar(vector(3))")) == 3.0
    assert await prometheus_query(query(prometheus, 'up{job="nothing-scrapes-this"}')) is None


async def test_prometheus_errors_are_activity_errors(prometheus: PrometheusServer) -> None:
    with pytest.raises(ActivityError, match=r"failed: .*parse error"):
        await prometheus_query(query(prometheus, "sum("))
    url = f"http://127.0.0.1:{free_port()}"
    closed = PrometheusProvider(type="prometheus", url=url, query="up", timeout=1.0)
    with pytest.raises(UnreachableError) as caught:
        await prometheus_query(closed)
    assert str(caught.value) == f"cannot reach {url}: Connection refused"


async def test_metric_in_this_process_sums_matching_samples() -> None:
    counter = Counter("chaos_probe_test_calls", "test", ["policy", "outcome"])
    counter.labels("a", "fallback").inc(2)
    counter.labels("a", "success").inc(5)
    counter.labels("b", "fallback").inc(7)
    probe = MetricProvider(
        type="metric", name="chaos_probe_test_calls_total", labels={"outcome": "fallback"}
    )
    assert await metric_value(probe) == 9.0
    only_a = MetricProvider(
        type="metric", name="chaos_probe_test_calls_total", labels={"policy": "a"}
    )
    assert await metric_value(only_a) == 7.0
    missing = MetricProvider(type="metric", name="no_such_metric_total")
    assert await metric_value(missing) == 0.0


async def test_metric_from_an_unreachable_page() -> None:
    url = f"http://127.0.0.1:{free_port()}/metrics"
    probe = MetricProvider(type="metric", name="x", url=url, timeout=1.0)
    with pytest.raises(UnreachableError) as caught:
        await metric_value(probe)
    assert str(caught.value) == f"cannot reach {url}: Connection refused"


async def test_http_probe_that_gets_no_answer_says_why() -> None:
    url = f"http://127.0.0.1:{free_port()}/ask"
    probe = HttpProvider(type="http", url=url, requests=3, concurrency=2, timeout=1.0)
    with pytest.raises(UnreachableError) as caught:
        await http_requests(probe)
    assert (caught.value.url, caught.value.reason) == (url, "Connection refused")
