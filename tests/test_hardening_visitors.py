"""No address can hand itself sessions at will (the new-visitor limit), and no other site's page
can send heartbeats or leaves (the origin check): the public online count stays honest."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from server.settings import Settings
from tests.conftest import app_client
from tests.hardening_helpers import VOTES

SESSION_HEADERS = ("set-cookie", "x-portal-session")


async def _fresh(client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> Any:
    """A call from a client without a session, as a count inflater sends it."""
    client.cookies.clear()
    return await client.request(method, path, **kwargs)


async def test_new_sessions_over_the_limit_are_refused_without_a_session(
    make_settings: Callable[..., Settings],
) -> None:
    async with app_client(make_settings(new_visitor_limit="3/minute"), "203.0.113.7") as client:
        tokens = []
        for _ in range(3):
            answer = await _fresh(client, "POST", "/api/presence", json={})
            assert answer.status_code == 200
            tokens.append(answer.headers["x-portal-session"])
        refused = await _fresh(client, "POST", "/api/presence", json={})
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert not any(name in refused.headers for name in SESSION_HEADERS)
        online = (await client.get("/api/presence", headers={"X-Portal-Session": tokens[0]})).json()
        assert online["online"] == 3, "the refused heartbeat was not counted"
        # Every call that would hand a session out is refused alike.
        for method, path, kwargs in [
            ("GET", "/api/presence", {}),
            ("GET", "/api/polls", {}),
            ("GET", "/api/polls/portal-rating", {}),
            ("POST", VOTES, {"json": {"option": "tot"}}),
            ("POST", VOTES, {"data": {"option": "tot"}}),
        ]:
            answer = await _fresh(client, method, path, **kwargs)
            assert answer.status_code == 429, (method, path, kwargs)
            assert not any(name in answer.headers for name in SESSION_HEADERS)
        # Returning visitors are never limited, whatever they call.
        for token in tokens:
            mine = {"X-Portal-Session": token}
            again = await client.post("/api/presence", json={}, headers=mine)
            assert again.status_code == 200 and "set-cookie" not in again.headers
            vote = await client.post(VOTES, json={"option": "tot"}, headers=mine)
            assert vote.status_code == 201
        # A leave never hands a session out, so it is never refused.
        assert (await _fresh(client, "POST", "/api/presence/leave", json={})).status_code == 204
        metrics = (await client.get("/metrics", headers={"X-Portal-Session": tokens[0]})).text
        assert 'portal_rate_limited_total{limit="new_visitor"} 6.0' in metrics


@pytest.mark.parametrize(
    ("first", "second", "shared"),
    [
        ("203.0.113.7", "203.0.113.8", False),
        ("2001:db8:1:2::1", "2001:db8:1:2:ffff::9", True),
        ("2001:db8:1:2::1", "2001:db8:1:3::1", False),
    ],
)
async def test_the_limit_is_per_ipv4_address_and_ipv6_slash_64(
    make_settings: Callable[..., Settings], first: str, second: str, shared: bool
) -> None:
    settings = make_settings(new_visitor_limit="2/minute")
    async with app_client(settings, first) as client:
        for _ in range(2):
            assert (await _fresh(client, "POST", "/api/presence", json={})).status_code == 200
    async with app_client(settings, second) as client:
        answer = await _fresh(client, "POST", "/api/presence", json={})
    assert answer.status_code == (429 if shared else 200)


async def test_the_limit_counts_the_client_behind_a_trusted_proxy(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(
        new_visitor_limit="1/minute", trusted_proxies=(ipaddress.ip_network("10.0.0.0/8"),)
    )
    async with app_client(settings, "10.0.0.2") as proxy:
        for client_address, status in [("198.51.100.1", 200), ("198.51.100.2", 200),
                                       ("198.51.100.1", 429)]:  # fmt: skip
            forwarded = {"X-Forwarded-For": client_address}
            answer = await _fresh(proxy, "POST", "/api/presence", json={}, headers=forwarded)
            assert answer.status_code == status, client_address


async def test_no_limit_when_off(make_settings: Callable[..., Settings]) -> None:
    async with app_client(make_settings(new_visitor_limit=None)) as client:
        for _ in range(100):
            assert (await _fresh(client, "POST", "/api/presence", json={})).status_code == 200


def test_the_default_limit_is_60_a_minute() -> None:
    settings = Settings.from_env({"PORTAL_SECRET_KEY": "x" * 32, "PORTAL_REDIS_URL": "redis://x"})
    assert settings.new_visitor_limit == "60/minute"


# Origins


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (None, True),
        ("http://portal.test", True),
        ("HTTP://Portal.Test", True),
        ("https://embed.example", True),
        ("https://evil.example", False),
        ("http://portal.test.evil.example", False),
        ("https://portal.test", False),
        ("null", False),
        ("", False),
    ],
)
async def test_heartbeats_and_leaves_only_from_the_sites_own_or_allowed_pages(
    make_settings: Callable[..., Settings], origin: str | None, allowed: bool
) -> None:
    settings = make_settings(allowed_origins=("https://embed.example",))
    headers = {} if origin is None else {"Origin": origin}
    async with app_client(settings) as client:
        mine = await client.post("/api/presence", json={"page": "/a.html"})
        token = {"X-Portal-Session": mine.headers["x-portal-session"]}
        client.cookies.clear()
        # A cross-site form or fetch with text/plain needs no preflight: the origin is all
        # that tells it from the widget.
        beat = await client.post(
            "/api/presence",
            content=b'{"page": "/a.html"}',
            headers={"Content-Type": "text/plain", **headers},
        )
        leave = await client.post("/api/presence/leave", json={}, headers={**token, **headers})
        online = (await client.get("/api/presence", headers=token)).json()["online"]
    if allowed:
        assert beat.status_code == 200 and leave.status_code == 204
        assert online == 1, "the second visitor beat, the first left"
    else:
        for answer in (beat, leave):
            assert answer.status_code == 403
            assert answer.json()["error"]["code"] == "forbidden_origin"
            assert "set-cookie" not in answer.headers
        assert online == 1, "the refused heartbeat counted nobody and the leave left nobody"


def test_portal_serve_limits_new_visitors_by_default(start_portal: Callable[..., str]) -> None:
    """The real service, with no setting: the 61st new session in a minute is refused."""
    base = start_portal()
    with httpx.Client(base_url=base, timeout=5) as client:
        tokens = []
        for _ in range(60):
            answer = client.post("/api/presence", json={})
            assert answer.status_code == 200
            tokens.append(answer.headers["x-portal-session"])
            client.cookies.clear()
        refused = client.post("/api/presence", json={})
        assert refused.status_code == 429 and "x-portal-session" not in refused.headers
        returning = client.post("/api/presence", json={}, headers={"X-Portal-Session": tokens[0]})
        assert returning.status_code == 200 and returning.json()["online"] == 60
