"""Data protection: a backup plan and reconciliation steps for every stateful component.

Backups: the interval is the declared one when it meets the RPO target, else the RPO target
(continuous log archiving for databases); retention covers the SLO period plus a week, so a
corruption found a week after the period can still be undone.
"""

from __future__ import annotations

from planner.analysis.graph import Graph
from planner.model import BackupPlan, Figure, Reconciliation
from planner.units import DAY
from planner.units import format_duration as human


def backups(graph: Graph) -> tuple[BackupPlan, ...]:
    """A backup plan per stateful component: interval within the RPO, retention over a period."""
    out: list[BackupPlan] = []
    targets = graph.spec.recovery_targets
    rpo_target = targets.rpo if targets is not None else None
    period_days = {"30d": 30.0, "28d": 28.0}.get(graph.spec.slo_period, 365.25 / 12)
    retention = (period_days + 7) * DAY
    for name in sorted(graph.names):
        comp = graph.components[name]
        if comp.data is None or not comp.data.stateful:
            continue
        declared = comp.data.backup_interval
        if declared is not None and (rpo_target is None or declared <= rpo_target):
            interval = Figure(declared, "s", "declared", {"component": name})
            method = "scheduled snapshots"
        elif rpo_target is not None:
            interval = Figure(rpo_target, "s", "≤ RPO target", {"rpo": rpo_target})
            method = (
                "continuous log archiving (point-in-time recovery) + daily snapshots"
                if comp.kind == "database"
                else "snapshots at the RPO interval"
            )
        else:
            interval = Figure(DAY, "s", "daily (no RPO target, no interval declared)", {})
            method = "daily snapshots"
        if comp.kind == "queue":
            method = (
                "messages are in flight, not stored: replicate the broker, keep a dead-letter queue"
            )
        elif comp.kind in ("vector_db", "search"):
            method += "; or rebuild the index from the source of truth"
        out.append(
            BackupPlan(
                component=name,
                method=method,
                interval=interval,
                retention=Figure(
                    retention,
                    "s",
                    "(SLO period + 7 d) so a corruption found a week"
                    " after the period can still be undone",
                    {"period_days": period_days},
                ),
                restore_test=(
                    "restore into a scratch environment monthly and time it"
                    " (it is the RTO of data loss)"
                ),
                reason=(
                    f"RPO for data loss = backup interval ({human(interval.value)})"
                    + (
                        f"; the declared {human(declared)} exceeds the"
                        f" {human(rpo_target)} RPO target"
                        if declared is not None and rpo_target is not None and declared > rpo_target
                        else ""
                    )
                ),
            )
        )
    return tuple(out)


def reconciliation(graph: Graph) -> tuple[Reconciliation, ...]:
    """Data reconciliation steps for every stateful component."""
    out: list[Reconciliation] = []
    for name in sorted(graph.names):
        comp = graph.components[name]
        if comp.data is None or not comp.data.stateful:
            continue
        data = comp.data
        if data.replication == "sync":
            steps: tuple[str, ...] = (
                "bound the loss window: none — synchronous replication acknowledges only"
                " replicated writes",
                "check in-flight work: requests or messages not yet acknowledged are retried or"
                " redelivered, so their consumers must be idempotent",
                "compare counts and checksums between the replicas",
            )
        else:
            window = (
                f"the last {human(data.replication_lag)} of writes (async lag)"
                if data.replication == "async" and data.replication_lag is not None
                else f"up to {human(data.backup_interval)} of writes (since the last backup)"
                if data.backup_interval is not None
                else "an unknown window (no replication lag or backup interval declared)"
            )
            steps = (
                f"bound the loss window: {window}",
                "list writes acknowledged in that window from application logs,"
                " the outbox or the queue",
                "replay the missing writes idempotently (keys/versions decide conflicts)",
                "compare counts and checksums between the old primary's data and the new one",
                "record what could not be reconciled in the post-mortem",
            )
        out.append(Reconciliation(name, steps))
    return tuple(out)
