"""Presence: exact counts of sessions (not requests, not tabs), expiry, leave."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import redis

from server.presence import page_token
from server.sessions import HEADER_NAME
from server.settings import Settings


async def new_session(client: httpx.AsyncClient) -> str:
    response = await client.get("/api/presence")
    return response.headers[HEADER_NAME]


async def test_heartbeat_counts_site_and_page(client: httpx.AsyncClient) -> None:
    first = await client.post("/api/presence", json={"page": "/a.html"})
    assert first.status_code == 200
    assert first.json() == {"online": 1, "page_online": 1, "ttl": 60}
    # Same session again (the cookie travels): still one.
    again = await client.post("/api/presence", json={"page": "/a.html"})
    assert again.json() == {"online": 1, "page_online": 1, "ttl": 60}


async def test_counts_sessions_not_requests(
    client_for: Callable[..., Any], settings: Settings
) -> None:
    async with client_for(settings) as reader:
        tokens = []
        for _ in range(5):
            async with client_for(settings) as visitor:
                response = await visitor.post("/api/presence", json={"page": "/p.html"})
                tokens.append(response.headers[HEADER_NAME])
        # Each session heartbeats many times, concurrently: still five.
        async with client_for(settings) as raw:
            await asyncio.gather(
                *(
                    raw.post("/api/presence", json={"page": "/p.html"}, headers={HEADER_NAME: t})
                    for t in tokens * 10
                )
            )
        counts = (await reader.get("/api/presence", params={"page": "/p.html"})).json()
        assert counts == {"online": 5, "page_online": 5, "ttl": 60}
        assert (await reader.get("/api/presence", params={"page": "/other.html"})).json() == {
            "online": 5,
            "page_online": 0,
            "ttl": 60,
        }


async def test_get_registers_nothing(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        response = await client.get("/api/presence", params={"page": "/x.html"})
        assert response.json() == {"online": 0, "page_online": 0, "ttl": 60}
    assert (await client.get("/api/presence")).json()["page_online"] is None


async def test_presence_expires_after_ttl(
    client_for: Callable[..., Any], make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(presence_ttl=2)
    async with client_for(settings) as client:
        assert (await client.post("/api/presence", json={"page": "/e.html"})).json()["online"] == 1
        # Counted for at least `ttl` seconds, at most one more (presence ends on a whole second).
        await asyncio.sleep(1.9)
        assert (await client.get("/api/presence", params={"page": "/e.html"})).json() == {
            "online": 1,
            "page_online": 1,
            "ttl": 2,
        }
        await asyncio.sleep(1.2)
        assert (await client.get("/api/presence", params={"page": "/e.html"})).json() == {
            "online": 0,
            "page_online": 0,
            "ttl": 2,
        }


async def test_idle_page_keys_vanish(
    client_for: Callable[..., Any], make_settings: Callable[..., Settings], redis_url: str
) -> None:
    settings = make_settings(presence_ttl=2)
    async with client_for(settings) as client:
        await client.post("/api/presence", json={"page": "/gone.html"})
    sync = redis.Redis.from_url(redis_url)
    base = f"{settings.redis_prefix}{{presence}}:v3:"
    page = f"{base}page:{page_token('/gone.html').hex()}"
    for key in (page, f"{base}site", f"{base}sessions", f"{base}addresses"):
        assert 0 < sync.pttl(key) <= 3000  # gone once its last session has ended (+ <= 1 s)
    sync.close()


async def test_leave_drops_the_session_now(
    client_for: Callable[..., Any], settings: Settings
) -> None:
    async with client_for(settings) as a, client_for(settings) as b:
        await a.post("/api/presence", json={"page": "/l.html"})
        await b.post("/api/presence", json={"page": "/l.html"})
        assert (await a.get("/api/presence", params={"page": "/l.html"})).json()["online"] == 2
        # With a page: that page only (another tab of b may still show the site).
        leave = await b.post("/api/presence/leave", json={"page": "/l.html"})
        assert leave.status_code == 204
        read = (await a.get("/api/presence", params={"page": "/l.html"})).json()
        assert (read["online"], read["page_online"]) == (2, 1)
        # Without a page: the site and every page.
        await b.post("/api/presence", json={"page": "/l.html"})
        assert (await b.post("/api/presence/leave", json={})).status_code == 204
        assert (await a.get("/api/presence", params={"page": "/l.html"})).json() == {
            "online": 1,
            "page_online": 1,
            "ttl": 60,
        }


async def test_leave_by_beacon_with_token_in_body(
    client_for: Callable[..., Any], settings: Settings
) -> None:
    async with client_for(settings) as a, client_for(settings) as beacon:
        token = (await a.post("/api/presence", json={})).headers[HEADER_NAME]
        # sendBeacon: a text/plain string body, no cookie, no custom header.
        response = await beacon.post(
            "/api/presence/leave",
            content=f'{{"session": "{token}"}}',
            headers={"content-type": "text/plain;charset=UTF-8"},
        )
        assert response.status_code == 204
        assert (await a.get("/api/presence")).json()["online"] == 0


async def test_leave_without_session_changes_nothing(
    client_for: Callable[..., Any], settings: Settings
) -> None:
    async with client_for(settings) as a, client_for(settings) as stranger:
        await a.post("/api/presence")
        assert (await stranger.post("/api/presence/leave")).status_code == 204
        forged = await stranger.post("/api/presence/leave", content='{"session": "x.y.z"}')
        assert forged.status_code == 204
        assert (await a.get("/api/presence")).json()["online"] == 1


async def test_page_is_normalised_and_checked(client: httpx.AsyncClient) -> None:
    await client.post("/api/presence", json={"page": "/q.html?utm=1#top"})
    assert (await client.get("/api/presence", params={"page": "/q.html"})).json()[
        "page_online"
    ] == 1
    for bad in ["q.html", "//evil.example/x", 5, ["/a"], "/" + "a" * 600, "/tab\there"]:
        response = await client.post("/api/presence", json={"page": bad})
        assert response.status_code == 422, bad
        assert response.json()["error"]["code"] == "invalid_page"
    assert (await client.get("/api/presence", params={"page": "nope"})).status_code == 422
