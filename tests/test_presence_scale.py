"""Presence data: the layout, a Redis clock that steps back, TTL changes, memory after a burst.

The scripts run on a clock the tests set (`Presence.clock_ms`, passed to the scripts in
place of Redis `TIME`), so nothing here waits or times anything.
"""

from __future__ import annotations

import base64
import os
import random
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from redis.asyncio import Redis

from server.presence import Presence, page_token, session_member
from server.sessions import SessionSigner
from tests.conftest import SECRET
from tests.redis_process import RedisProcess

SECOND = 1000
ADDRESS = "0123456789abcdef"  # one address key (see server.history.address_key)


@pytest.fixture
async def async_redis(redis_url: str) -> Any:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def sync_redis(redis_url: str) -> Any:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server of our own: memory figures no other test disturbs."""
    server = RedisProcess(tmp_path_factory.mktemp("presence-redis")).start()
    yield server.url
    server.stop()


def at(presence: Presence, ms: int) -> Presence:
    presence.clock_ms = ms
    return presence


def start_clock() -> int:
    """A test clock in the future of the real one: keys never expire under the test's feet."""
    return (int(time.time()) + 1000) * SECOND


def test_members_are_the_ids_raw_bytes() -> None:
    session_id = SessionSigner((SECRET,), 60).new().id
    member = session_member(session_id)
    assert len(session_id) == 16 and len(member) == 12
    assert base64.urlsafe_b64encode(member).decode() == session_id
    # Anything that is not a 16-character url-safe id is kept as its text: never 12 bytes.
    for odd in ("short", "a+bcdefghijklmno", "x" * 17, "abcdefghijklmn=="):
        assert session_member(odd) == odd.encode()


async def test_a_session_counts_until_the_end_its_heartbeat_promised(
    async_redis: Redis, sync_redis: Any, key_prefix: str
) -> None:
    now = start_clock()
    presence = at(Presence(async_redis, key_prefix, 60), now)
    session_id = SessionSigner((SECRET,), 60).new().id
    await presence.heartbeat(session_id, "/p.html")
    member = session_member(session_id)
    base = f"{key_prefix}{{presence}}:v3:"
    for key in (f"{base}site", f"{base}page:{page_token('/p.html').hex()}"):
        assert sync_redis.zrange(key, 0, -1, withscores=True) == [(member, now + 60 * SECOND)]
    read = await at(presence, now + 60 * SECOND - 1).counts("/p.html")
    assert (read.online, read.page_online) == (1, 1)
    read = await at(presence, now + 60 * SECOND).counts("/p.html")
    assert (read.online, read.page_online) == (0, 0)


async def test_redis_clock_stepping_back_never_shortens_nor_offsets(
    async_redis: Redis, key_prefix: str
) -> None:
    """What broke the running total: a heartbeat, the clock back across a second, a leave."""
    t = start_clock() + 900
    presence = at(Presence(async_redis, key_prefix, 10), t)
    a, b, c = (SessionSigner((SECRET,), 60).new().id for _ in range(3))
    await presence.heartbeat(a, "/x.html")
    at(presence, t - 1500)  # a failover to a replica whose clock is 1.5 s behind
    await presence.leave(a)
    assert (await presence.counts("/x.html")).online == 0  # not -1
    beat = await presence.heartbeat(b, "/x.html")
    assert (beat.online, beat.page_online) == (1, 1)  # not 0
    # B beats at t; the clock steps back 5 s: B and C (beating now) stay counted.
    await at(presence, t).heartbeat(b, "/x.html")
    at(presence, t + 9 * SECOND)
    await presence.heartbeat(c, "/x.html")
    at(presence, t + 4 * SECOND)
    read = await presence.counts("/x.html")
    assert (read.online, read.page_online) == (2, 2)
    # B counts until its promised end (t + 10 s on the clock: 5 s longer in real time), C too.
    read = await at(presence, t + 10 * SECOND - 1).counts("/x.html")
    assert (read.online, read.page_online) == (2, 2)
    read = await at(presence, t + 10 * SECOND).counts("/x.html")
    assert (read.online, read.page_online) == (1, 1)
    beat = await at(presence, t + 19 * SECOND).heartbeat(a, None)
    assert (beat.online, beat.page_online) == (1, None)
    read = await at(presence, t + 29 * SECOND).counts("/x.html")
    assert (read.online, read.page_online) == (0, 0)


async def test_ttl_changes_each_session_counts_until_its_last_promise(
    async_redis: Redis, key_prefix: str
) -> None:
    """Instances with different TTLs (a rolling deploy), or PORTAL_PRESENCE_TTL changed."""
    t = start_clock()
    long, short = Presence(async_redis, key_prefix, 60), Presence(async_redis, key_prefix, 10)
    a, b = (SessionSigner((SECRET,), 60).new().id for _ in range(2))
    await at(long, t).heartbeat(a, "/t.html")
    await at(short, t).heartbeat(b, "/t.html")
    read = await at(short, t + 30 * SECOND).counts("/t.html")
    assert (read.online, read.page_online) == (1, 1)  # a, on the promise of the long ttl
    # a beats again through the short-ttl instance: its last promise is now t + 40 s.
    await at(short, t + 30 * SECOND).heartbeat(a, "/t.html")
    read = await at(long, t + 40 * SECOND - 1).counts("/t.html")
    assert (read.online, read.page_online) == (1, 1)
    read = await at(long, t + 40 * SECOND).counts("/t.html")
    assert (read.online, read.page_online) == (0, 0)
    # And the other way: short, then long.
    await at(short, t + 50 * SECOND).heartbeat(b, "/t.html")
    await at(long, t + 55 * SECOND).heartbeat(b, "/t.html")
    read = await at(short, t + 115 * SECOND - 1).counts("/t.html")
    assert (read.online, read.page_online) == (1, 1)


def presence_bytes(client: redis.Redis, prefix: str, now: int) -> int:
    """MEMORY USAGE of the presence keys, less the sorted sets whose every end is <= `now`:
    Redis expires those by then (each key expires at the latest end it holds, see
    `test_every_key_expires_with_the_latest_end_promised_in_it`), but on the real clock."""
    total = 0
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        if client.type(key) == b"zset":
            latest = client.zrange(key, -1, -1, withscores=True)
            if latest and latest[0][1] <= now:
                continue
        total += client.memory_usage(key, samples=0) or 0
    return total


async def test_memory_two_ttls_after_a_burst_follows_the_live_sessions(own_redis: str) -> None:
    """10,000 one-shot sessions over many pages, while 600 visitors stay and beat every
    ttl / 2: two ttls later, presence holds what the 600 need (measured against the same 600
    written fresh), within 1.2 times."""
    client = redis.Redis.from_url(own_redis)
    async_client = Redis.from_url(own_redis)
    try:
        t, ttl = start_clock(), 10
        presence = at(Presence(async_client, "burst:", ttl, max_online_per_address=10**6), t)
        rng = random.Random(11)
        pages = [f"/tin-tuc/bai-{rng.randrange(1500)}.html" for _ in range(10_000)]
        burst = [(os.urandom(12), page, False, ADDRESS) for page in pages]
        live = [(os.urandom(12), f"/muc/{i % 40}.html", False, ADDRESS) for i in range(600)]
        for start in range(0, len(burst), 2000):
            await presence._heartbeat_batch(burst[start : start + 2000])
        peak = presence_bytes(client, "burst:", t)
        for second in range(0, 2 * ttl + 1, ttl // 2):
            await at(presence, t + second * SECOND)._heartbeat_batch(live)
        after = presence_bytes(client, "burst:", t + 2 * ttl * SECOND)
        fresh = at(Presence(async_client, "fresh:", ttl, max_online_per_address=10**6), t)
        await fresh._heartbeat_batch(live)
        needed = presence_bytes(client, "fresh:", t)
        assert (await presence.counts(None)).online == 600
        assert peak > 5 * needed  # the burst was big ...
        assert after <= 1.2 * needed, (after, needed)  # ... and is gone
    finally:
        client.flushdb()
        client.close()
        await async_client.aclose()


async def test_every_key_expires_with_the_latest_end_promised_in_it(
    async_redis: Redis, sync_redis: Any, key_prefix: str
) -> None:
    """After a burst and no traffic, nothing stays: each key goes when the latest end promised
    in it has passed (the hashes with the site)."""
    t, ttl = start_clock(), 10
    presence = at(Presence(async_redis, key_prefix, ttl, max_online_per_address=10**6), t)
    longer = at(Presence(async_redis, key_prefix, 30, max_online_per_address=10**6), t)
    late, early = (SessionSigner((SECRET,), 60).new().id for _ in range(2))
    await longer.heartbeat(late, "/b/0.html")
    await longer.heartbeat(early, "/b/1.html")
    await presence.heartbeat(early, "/b/1.html")  # its last promise is the shorter one
    beats = [(os.urandom(12), f"/b/{i % 50}.html", False, ADDRESS) for i in range(2000)]
    await presence._heartbeat_batch(beats)
    keys = list(sync_redis.scan_iter(match=f"{key_prefix}*", count=1000))
    assert len(keys) == 5 + 50  # site, records, address groups, registry, peaks; 50 pages
    latest_site = sync_redis.zrange(presence._keys[0], -1, -1, withscores=True)[0][1]
    assert latest_site == t + 30 * SECOND
    page_1 = sync_redis.zrange(presence.page_key("/b/1.html"), -1, -1, withscores=True)
    assert page_1[0][1] == t + ttl * SECOND
    longer_promise = {presence.page_key(p).encode() for p in ("/b/0.html", "/b/1.html")}
    longer_promise |= {key.encode() for key in presence._keys}
    for key in keys:
        if sync_redis.type(key) == b"zset":
            latest = sync_redis.zrange(key, -1, -1, withscores=True)[0][1]
        elif key.endswith(b":peaks"):
            latest = t + 3 * SECOND  # kept one ttl after its last change, whichever ttl
        else:
            latest = latest_site
        promised = t + (30 if key in longer_promise else ttl) * SECOND
        # Each key lives until the latest end promised in it, and up to one second longer
        # (its expiry moves once a second); the test runs within a few seconds of real time.
        assert latest - t - 3 * SECOND <= sync_redis.pttl(key) <= promised - t + SECOND, key


async def test_scopes_shrink_back_to_the_compact_encoding(
    async_redis: Redis, sync_redis: Any, key_prefix: str
) -> None:
    """A page that had a crowd and now has a few visitors costs what a few visitors cost."""
    t, ttl = start_clock(), 10
    presence = at(Presence(async_redis, key_prefix, ttl, max_online_per_address=10**6), t)
    crowd = [(os.urandom(12), "/hot.html", False, ADDRESS) for _ in range(1000)]
    await presence._heartbeat_batch(crowd)
    key = presence.page_key("/hot.html")
    assert sync_redis.object("encoding", key) == b"skiplist"
    few = crowd[:5]
    await at(presence, t + ttl * SECOND // 2)._heartbeat_batch(few)
    await at(presence, t + ttl * SECOND)._heartbeat_batch(few)
    assert sync_redis.zcard(key) == 5
    assert sync_redis.object("encoding", key) == b"listpack"
    for name in ("site", "sessions", "addresses"):
        encoding = sync_redis.object("encoding", f"{key_prefix}{{presence}}:v3:{name}")
        assert encoding == b"listpack", name


def test_keys_share_one_slot(async_redis: Redis, key_prefix: str) -> None:
    """Redis Cluster: one script touches them all. Long page names cost no longer keys."""
    from redis.crc import key_slot

    presence = Presence(async_redis, key_prefix, 60)
    page = presence.page_key("/" + "đ" * 300)
    keys = [*presence._keys, page, presence.page_key("/a.html")]
    assert len({key_slot(key.encode()) for key in keys}) == 1
    assert page.startswith(f"{key_prefix}{{presence}}:v3:page:") and len(page) == len(keys[-1])


async def test_keys_of_the_earlier_layouts_are_ignored(
    async_redis: Redis, sync_redis: Any, key_prefix: str
) -> None:
    """Upgrading: presence restarts from zero; what the two-hash and the first sorted-set
    layouts left behind is never read, and expires on its own."""
    old = f"{key_prefix}{{presence}}:"
    sync_redis.hset(f"{old}online:site", mapping={"total": 7, "swept": 1, "cursor": 0})
    sync_redis.hset(f"{old}seen:site", mapping={b"x" * 12: 9999999999})
    sync_redis.zadd(f"{old}site", {"someone": 9e15})
    for key in sync_redis.scan_iter(match=f"{old}*"):
        sync_redis.expire(key, 62)  # as the earlier layouts left them
    presence = Presence(async_redis, key_prefix, 60)
    beat = await presence.heartbeat(SessionSigner((SECRET,), 60).new().id, "/index.html")
    assert (beat.online, beat.page_online) == (1, 1)
    read = await presence.counts("/index.html")
    assert (read.online, read.page_online) == (1, 1)
