"""Presence data at scale: compact members, big sets, expired members trimmed (no timing)."""

from __future__ import annotations

import base64
import os
import time
from typing import Any

import pytest
import redis
from redis.asyncio import Redis

from server.presence import Presence, session_member
from server.sessions import SessionSigner
from tests.conftest import SECRET


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


def test_members_are_the_ids_raw_bytes() -> None:
    session_id = SessionSigner((SECRET,), 60).new().id
    member = session_member(session_id)
    assert len(session_id) == 16 and len(member) == 12
    assert base64.urlsafe_b64encode(member).decode() == session_id
    # Anything that is not a 16-character url-safe id is kept as its text: never 12 bytes.
    for odd in ("short", "a+bcdefghijklmno", "x" * 17, "abcdefghijklmn=="):
        assert session_member(odd) == odd.encode()


async def test_heartbeat_stores_compact_members(
    async_redis: Redis, sync_redis: Any, key_prefix: str
) -> None:
    presence = Presence(async_redis, key_prefix, 60)
    session_id = SessionSigner((SECRET,), 60).new().id
    await presence.heartbeat(session_id, "/p.html")
    for key in (f"{key_prefix}{{presence}}:site", f"{key_prefix}{{presence}}:page:/p.html"):
        assert sync_redis.zrange(key, 0, -1) == [session_member(session_id)]


async def test_big_sets_count_exactly_and_trim_the_expired(
    async_redis: Redis, sync_redis: Any, key_prefix: str
) -> None:
    site = f"{key_prefix}{{presence}}:site"
    page = f"{key_prefix}{{presence}}:page:/big.html"
    now_ms = time.time() * 1000
    live, expired = 30_000, 20_000
    pipe = sync_redis.pipeline(transaction=False)
    for start in range(0, live + expired, 5_000):
        members = {}
        for i in range(start, start + 5_000):
            members[os.urandom(12)] = now_ms + 600_000 if i < live else now_ms - 1_000
        pipe.zadd(site, members)
        pipe.zadd(page, members)
    pipe.execute()
    presence = Presence(async_redis, key_prefix, 60)
    # Reading counts only the live members and writes nothing.
    read = await presence.counts("/big.html")
    assert (read.online, read.page_online) == (live, live)
    assert sync_redis.zcard(site) == live + expired
    # A heartbeat trims the expired and counts itself.
    beat = await presence.heartbeat(SessionSigner((SECRET,), 60).new().id, "/big.html")
    assert (beat.online, beat.page_online) == (live + 1, live + 1)
    assert sync_redis.zcard(site) == sync_redis.zcard(page) == live + 1
