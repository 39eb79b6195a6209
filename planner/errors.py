"""Typed errors of the planner; the CLI turns them into one line on stderr and exit code 2."""

from __future__ import annotations


class PlannerError(Exception):
    """Base of every planner error a user can cause (bad spec, bad flag, unreachable server)."""


class SpecError(PlannerError):
    """The system spec is invalid; the message names the file, the field and what was expected."""


class UpstreamError(PlannerError):
    """A server the planner talks to (Prometheus, a /metrics endpoint) is unreachable or failed."""
