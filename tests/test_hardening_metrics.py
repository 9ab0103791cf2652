"""`/metrics`: requests, latency, votes, heartbeats, online now, Redis errors, rate limits; and
correct totals when several uvicorn workers answer (prometheus multiprocess mode)."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx

from server.settings import Settings
from tests.conftest import app_client
from tests.hardening_helpers import new_vote
from tests.redis_process import free_port


def sample(text: str, name: str, labels: str = "") -> float:
    pattern = re.escape(name) + (re.escape("{" + labels + "}") if labels else "") + r" ([0-9.e+-]+)"
    match = re.search(r"^" + pattern + r"$", text, re.MULTILINE)
    assert match, f"{name}{{{labels}}} not in metrics"
    return float(match.group(1))


async def test_metrics_count_what_happens(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(vote_rate_limit="2/minute")
    async with app_client(settings) as client:
        for page in ("/a.html", "/b.html", "/a.html"):
            client.cookies.clear()
            assert (await client.post("/api/presence", json={"page": page})).status_code == 200
        assert (await new_vote(client)).status_code == 201
        assert (await new_vote(client)).status_code == 201
        assert (await new_vote(client)).status_code == 429
        text = (await client.get("/metrics")).text
    assert sample(text, "portal_presence_heartbeats_total") == 3
    assert sample(text, "portal_presence_online") == 3
    assert sample(text, "portal_votes_cast_total", 'poll="portal-rating"') == 2
    assert sample(text, "portal_rate_limited_total", 'limit="vote"') == 1
    assert (
        sample(
            text,
            "portal_http_requests_total",
            'method="POST",route="/api/polls/{poll_id}/votes",status="201"',
        )
        == 2
    )
    assert sample(text, "portal_http_request_duration_seconds_count", 'route="/api/presence"') == 3


async def test_redis_errors_are_counted(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    async with app_client(settings) as client:
        assert (await client.get("/api/polls")).status_code == 503
        assert (await client.get("/readyz")).status_code == 503
        text = (await client.get("/metrics")).text
    assert sample(text, "portal_redis_errors_total") == 2


def test_metrics_add_up_across_workers(start_portal: Callable[..., str]) -> None:
    env = {"PORTAL_VOTE_RATE_LIMIT": "off", "PORTAL_NEW_VISITOR_LIMIT": "off"}
    base = start_portal(extra_args=["--workers", "2"], env=env)
    sent = 60
    # Fresh connections, so the kernel spreads them over both workers.
    for n in range(sent):
        response = httpx.post(f"{base}/api/presence", json={"page": f"/p{n % 3}.html"}, timeout=5)
        assert response.status_code == 200
    for _ in range(10):
        text = httpx.get(f"{base}/metrics", timeout=5).text
        assert sample(text, "portal_presence_heartbeats_total") == sent
        assert (
            sample(
                text,
                "portal_http_requests_total",
                'method="POST",route="/api/presence",status="200"',
            )
            == sent
        )
        assert sample(text, "portal_presence_online") == sent
