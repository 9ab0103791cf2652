"""Prometheus metrics: one registry per app, so each app (and each test) counts alone.

With several uvicorn workers (`PROMETHEUS_MULTIPROC_DIR` set, as `portal serve --workers N`
does) each process writes its values to files in that directory and `/metrics` adds up all
the workers' files, so whichever worker answers the scrape reports the whole service.

The per-request counts (requests, latency, votes) are kept in plain numbers while a tick of
the event loop runs and added to the Prometheus values once, when the tick ends
(`TickTallies`): every update of a prometheus_client value takes a lock (and, with several
workers, writes to its file), which per request cost more than the rest of the bookkeeping.
A scrape adds what is pending first, so `/metrics` never lags behind the answers sent.
"""

from __future__ import annotations

import asyncio
import bisect
import os
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.requests import Request
from starlette.responses import Response

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class _Tally:
    """What one tick added to one labelled child, not yet applied."""

    __slots__ = ("pending",)

    def __init__(self) -> None:
        self.pending = False

    def apply(self) -> None:
        raise NotImplementedError


class _CountTally(_Tally):
    """Increments of one counter child."""

    __slots__ = ("child", "count")

    def __init__(self, child: Any) -> None:
        super().__init__()
        self.child = child
        self.count = 0

    def apply(self) -> None:
        self.child.inc(self.count)
        self.count = 0


class _RequestTally(_Tally):
    """Requests of one (route, method, status): their counter child, and their durations
    for the route's histogram child, bucketed as prometheus_client buckets them (the first
    upper bound >= the duration)."""

    __slots__ = ("bounds", "buckets", "count", "counter", "histogram", "seconds")

    def __init__(self, counter: Any, histogram: Any) -> None:
        super().__init__()
        self.counter = counter
        self.histogram = histogram
        self.bounds: list[float] = list(histogram._upper_bounds)
        self.count = 0
        self.seconds = 0.0
        self.buckets = [0] * len(self.bounds)

    def add(self, seconds: float) -> None:
        self.count += 1
        self.seconds += seconds
        self.buckets[bisect.bisect_left(self.bounds, seconds)] += 1

    def apply(self) -> None:
        self.counter.inc(self.count)
        # prometheus_client has no call for many observations at once: its histogram child
        # keeps a sum and a value per bucket (tests/test_metrics_ticks.py checks that the
        # text is the same as observe() per request would give).
        self.histogram._sum.inc(self.seconds)
        values = self.histogram._buckets
        for index, count in enumerate(self.buckets):
            if count:
                values[index].inc(count)
                self.buckets[index] = 0
        self.count = 0
        self.seconds = 0.0


class TickTallies:
    """Tallies touched during this tick of the event loop, applied when it ends."""

    def __init__(self) -> None:
        self._pending: list[_Tally] = []

    def touch(self, tally: _Tally) -> None:
        """`tally` changed: apply it at the end of this tick (at once without a loop)."""
        if tally.pending:
            return
        tally.pending = True
        self._pending.append(tally)
        if len(self._pending) == 1:
            try:
                asyncio.get_running_loop().call_soon(self.apply)
            except RuntimeError:
                self.apply()

    def apply(self) -> None:
        """Add every pending tally to its Prometheus values."""
        pending, self._pending = self._pending, []
        for tally in pending:
            tally.pending = False
            tally.apply()


class Metrics:
    """The service's counters and histograms."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.ticks = TickTallies()
        self.requests = Counter(
            "portal_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "portal_http_request_duration_seconds",
            "Time to answer, by route template.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.votes = Counter(
            "portal_votes_cast", "Votes counted, by poll.", ["poll"], registry=self.registry
        )
        self._vote_tallies: dict[str, _CountTally] = {}
        self.heartbeats = Counter(
            "portal_presence_heartbeats", "Presence heartbeats received.", registry=self.registry
        )
        self.redis_errors = Counter(
            "portal_redis_errors",
            "Requests answered 503 because Redis failed.",
            registry=self.registry,
        )
        self.online = Gauge(
            "portal_presence_online",
            "Visitors online site-wide, as the latest heartbeat counted them.",
            registry=self.registry,
            # Every worker sees the same Redis count; the freshest one is the answer.
            multiprocess_mode="mostrecent",
        )
        self.rate_limited = Counter(
            "portal_rate_limited",
            "Requests refused with 429 by a per-address limit (vote, new_visitor, admin).",
            ["limit"],
            registry=self.registry,
        )

    def count_heartbeats(self, heartbeats: int, online: int) -> None:
        """A batch of heartbeats, and the site count the last of them got."""
        self.heartbeats.inc(heartbeats)
        self.online.set(online)

    def count_vote(self, poll_id: str) -> None:
        tally = self._vote_tallies.get(poll_id)
        if tally is None:  # poll ids come from site.toml: a bounded set
            tally = self._vote_tallies[poll_id] = _CountTally(self.votes.labels(poll_id))
        tally.count += 1
        self.ticks.touch(tally)

    def render(self) -> bytes:
        self.ticks.apply()
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if directory:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)


# Any other method a client invents is counted as OTHER: labels stay a bounded set.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestMetrics:
    """Counts one answered request by route template (never the raw path: bounded labels)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        # labels() costs a lock and a tuple hash per call: each child is looked up once.
        self._tallies: dict[tuple[str, str, int], _RequestTally] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        tally = self._tallies.get((route, method, status))
        if tally is None:
            tally = self._tally(route, method if method in _METHODS else "OTHER", status)
        tally.add(seconds)
        self.metrics.ticks.touch(tally)

    def _tally(self, route: str, method: str, status: int) -> _RequestTally:
        key = (route, method, status)
        tally = self._tallies.get(key)
        if tally is None:
            tally = self._tallies[key] = _RequestTally(
                self.metrics.requests.labels(route, method, str(status)),
                self.metrics.latency.labels(route),
            )
        return tally


async def metrics_endpoint(request: Request) -> Response:
    metrics: Metrics = request.app.state.metrics
    return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
