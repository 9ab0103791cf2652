"""Request metrics kept in plain numbers during an event-loop tick and added to the Prometheus
values when it ends (`server.metrics.TickTallies`): the same text as one update per request."""

from __future__ import annotations

import asyncio

from prometheus_client import generate_latest

from server.metrics import Metrics, RequestMetrics

# Durations on, between and beyond the histogram's bounds (prometheus_client counts an
# observation in the first bucket whose upper bound is >= it).
DURATIONS = [0.0, 0.0005, 0.001, 0.0010001, 0.0025, 0.004, 0.01, 0.3, 2.5, 2.6, 30.0]
REQUESTS = [
    ("/api/presence", "POST", 200),
    ("/api/presence", "GET", 200),
    ("/api/polls/{poll_id}/votes", "POST", 201),
    ("/api/polls/{poll_id}/votes", "POST", 409),
    ("unmatched", "BREW", 404),  # an invented method: counted as OTHER
]


def samples(metrics: Metrics) -> dict[str, float]:
    """`name{labels}` -> value of every sample but the `_created` timestamps."""
    found = {}
    for line in generate_latest(metrics.registry).decode().splitlines():
        if line and not line.startswith("#") and "_created" not in line:
            name, _, value = line.rpartition(" ")
            found[name] = float(value)
    return found


def one_by_one(metrics: Metrics) -> None:
    """What the service did before: one Prometheus update per request."""
    for route, method, status in REQUESTS:
        label = method if method != "BREW" else "OTHER"
        for seconds in DURATIONS:
            metrics.requests.labels(route, label, str(status)).inc()
            metrics.latency.labels(route).observe(seconds)
    for _ in range(3):
        metrics.votes.labels("portal-rating").inc()


def through_ticks(metrics: Metrics) -> None:
    counted = RequestMetrics(metrics)
    for route, method, status in REQUESTS:
        for seconds in DURATIONS:
            counted.observe(route, method, status, seconds)
    for _ in range(3):
        metrics.count_vote("portal-rating")


def assert_same(ticked: dict[str, float], direct: dict[str, float]) -> None:
    assert ticked.keys() == direct.keys()
    for name, value in direct.items():
        if name.partition("{")[0].endswith("_sum"):  # added up in another order
            assert abs(ticked[name] - value) < 1e-9, name
        else:
            assert ticked[name] == value, name


async def test_a_tick_adds_its_requests_when_it_ends() -> None:
    direct, ticked = Metrics(), Metrics()
    one_by_one(direct)
    through_ticks(ticked)
    before = samples(ticked)
    assert not any(value for name, value in before.items() if "portal_http" in name)
    assert not any(value for name, value in before.items() if "portal_votes" in name)
    await asyncio.sleep(0)  # the tick ends
    assert_same(samples(ticked), samples(direct))
    # A second tick adds to the first.
    one_by_one(direct)
    through_ticks(ticked)
    await asyncio.sleep(0)
    assert_same(samples(ticked), samples(direct))


async def test_a_scrape_in_the_same_tick_sees_every_answered_request() -> None:
    direct, ticked = Metrics(), Metrics()
    one_by_one(direct)
    through_ticks(ticked)
    text = ticked.render().decode()  # no await: still the same tick
    assert 'portal_http_requests_total{method="OTHER",route="unmatched",status="404"} 11.0' in text
    assert_same(samples(ticked), samples(direct))


def test_without_an_event_loop_counts_are_added_at_once() -> None:
    direct, ticked = Metrics(), Metrics()
    one_by_one(direct)
    through_ticks(ticked)
    assert_same(samples(ticked), samples(direct))
