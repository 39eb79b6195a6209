"""The edge rules' texts and figures that depend on a few values alone, made once per value.

A large system's edges take few distinct values — timeouts and deadlines in 10 ms steps, rps from
the entry points' shares — so formatting a row's config, trigger and reason, and building its
figures, once per edge repeated the same work hundreds of thousands of times. Each helper here is
memoised on its values; `typed`, since an int shows as 50 where a float shows as 50.0. Figures are
immutable and shared by the rows that show the same one; the mechanism table's dicts are not made
here (each policy keeps its own).
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

from planner.analysis.mechanisms.common import (
    BULKHEAD_FLOOR,
    BULKHEAD_HEADROOM,
    FAILURE_RATE,
    MAX_ATTEMPTS,
    MIN_CALLS_CEIL,
    MIN_CALLS_FLOOR,
    TRIP_AT_TRAFFIC,
    TRIP_WITHIN,
    WINDOW_CEIL,
    bulkhead_capacity,
    format_count,
)
from planner.analysis.mechanisms.construct import new_figure
from planner.model import Figure
from planner.units import format_spec_duration as fmt

__all__ = [
    "FAILURE_TEXT",
    "BreakerShape",
    "breaker_shape",
    "bulkhead_shape",
    "deadline_texts",
    "fitted_attempts",
    "retry_shape",
    "timeout_texts",
]

# the rows' fixed texts, formatted once
FAILURE_TEXT = f"{FAILURE_RATE:.0%}"
AT_TRAFFIC_TEXT = f"{TRIP_AT_TRAFFIC:.0%}"
_BULKHEAD_TAIL = (
    f"; × {BULKHEAD_HEADROOM} headroom, at least + 3√ of it for bursts, and at least"
    f" {BULKHEAD_FLOOR} slots"
)


@functools.lru_cache(maxsize=4096, typed=True)
def timeout_texts(value: float) -> tuple[str, str]:
    """(config, trigger) of the timeout row of an attempt timeout of `value` seconds."""
    return f"{fmt(value)} per attempt", f"Attempt latency >{fmt(value)}"


@functools.lru_cache(maxsize=4096, typed=True)
def deadline_texts(value: float) -> tuple[str, str]:
    """(config, trigger) of the deadline row of a deadline of `value` seconds."""
    return f"{fmt(value)} total", f"Total latency >{fmt(value)}"


@functools.lru_cache(maxsize=4096, typed=True)
def retry_shape(
    attempts: int, timeout: float, deadline: float, initial: float, cap: float
) -> tuple[str, Figure]:
    """(config, max_attempts figure) of the retry row of a call retried `attempts` times."""
    return f"{attempts} attempts, backoff {fmt(initial)}–{fmt(cap)}", new_figure(
        attempts,
        "count",
        "max n ≤ 3: n × timeout + backoff ≤ deadline",
        {"timeout": timeout, "deadline": deadline, "initial": initial, "max": cap},
    )


@functools.lru_cache(maxsize=4096, typed=True)
def fitted_attempts(
    transient: tuple[str, ...], worst: tuple[float, ...], timeout: float, deadline: float | None
) -> tuple[int, str]:
    """The most attempts (≤ MAX_ATTEMPTS) that fit `deadline` for a target with transient
    modes, and why (without the target's backoff clause, which names it)."""
    attempts = 1
    for n in range(MAX_ATTEMPTS, 0, -1):
        if deadline is None or n * timeout + worst[n] <= deadline + 1e-9:
            attempts = n
            break
    if attempts == 1:
        return attempts, (
            f"a second attempt (2 × {fmt(timeout)} + backoff) does not fit the"
            f" {fmt(deadline or 0)} deadline"
        )
    fit = f" fit the {fmt(deadline)} deadline" if deadline is not None else " (no latency budget)"
    return attempts, (
        f"transient modes ({', '.join(transient)}); {attempts} attempts"
        f" × {fmt(timeout)} + worst-case backoff {fmt(worst[attempts])}{fit}"
    )


class BreakerShape(NamedTuple):
    """What an edge's breaker takes from its rps alone (`breaker_shape`)."""

    min_calls: int
    window: int
    half_open_calls: int
    text: str
    reason_head: str  # the reason up to the target's open-duration clause
    trip: Figure


@functools.lru_cache(maxsize=4096, typed=True)  # typed: an int rps shows as 50, a float 50.0
def breaker_shape(rps: float) -> BreakerShape:
    """The breaker's volume threshold, window, text and trip figure for `rps` calls/s.

    They depend on the rps alone, and a large system has few distinct rps (its callers'
    shares of the entry points' traffic): formatted once per rps, not once per edge.
    """
    # the volume threshold is what half of nominal traffic brings in TRIP_WITHIN, so a dip in
    # traffic still trips it; the window holds that many calls at half traffic
    low = rps * TRIP_AT_TRAFFIC
    min_calls = min(MIN_CALLS_CEIL, max(MIN_CALLS_FLOOR, math.floor(low * TRIP_WITHIN)))
    trip_s = min_calls / rps
    window = min(WINDOW_CEIL, max(int(TRIP_WITHIN), math.ceil(round(min_calls / low, 9))))
    reason_head = (
        f"{rps:g} calls/s: a full outage reaches {min_calls} calls and trips it in"
        f" {fmt(trip_s)}; the {window}s window still holds {min_calls} calls at"
        f" {AT_TRAFFIC_TEXT} of that traffic ({format_count(low)}/s), so a dip does"
        " not keep it from tripping; "
    )
    trip = new_figure(
        trip_s,
        "s",
        "minimum_calls / rps, minimum_calls = clamp(rps × 50% × 10s, 5, 100)",
        {"minimum_calls": min_calls, "rps": rps, "window": window},
    )
    text = f"{FAILURE_TEXT} of ≥{min_calls} calls in {window}s"
    return BreakerShape(min_calls, window, min(10, max(1, round(rps))), text, reason_head, trip)


@functools.lru_cache(maxsize=4096, typed=True)
def bulkhead_shape(rps: float, timeout: float) -> tuple[int, str, str, str, Figure]:
    """(slots, config, trigger, reason, figure) of the bulkhead of an edge at `rps` calls/s
    whose attempts time out after `timeout`: the same for every edge with those two values."""
    in_flight = rps * timeout
    size = max(BULKHEAD_FLOOR, bulkhead_capacity(in_flight))
    slots, held = f"{size:,}", fmt(timeout)
    reason = (
        f"a slowdown holds each call up to its {held} attempt timeout: {rps:g}"
        f" calls/s × {held} = {format_count(in_flight)} in flight (Little's law)" + _BULKHEAD_TAIL
    )
    figure = new_figure(
        size,
        "count",
        "max(floor, ceil(max(L × headroom, L + 3√L))), L = rps × attempt timeout",
        {"rps": rps, "timeout": timeout, "headroom": BULKHEAD_HEADROOM, "floor": BULKHEAD_FLOOR},
    )
    return size, f"{slots} concurrent", f"Load >{slots} in flight", reason, figure
