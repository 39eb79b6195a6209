"""Exact counter events over a range from raw samples; where the data starts, ends, has gaps.

`increase()` over a range extrapolates from the first and last samples it holds to the range's
edges at the range's *average* rate (Prometheus 2), or drops the sample on the start edge
(Prometheus 3 ranges are left-open), and counts a series born inside the range from its first
value instead of from zero. Here every series is counted from its own samples instead:

- inside the range, from its first sample after the start to its last sample before the end:
  the value difference plus, for every counter reset, the value before it (resets are found
  with `resets()` and located by bisection, then read from raw samples);
- at each edge, the events of the one scrape interval that straddles it, apportioned at that
  interval's own rate (a reset inside it counts the new value);
- a series born inside the range (no sample in the `_FAR` before the start, first seen more than
  `grace` after the data's first sample) counts from zero: its process started in the range.

The remaining error is the apportioning inside the straddling interval: at most the events of
one scrape interval per edge, none when the traffic inside it is even.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise

from planner.errors import UpstreamError
from planner.slo.prometheus import PrometheusClient

__all__ = [
    "EDGE_PROBE_S",
    "Edge",
    "EventCounter",
    "Gap",
    "data_span",
    "edges",
    "find_gaps",
    "samples_seen",
    "scrape_interval",
]

Key = tuple[tuple[str, str], ...]
Point = tuple[float, float]

#: First look for the samples around an edge this far (seconds) each side.
_NEAR = 900.0
#: Then this far, for a scrape gap across the edge; beyond, a series is taken as born or gone.
_FAR = 6 * 3600.0
#: The reset search reads raw samples once its window is this short (seconds).
_LEAF = 2 * 3600.0
#: Queries one reset search may spend before it gives up (many resets: a crash-looping process).
_MAX_RESET_QUERIES = 300
#: Gap search: at most this many subquery steps, and this many gaps located from raw samples.
_GAP_STEPS = 1000
_GAPS_LOCATED = 8


#: How far back a raw-sample probe looks for data at a period edge (one scrape surely falls in).
EDGE_PROBE_S = 3600
#: Subquery steps per narrowing round when searching for the first or last sample.
_STEPS = 400


@dataclass(frozen=True)
class Edge:
    """The samples of one series around a time t: the last at or before t, the first after."""

    before: Point | None
    after: Point | None


@dataclass(frozen=True)
class Gap:
    """A stretch without samples: the last sample before it and the first after it."""

    start: float
    end: float
    missing_s: float  # end − start − one scrape interval: the time no scrape landed

    def describe(self) -> str:
        """`2026-03-04T10:00:00Z – 2026-03-04T10:47:00Z (46 min without samples)`."""
        return f"{_iso(self.start)} – {_iso(self.end)} ({_span(self.missing_s)} without samples)"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _span(seconds: float) -> str:
    if seconds >= 5400:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 90:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


def _key(labels: Mapping[str, str]) -> Key:
    # some functions drop the metric name, some keep it (last_over_time): key without it
    return tuple((k, v) for k, v in sorted(labels.items()) if k != "__name__")


def _delta(before: Point, after: Point) -> float:
    """Events between two consecutive samples of a counter (a drop is a restart from zero)."""
    return after[1] - before[1] if after[1] >= before[1] else after[1]


def _window(seconds: float) -> str:
    return f"{max(1, round(seconds * 1000))}ms"


async def edges(
    client: PrometheusClient, selector: str, t: float, latest: float
) -> dict[Key, Edge]:
    """Every series' samples around `t` (`latest`: the newest sample of the selector)."""
    found: dict[Key, Edge] = {}
    for reach in (_NEAR, _FAR):
        found = {}
        for s in await client.series(selector, reach, t):
            before = [p for p in s.samples if p[0] <= t]
            if before:
                found[_key(s.labels)] = Edge(before[-1], None)
        if t < latest:
            for s in await client.series(selector, reach, t + reach):
                after = [p for p in s.samples if p[0] > t]
                if after:
                    key = _key(s.labels)
                    found[key] = Edge(found[key].before if key in found else None, after[0])
        sides_missing = any(
            e.before is None or (e.after is None and t < latest) for e in found.values()
        )
        if not sides_missing:
            break
    return found


async def _resets(client: PrometheusClient, selector: str, lo: float, hi: float) -> dict[Key, int]:
    out: dict[Key, int] = {}
    for sample in await client.vector(f"resets({selector}[{_window(hi - lo)}])", hi):
        if sample.value > 0:
            out[_key(sample.labels)] = round(sample.value)
    return out


class _ResetSearch:
    """Finds the (before, after) sample pairs of every counter reset in a range."""

    def __init__(self, client: PrometheusClient, selector: str, latest: float) -> None:
        self.client = client
        self.selector = selector
        self.latest = latest
        self.queries = 0
        self.pairs: dict[Key, list[tuple[Point, Point]]] = {}

    def _spend(self, n: int = 1) -> None:
        self.queries += n
        if self.queries > _MAX_RESET_QUERIES:
            raise UpstreamError(
                f"{self.selector}: too many counter resets to locate within"
                f" {_MAX_RESET_QUERIES} queries (a crash-looping process?)"
            )

    async def run(self, lo: float, hi: float, counts: dict[Key, int]) -> None:
        if not counts:
            return
        if hi - lo <= _LEAF:
            self._spend()
            for s in await self.client.series(self.selector, hi - lo, hi):
                key = _key(s.labels)
                if key not in counts:
                    continue
                pts = s.samples
                for before, after in pairwise(pts):
                    if after[1] < before[1]:
                        self.pairs.setdefault(key, []).append((before, after))
            return
        mid = (lo + hi) / 2
        self._spend(2)
        left = await _resets(self.client, self.selector, lo, mid)
        right = await _resets(self.client, self.selector, mid, hi)
        left = {k: v for k, v in left.items() if k in counts}
        right = {k: v for k, v in right.items() if k in counts}
        await self.run(lo, mid, left)
        await self.run(mid, hi, right)
        straddling = [k for k, n in counts.items() if n > left.get(k, 0) + right.get(k, 0)]
        if straddling:
            self._spend(2)
            around = await edges(self.client, self.selector, mid, self.latest)
            for key in straddling:
                edge = around.get(key)
                if edge and edge.before and edge.after and edge.after[1] < edge.before[1]:
                    self.pairs.setdefault(key, []).append((edge.before, edge.after))


class EventCounter:
    """Counts counter events of selectors over ranges, sharing the edge lookups between them.

    `data_start`: the data's first sample (a series first seen within `grace` of it existed
    before the data); `latest`: its newest sample (no sample follows an edge past it); `span`:
    the widest range it will be asked about, where counter resets are searched once.
    """

    def __init__(
        self,
        client: PrometheusClient,
        *,
        data_start: float,
        grace: float,
        latest: float,
        span: tuple[float, float] | None = None,
    ) -> None:
        self.client = client
        self.span = span  # the widest range the caller will ask: resets are searched there once
        self.data_start = data_start
        self.grace = grace
        self.latest = latest
        self._edges: dict[tuple[str, float], dict[Key, Edge]] = {}
        self._resets: dict[str, tuple[float, float, dict[Key, list[tuple[Point, Point]]]]] = {}

    async def _around(self, selector: str, t: float) -> dict[Key, Edge]:
        found = self._edges.get((selector, t))
        if found is None:
            found = self._edges[(selector, t)] = await edges(self.client, selector, t, self.latest)
        return found

    async def _reset_pairs(
        self, selector: str, start: float, end: float
    ) -> dict[Key, list[tuple[Point, Point]]]:
        """The counter resets of `selector` in [start, end], searched once over the widest
        range asked so far (the periods of one report share their end and nest)."""
        known = self._resets.get(selector)
        if known is None or start < known[0] or end > known[1]:
            lo, hi = known[:2] if known else self.span or (start, end)
            lo, hi = min(lo, start), max(hi, end)
            search = _ResetSearch(self.client, selector, self.latest)
            await search.run(lo, hi, await _resets(self.client, selector, lo, hi))
            known = self._resets[selector] = (lo, hi, search.pairs)
        return known[2]

    async def events(self, selector: str, start: float, end: float) -> float | None:
        """Events of all series of the counter `selector` in (start, end]; None: no series."""
        client = self.client
        at_start = await self._around(selector, start)
        at_end = await self._around(selector, end)
        window = _window(end - start)
        last = {
            _key(s.labels): s.value
            for s in await client.vector(f"last_over_time({selector}[{window}])", end)
        }
        keys = set(at_start) | set(at_end) | set(last)
        if not keys:
            return None
        pairs = await self._reset_pairs(selector, start, end)
        total = 0.0
        for key in keys:
            pa, na = _sides(at_start.get(key))
            pb, nb = _sides(at_end.get(key))
            end_time, end_value = pb if pb is not None else (end, last.get(key, 0.0))
            if na is not None and na[0] <= end:
                if pa is not None:
                    total += _delta(pa, na) * (na[0] - start) / (na[0] - pa[0])
                elif na[0] - self.data_start > self.grace:
                    total += na[1]  # born inside the range: its counter started from zero
                base: Point = na
            elif key in last and na is None:
                # samples inside, none within `_FAR` after the start: born later (from zero),
                # or back from a gap longer than `_FAR` (from its last value before it)
                base = pa if pa is not None else (start, 0.0)
            else:
                # no sample inside: at most one scrape interval holds both edges
                if pa is not None and na is not None and na[0] > pa[0]:
                    total += _delta(pa, na) * (end - start) / (na[0] - pa[0])
                continue
            total += end_value - base[1]
            for before, after in pairs.get(key, ()):
                if start <= before[0] and base[0] <= before[0] and after[0] <= end_time:
                    total += before[1]
            if pb is not None and nb is not None and nb[0] > pb[0]:
                total += _delta(pb, nb) * (end - pb[0]) / (nb[0] - pb[0])
        return max(0.0, total)


def _sides(edge: Edge | None) -> tuple[Point | None, Point | None]:
    return (None, None) if edge is None else (edge.before, edge.after)


async def scrape_interval(client: PrometheusClient, selector: str, at: float) -> float | None:
    """The median time between consecutive samples of a series of `selector` in the hour to
    `at`; None with fewer than two samples."""
    diffs = sorted(
        b[0] - a[0] for s in await client.series(selector, 3600, at) for a, b in pairwise(s.samples)
    )
    return diffs[len(diffs) // 2] if diffs else None


async def samples_seen(client: PrometheusClient, selector: str, start: float, end: float) -> int:
    """The most samples any one series of `selector` holds in [start, end]."""
    if end - start < 0.001:
        return 0
    found = await client.total(f"max(count_over_time({selector}[{_window(end - start)}]))", end)
    return round(found or 0)


async def find_gaps(
    client: PrometheusClient, selector: str, start: float, end: float, interval: float
) -> list[Gap]:
    """Gaps longer than two scrape intervals in [start, end]: windows short of samples found by
    one subquery, then the first `_GAPS_LOCATED` of them read from raw samples."""
    step = max(math.ceil((end - start) / _GAP_STEPS), math.ceil(20 * interval), 60)
    if end - start < 2 * step:
        windows = [(start, end)]
    else:
        # subquery points sit on multiples of the step; each counts the samples of [t − step, t]
        expr = f"max(count_over_time({selector}[{step}s]))[{_window(end - start)}:{step}s]"
        counts = {round(t): v for s in await client.matrix(expr, end) for t, v in s.samples}
        first = math.ceil((start + step) / step) * step
        windows = []
        for t in range(first, math.floor(end) + 1, step):
            if counts.get(t, 0.0) < step / interval - 1.5:
                if windows and windows[-1][1] == t - step:
                    windows[-1] = (windows[-1][0], t)
                else:
                    windows.append((t - step, t))
    gaps: list[Gap] = []
    for lo, hi in windows[:_GAPS_LOCATED]:
        # reach one interval further back so a gap starting at the window's edge is seen whole
        raw = await client.series(selector, hi - lo + 2 * interval, hi)
        times = sorted({p[0] for s in raw for p in s.samples})
        gaps.extend(
            Gap(a, b, b - a - interval)
            for a, b in pairwise(times)
            if b - a > 2 * interval and b > lo
        )
    # a gap seen from two neighbouring windows is one gap
    unique = {(g.start, g.end): g for g in gaps}
    return sorted(unique.values(), key=lambda g: g.start)


async def _edge(
    client: PrometheusClient, selector: str, lo: float, hi: float, *, first: bool
) -> float | None:
    """The first (or last) sample time of `selector` in [lo, hi], or None when there is none.

    Subqueries narrow the search (`min/max_over_time(timestamp(count_over_time(...)))` over a
    grid of `_STEPS` steps, then a finer grid inside the step found) until a raw range query of a
    few minutes of samples gives the exact timestamp.
    """
    agg = "min" if first else "max"
    span = max(1, math.ceil(hi - lo))
    step = max(60, math.ceil(span / _STEPS))
    # Subquery steps sit on multiples of the step; evaluate at the next one so the grid covers hi.
    at = math.ceil(hi / step) * step if first else hi
    expr = (
        f"{agg}({agg}_over_time(timestamp(count_over_time({selector}[{step}s]))[{span}s:{step}s]))"
    )
    found = await client.total(expr, at)
    if found is None:
        return None
    while step > 300:
        finer = max(60, math.ceil(step / _STEPS))
        expr = (
            f"{agg}({agg}_over_time(timestamp(count_over_time({selector}[{finer}s]))"
            f"[{step}s:{finer}s]))"
        )
        narrowed = await client.total(expr, found)
        if narrowed is None:
            break
        found, step = narrowed, finer
    times = [t for t in await client.sample_times(selector, step, found) if lo <= t <= hi]
    if not times:
        return None
    return min(times) if first else max(times)


async def data_span(
    client: PrometheusClient, selector: str, earliest: float, at: float
) -> tuple[float, float] | None:
    """(first, last) sample time of `selector` in [earliest, at]; first = earliest when older
    samples exist (the data reaches back past every period)."""
    recent = await client.sample_times(selector, EDGE_PROBE_S, at)
    last = max(recent) if recent else await _edge(client, selector, earliest, at, first=False)
    if last is None:
        return None
    older = await client.sample_times(selector, EDGE_PROBE_S, earliest)
    if older:
        return earliest, last
    first = await _edge(client, selector, earliest, last, first=True)
    return (first, last) if first is not None else None
