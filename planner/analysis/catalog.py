"""The failure-mode catalog and per-kind defaults the planner falls back on.

Defaults are used only where the spec is silent, and every figure built from one says so
("catalog default"). Sources: availability defaults are the public SLAs of the managed service
typical for the kind (AWS RDS single-AZ 99.5 %, ELB 99.99 %, S3 Standard / SQS / ElastiCache /
OpenSearch 99.9 %); MTTR and latency defaults are orders of magnitude to be overridden by the spec.

A catalog mode's `weight` is its share of the component's failures (weights of a kind sum to 1),
so the modes of one component split its failure rate instead of each claiming all of it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KindDefaults:
    """What the planner assumes for a kind when the spec does not say."""

    availability: float  # percent, per replica
    mttr: float  # seconds to repair one failure of one instance
    p99: float  # seconds, one call
    p50: float  # seconds, one call
    warm_up: float  # seconds from started to serving at full capacity
    managed: bool  # operated by a provider: redundancy means a second provider, not replicas


KIND_DEFAULTS: dict[str, KindDefaults] = {
    "service": KindDefaults(99.9, 300, 0.5, 0.05, 30, False),
    "worker": KindDefaults(99.9, 300, 1.0, 0.1, 30, False),
    "database": KindDefaults(99.5, 1800, 0.1, 0.005, 60, False),
    "cache": KindDefaults(99.9, 600, 0.01, 0.001, 300, False),
    "queue": KindDefaults(99.9, 900, 0.05, 0.005, 30, False),
    "object_storage": KindDefaults(99.9, 1800, 0.3, 0.03, 0, True),
    "load_balancer": KindDefaults(99.99, 900, 0.05, 0.002, 0, True),
    "dns": KindDefaults(99.99, 1800, 0.05, 0.01, 0, True),
    "cdn": KindDefaults(99.9, 1800, 0.2, 0.02, 0, True),
    "external_api": KindDefaults(99.9, 1800, 1.0, 0.1, 0, True),
    "llm_api": KindDefaults(99.9, 1800, 10.0, 1.5, 0, True),
    "vector_db": KindDefaults(99.9, 1800, 0.2, 0.02, 120, False),
    "search": KindDefaults(99.9, 1800, 0.3, 0.03, 120, False),
}


@dataclass(frozen=True)
class CatalogMode:
    """A failure mode every component of a kind can have."""

    name: str
    failure: str
    category: str  # crash | errors | latency | overload | rate_limit | data | quality | deploy
    transient: bool  # a retry (to another replica, or later) can succeed
    common_mode: bool  # hits every replica at once, so replicas do not mask it
    partial: bool  # degrades rather than takes the component down (impact one level lower)
    detection: int  # 1–10 with the plan's monitoring in place; 10 = almost impossible to detect
    weight: float  # share of the component's failures
    # succeeds at the transport level (HTTP 200) with wrong or stale content: no breaker, retry or
    # fallback sees it, and the error SLI does not either; only answer validation does
    silent: bool = False
    # the spec feature the mode needs (replication, quota, consumer): without it the mode cannot
    # happen and is left out, e.g. no replication lag on a database without replication
    requires: str | None = None
    # about the one instance that is the primary (its crash), not about each replica: it happens
    # at one replica's failure rate, however many standbys there are
    primary: bool = False
    # about each standby on its own (a replica that lags): it happens at one replica's failure
    # rate times the standbys (replicas − 1), and spare replicas do not mask it
    standby: bool = False


def _m(
    name: str,
    failure: str,
    category: str,
    *,
    transient: bool,
    common: bool = False,
    partial: bool = False,
    detection: int,
    weight: float,
    silent: bool = False,
    requires: str | None = None,
    primary: bool = False,
    standby: bool = False,
) -> CatalogMode:
    return CatalogMode(
        name,
        failure,
        category,
        transient,
        common,
        partial,
        detection,
        weight,
        silent,
        requires,
        primary,
        standby,
    )


CATALOG: dict[str, tuple[CatalogMode, ...]] = {
    "service": (
        _m(
            "crash-loop",
            "Instances crash and restart in a loop",
            "crash",
            transient=True,
            detection=2,
            weight=0.35,
        ),
        _m(
            "bad-deploy",
            "A bad deploy returns errors on every instance",
            "deploy",
            transient=False,
            common=True,
            detection=3,
            weight=0.4,
        ),
        _m(
            "memory-leak",
            "Memory leak slows instances until they are killed",
            "latency",
            transient=True,
            partial=True,
            detection=5,
            weight=0.15,
        ),
        _m(
            "overload",
            "Traffic beyond capacity: queueing, then timeouts",
            "overload",
            transient=True,
            partial=True,
            detection=3,
            weight=0.1,
        ),
    ),
    "worker": (
        _m(
            "crash-loop",
            "Workers crash and restart in a loop",
            "crash",
            transient=True,
            detection=3,
            weight=0.4,
        ),
        _m(
            "bad-deploy",
            "A bad deploy fails every job",
            "deploy",
            transient=False,
            common=True,
            detection=4,
            weight=0.4,
        ),
        _m(
            "stuck-jobs",
            "Jobs hang and hold worker slots",
            "latency",
            transient=True,
            partial=True,
            detection=6,
            weight=0.2,
        ),
    ),
    "database": (
        _m(
            "primary-crash",
            "Primary crashes; writes fail until failover",
            "crash",
            transient=True,
            detection=2,
            weight=0.3,
            primary=True,
        ),
        _m(
            "replication-lag",
            "Replicas lag: stale reads, data lost on failover",
            "data",
            transient=False,
            partial=True,
            detection=4,
            weight=0.2,
            silent=True,
            requires="replication",
            standby=True,
        ),
        _m(
            "connection-exhaustion",
            "Connection pool exhausted: new queries rejected",
            "overload",
            transient=True,
            common=True,
            detection=3,
            weight=0.3,
        ),
        _m(
            "disk-full",
            "Disk full: writes fail",
            "data",
            transient=False,
            common=True,
            detection=3,
            weight=0.2,
        ),
    ),
    "cache": (
        _m(
            "outage",
            "Cache unreachable: every read goes to the backing store",
            "crash",
            transient=False,
            detection=2,
            weight=0.6,
        ),
        _m(
            "stampede",
            "Hot keys expire together: a stampede on the backing store",
            "overload",
            transient=True,
            common=True,
            partial=True,
            detection=5,
            weight=0.4,
        ),
    ),
    "queue": (
        _m(
            "broker-outage",
            "Broker unreachable: publishes fail",
            "crash",
            transient=True,
            detection=2,
            weight=0.4,
        ),
        _m(
            "backlog",
            "Consumers fall behind: the backlog and message age grow",
            "latency",
            transient=False,
            common=True,
            partial=True,
            detection=4,
            weight=0.4,
            requires="consumer",
        ),
        _m(
            "poison-message",
            "A poison message blocks or crashes consumers",
            "errors",
            transient=False,
            common=True,
            partial=True,
            detection=5,
            weight=0.2,
            requires="consumer",
        ),
    ),
    "object_storage": (
        _m(
            "outage",
            "Storage returns 5xx errors",
            "errors",
            transient=True,
            common=True,
            detection=2,
            weight=0.6,
        ),
        _m(
            "throttling",
            "Storage throttles requests (503 SlowDown)",
            "rate_limit",
            transient=True,
            common=True,
            partial=True,
            detection=3,
            weight=0.4,
        ),
    ),
    "load_balancer": (
        _m(
            "outage",
            "Load balancer drops connections",
            "crash",
            transient=True,
            common=True,
            detection=2,
            weight=0.5,
        ),
        _m(
            "misconfiguration",
            "A bad listener or health-check change removes healthy targets",
            "deploy",
            transient=False,
            common=True,
            detection=3,
            weight=0.5,
        ),
    ),
    "dns": (
        _m(
            "resolution-failure",
            "Names fail to resolve",
            "crash",
            transient=True,
            common=True,
            detection=3,
            weight=0.6,
        ),
        _m(
            "bad-record",
            "A wrong or expired record sends traffic to the wrong place",
            "deploy",
            transient=False,
            common=True,
            detection=5,
            weight=0.4,
        ),
    ),
    "cdn": (
        _m(
            "edge-outage",
            "Edge locations return errors",
            "errors",
            transient=True,
            common=True,
            detection=3,
            weight=0.6,
        ),
        _m(
            "purge-storm",
            "A purge sends every request to the origin",
            "overload",
            transient=False,
            common=True,
            partial=True,
            detection=4,
            weight=0.4,
        ),
    ),
    "external_api": (
        _m(
            "outage-5xx",
            "Provider returns 5xx errors",
            "errors",
            transient=True,
            common=True,
            detection=2,
            weight=0.4,
        ),
        _m(
            "timeouts",
            "Provider is slow: calls time out",
            "latency",
            transient=True,
            common=True,
            partial=True,
            detection=3,
            weight=0.3,
        ),
        _m(
            "rate-limited",
            "Provider rate-limits us (429)",
            "rate_limit",
            transient=True,
            common=True,
            partial=True,
            detection=2,
            weight=0.2,
            requires="quota",
        ),
        _m(
            "contract-change",
            "Provider changes its API contract",
            "errors",
            transient=False,
            common=True,
            detection=6,
            weight=0.1,
        ),
    ),
    "llm_api": (
        _m(
            "rate-limited",
            "Model API rate-limits us (429)",
            "rate_limit",
            transient=True,
            common=True,
            partial=True,
            detection=2,
            weight=0.3,
            requires="quota",
        ),
        _m(
            "timeouts",
            "Model API is slow: completions time out",
            "latency",
            transient=True,
            common=True,
            partial=True,
            detection=3,
            weight=0.3,
        ),
        _m(
            "outage-5xx",
            "Model API returns 5xx errors",
            "errors",
            transient=True,
            common=True,
            detection=2,
            weight=0.3,
        ),
        _m(
            "degraded-answers",
            "Model answers degrade (wrong, truncated, refused)",
            "quality",
            transient=False,
            common=True,
            partial=True,
            detection=8,
            weight=0.1,
            silent=True,
        ),
    ),
    "vector_db": (
        _m(
            "outage",
            "Vector database unreachable",
            "crash",
            transient=True,
            detection=2,
            weight=0.5,
        ),
        _m(
            "slow-queries",
            "Similarity queries slow down under load",
            "latency",
            transient=True,
            common=True,
            partial=True,
            detection=3,
            weight=0.3,
        ),
        _m(
            "stale-index",
            "Index lags the source of truth: stale results",
            "data",
            transient=False,
            common=True,
            partial=True,
            detection=7,
            weight=0.2,
            silent=True,
        ),
    ),
    "search": (
        _m(
            "outage",
            "Search cluster unreachable (red cluster)",
            "crash",
            transient=True,
            detection=2,
            weight=0.5,
        ),
        _m(
            "slow-queries",
            "Queries slow down under load",
            "latency",
            transient=True,
            common=True,
            partial=True,
            detection=3,
            weight=0.3,
        ),
        _m(
            "index-lag",
            "Indexing lags: stale results",
            "data",
            transient=False,
            common=True,
            partial=True,
            detection=6,
            weight=0.2,
            silent=True,
        ),
    ),
}


#: Expected placement outages per year (an assumption, shown wherever it is used): cloud zones
#: see roughly one significant event a year, regions roughly one a decade.
PLACEMENT_OUTAGES_PER_YEAR: dict[str, float] = {"zone": 1.0, "region": 0.1}

#: Detection rating of a zone/region outage (many alerts fire at once).
PLACEMENT_DETECTION = 2
