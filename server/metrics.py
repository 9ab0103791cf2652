"""Prometheus metrics: one registry per app, so each app (and each test) counts alone.

With several uvicorn workers (`PROMETHEUS_MULTIPROC_DIR` set, as `portal serve --workers N`
does) each process writes its values to files in that directory and `/metrics` adds up all
the workers' files, so whichever worker answers the scrape reports the whole service.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.requests import Request
from starlette.responses import Response


class Metrics:
    """The service's counters and histograms."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
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
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )
        self.votes = Counter(
            "portal_votes_cast", "Votes counted, by poll.", ["poll"], registry=self.registry
        )
        self._vote_children: dict[str, Any] = {}
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
        child = self._vote_children.get(poll_id)
        if child is None:  # poll ids come from site.toml: a bounded set
            child = self._vote_children[poll_id] = self.votes.labels(poll_id)
        child.inc()

    def render(self) -> bytes:
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
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        if method not in _METHODS:
            method = "OTHER"
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self.metrics.requests.labels(route, method, str(status)),
                self.metrics.latency.labels(route),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)


async def metrics_endpoint(request: Request) -> Response:
    metrics: Metrics = request.app.state.metrics
    return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
