"""Presence against hostile clients: page floods, banked sessions, leaves, votes at maxmemory.

Memory is measured on a redis-server of our own (`INFO memory`, `MEMORY USAGE`), which no
other test disturbs.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import random
import time
from collections.abc import Callable, Iterator
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.asyncio import Redis

from server.catalog import SiteCatalog, write_manifest
from server.history import address_key
from server.presence import Beat, Presence
from server.sessions import HEADER_NAME
from server.settings import Settings
from tests.conftest import SECRET
from tests.redis_process import RedisProcess

FLOOD = 100_000
MB = 1 << 20


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = RedisProcess(tmp_path_factory.mktemp("presence-bounds")).start()
    yield server.url
    server.stop()


def addresses(count: int) -> list[str]:
    """The address keys of `count` IPv4 addresses, as the heartbeat handler makes them."""
    return [address_key(ipaddress.IPv4Address(0x0A000000 + i), SECRET) for i in range(count)]


def flood_beats(pages: bool) -> list[Beat]:
    """FLOOD sessions, 50 per address (the bound), each on a page of its own."""
    groups = addresses(FLOOD // 50)
    return [
        (os.urandom(12), f"/flood/{i}.html" if pages else None, False, groups[i // 50])
        for i in range(FLOOD)
    ]


async def flood(url: str, prefix: str, catalog: SiteCatalog | None, pages: bool) -> int:
    """Bytes Redis grew by for the flood (then wiped); asserts what each heartbeat got."""
    sync, client = redis.Redis.from_url(url), Redis.from_url(url)
    try:
        sync.execute_command("FLUSHDB", "SYNC")  # memory freed before the next measure
        before = sync.info("memory")["used_memory"]
        presence = Presence(client, prefix, 60, catalog=catalog)
        beats = flood_beats(pages)
        results = []
        for start in range(0, len(beats), 5000):
            results += await presence._heartbeat_batch(beats[start : start + 5000])
        assert [r.online for r in results] == list(range(1, FLOOD + 1))
        grown = int(sync.info("memory")["used_memory"]) - before
        page_keys = list(sync.scan_iter(match=f"{prefix}{{presence}}:v3:page:*", count=1000))
        scoped = [r.page_online for r in results if r.page_online is not None]
        if catalog is not None or not pages:
            assert page_keys == [] and scoped == []
        else:
            assert len(page_keys) == len(scoped) == presence.max_pages == 10_000
            # Over the bound: a new page counts site-wide only, and says so.
            assert (await presence.heartbeat("x" * 16, "/one-more.html")).page_online is None
        return grown
    finally:
        sync.execute_command("FLUSHDB", "SYNC")  # memory freed before the next measure
        sync.close()
        await client.aclose()


async def test_a_page_flood_grows_redis_by_the_sessions_only_with_a_page_list(
    own_redis: str,
) -> None:
    catalog = SiteCatalog(None, None)
    catalog.pages = {"/index.html": "Trang chủ"}
    sessions_only = await flood(own_redis, "nopage:", None, pages=False)
    listed = await flood(own_redis, "listed:", catalog, pages=True)
    assert listed <= sessions_only * 1.02 + 256 * 1024, (listed, sessions_only)


async def test_a_page_flood_without_a_page_list_costs_at_most_16_mb(own_redis: str) -> None:
    sessions_only = await flood(own_redis, "nopage:", None, pages=False)
    unlisted = await flood(own_redis, "unlisted:", None, pages=True)
    assert 0 < unlisted - sessions_only <= 16 * MB, (unlisted, sessions_only)


async def test_unknown_pages_answer_null_and_create_no_key(
    client_for: Callable[..., Any],
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    redis_url: str,
) -> None:
    pages = [{"path": "/index.html", "title": "Trang chủ"}, {"path": "/tin/b.html", "title": "B"}]
    write_manifest(
        tmp_path / "_portal" / "site.json",
        {"format": 1, "timezone": "Asia/Ho_Chi_Minh", "pages": pages, "polls": []},
    )
    settings = make_settings(build_dir=tmp_path)
    async with client_for(settings) as client:
        for page, counted in [("/", 1), ("/tin/b.html", 1), ("/tin/", None), ("/x.html", None)]:
            beat = (await client.post("/api/presence", json={"page": page})).json()
            assert beat["page_online"] == counted, page
        read = await client.get("/api/presence", params={"page": "/index.html"})
        assert read.json()["page_online"] == 1  # "/" and "/index.html" are one page
        assert (await client.get("/api/presence", params={"page": "/x.html"})).json() == {
            "online": 1,
            "page_online": None,
            "ttl": 60,
        }
    sync = redis.Redis.from_url(redis_url)
    try:
        page_keys = list(sync.scan_iter(match=f"{settings.redis_prefix}*:page:*"))
        assert len(page_keys) == 2
    finally:
        sync.close()


async def test_banked_sessions_replayed_at_once_count_up_to_the_bound(
    client_for: Callable[..., Any], make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(max_online_per_address=50)
    async with client_for(settings) as banker, client_for(settings, peer="192.0.2.7") as other:
        tokens = []
        for _ in range(60):
            banker.cookies.clear()
            tokens.append((await banker.get("/api/polls")).headers[HEADER_NAME])
        banker.cookies.clear()
        replayed = await asyncio.gather(
            *(banker.post("/api/presence", json={}, headers={HEADER_NAME: t}) for t in tokens)
        )
        assert {r.status_code for r in replayed} == {200}
        assert max(r.json()["online"] for r in replayed) == 50
        assert (await banker.get("/api/presence")).json()["online"] == 50
        # Another address is not held back; one of the 50 leaving makes room for one more.
        assert (await other.post("/api/presence", json={})).json()["online"] == 51
        await banker.post("/api/presence/leave", json={}, headers={HEADER_NAME: tokens[0]})
        again = await banker.post("/api/presence", json={}, headers={HEADER_NAME: tokens[-1]})
        assert again.json()["online"] == 51
        assert (await banker.get("/api/presence")).json()["online"] == 51


async def test_an_ipv6_64_is_one_address(redis_url: str, key_prefix: str) -> None:
    client = Redis.from_url(redis_url)
    try:
        presence = Presence(client, key_prefix, 60, max_online_per_address=2)
        one, two, three = (address_key(ip_address(f"2001:db8::{i}"), SECRET) for i in (1, 2, 3))
        beats = [("a" * 16, one), ("b" * 16, two), ("c" * 16, three)]
        counted = [(await presence.heartbeat(s, None, False, a)).counted for s, a in beats]
        assert counted == [True, True, False]
        elsewhere = address_key(ip_address("2001:db8:0:1::1"), SECRET)
        assert (await presence.heartbeat("d" * 16, None, False, elsewhere)).online == 3
    finally:
        await client.aclose()


async def test_a_leave_without_page_takes_the_session_off_every_page(
    client_for: Callable[..., Any], settings: Settings
) -> None:
    async with client_for(settings) as tabs, client_for(settings) as reader:
        await tabs.post("/api/presence", json={"page": "/a.html"})
        await tabs.post("/api/presence", json={"page": "/b.html"})  # a second tab
        await reader.post("/api/presence", json={"page": "/b.html"})
        assert (await reader.get("/api/presence", params={"page": "/a.html"})).json() == {
            "online": 2,
            "page_online": 1,
            "ttl": 60,
        }
        assert (await tabs.post("/api/presence/leave", json={})).status_code == 204
        for page, left in [("/a.html", 0), ("/b.html", 1)]:
            read = (await reader.get("/api/presence", params={"page": page})).json()
            assert (read["online"], read["page_online"]) == (1, left)


async def test_page_online_never_exceeds_online(redis_url: str, key_prefix: str) -> None:
    """Random heartbeats (several tabs, several TTLs, an address at its bound), leaves with
    and without a page, a clock going forward and sometimes back: after every step each page
    counts at most the site's online."""
    client = Redis.from_url(redis_url)
    try:
        rng = random.Random(6)
        now = (int(time.time()) + 1000) * 1000
        instances = [
            Presence(client, key_prefix, ttl, max_online_per_address=3) for ttl in (5, 20, 60)
        ]
        sessions = [f"session-{i:08d}" for i in range(12)]
        groups = addresses(3)
        pages = [f"/p{i}.html" for i in range(10)]
        for _ in range(600):
            presence = rng.choice(instances)
            now += rng.choice([-3000, 200, 1000, 4000])
            presence.clock_ms = now
            session = rng.choice(sessions)
            if rng.random() < 0.1:
                await presence.leave(session)
            elif rng.random() < 0.1:
                await presence.leave(session, rng.choice(pages))  # one tab of several closes
            else:
                group = groups[sessions.index(session) % 3]
                await presence.heartbeat(session, rng.choice([*pages, None]), False, group)
            for page in pages:
                read = await presence.counts(page)
                assert read.page_online is not None and 0 <= read.page_online <= read.online
    finally:
        await client.aclose()


async def test_votes_answer_201_after_a_presence_flood_at_maxmemory(
    own_redis: str, client_for: Callable[..., Any], make_settings: Callable[..., Settings]
) -> None:
    """Redis provisioned as docs/operations.md says for 10,000 online (8 MB, page scopes
    bounded by PORTAL_MAX_PAGES included) plus what the votes need; a flood of 10,000
    sessions within the limits, each on a page of its own, leaves room for votes."""
    sync, client = redis.Redis.from_url(own_redis), Redis.from_url(own_redis)
    try:
        sync.execute_command("FLUSHDB", "SYNC")  # memory freed before the next measure
        sync.config_set("maxmemory-policy", "noeviction")
        sync.config_set("maxmemory", int(sync.info("memory")["used_memory"]) + 8 * MB + MB)
        presence = Presence(client, "flood:", 60)
        groups = addresses(200)
        beats: list[Beat] = [
            (os.urandom(12), f"/f/{i}.html", False, groups[i // 50]) for i in range(10_000)
        ]
        for start in range(0, len(beats), 5000):
            await presence._heartbeat_batch(beats[start : start + 5000])
        assert (await presence.counts(None)).online == 10_000
        settings = make_settings(redis_url=own_redis, redis_prefix="flood:")
        async with client_for(settings) as voter:
            vote = await voter.post("/api/polls/portal-rating/votes", json={"option": "tot"})
            assert vote.status_code == 201, vote.text
            assert (await voter.post("/api/presence", json={"page": "/"})).status_code == 200
    finally:
        sync.config_set("maxmemory", 0)
        sync.execute_command("FLUSHDB", "SYNC")  # memory freed before the next measure
        sync.close()
        await client.aclose()
