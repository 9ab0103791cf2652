"""Presence data at scale: compact members, big sets, expired members trimmed (no timing)."""

from __future__ import annotations

import asyncio
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

MARKER = b"~" * 128  # see presence_heartbeat.lua


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
    for scope in ("site", "page:/p.html"):
        key = f"{key_prefix}{{presence}}:seen:{scope}"
        # O(1) lookups from the first session on, not the compact encoding's O(n).
        assert sync_redis.object("encoding", key) == b"hashtable"
        seen = sync_redis.hgetall(key)
        seen.pop(MARKER)  # keeps the hash in the hash-table encoding; never counted
        assert list(seen) == [session_member(session_id)]
        # It counts until the end of the second 60 s from now.
        assert 60 <= int(seen[session_member(session_id)]) - time.time() <= 61.01


async def beat_many(presence: Presence, members: list[bytes], page: str) -> list[int]:
    """Heartbeats in script calls of 5,000, as a busy worker would send them."""
    online = []
    for start in range(0, len(members), 5_000):
        batch = [(member, page, False, "") for member in members[start : start + 5_000]]
        counts = await presence._heartbeat_batch(batch)
        online.append(counts[-1].online)
    return online


async def test_big_scopes_count_exactly_and_drop_the_ended(
    async_redis: Redis, sync_redis: Any, key_prefix: str
) -> None:
    page = "/big.html"
    seen = f"{key_prefix}{{presence}}:seen:site"
    ended = [os.urandom(12) for _ in range(20_000)]
    live = [os.urandom(12) for _ in range(30_000)]
    # Sessions that beat once, with a one-second ttl, and then went away.
    await beat_many(Presence(async_redis, key_prefix, 1), ended, page)
    await asyncio.sleep(2.1)
    presence = Presence(async_redis, key_prefix, 60)
    read = await presence.counts(page)
    assert (read.online, read.page_online) == (0, 0)
    assert sync_redis.hlen(seen) == 20_000 + 1  # reading writes nothing (+1: the marker)
    # Each heartbeat counts exactly, on top of the ended ones' leftovers.
    assert await beat_many(presence, live, page) == list(range(5_000, 30_001, 5_000))
    read = await presence.counts(page)
    assert (read.online, read.page_online) == (30_000, 30_000)
    # Heartbeats go round `seen`, dropping what ended: the live sessions beating again (every
    # half ttl) are enough to leave only them.
    for _ in range(5):
        await beat_many(presence, live, page)
        if sync_redis.hlen(seen) == len(live) + 1:
            break
    for scope in ("site", f"page:{page}"):
        assert sync_redis.hlen(f"{key_prefix}{{presence}}:seen:{scope}") == len(live) + 1
    read = await presence.counts(page)
    assert (read.online, read.page_online) == (30_000, 30_000)


async def test_a_session_beating_again_moves_its_end(async_redis: Redis, key_prefix: str) -> None:
    presence = Presence(async_redis, key_prefix, 1)
    session_id = SessionSigner((SECRET,), 60).new().id
    await asyncio.sleep(1.1 - time.time() % 1)  # start just after a second begins
    assert (await presence.heartbeat(session_id, "/m.html")).online == 1
    await asyncio.sleep(1.05)  # the next second: the session still counts, and beats again
    beat = await presence.heartbeat(session_id, "/m.html")
    assert (beat.online, beat.page_online) == (1, 1)
    await asyncio.sleep(1.05)  # past where its first heartbeat would have ended it
    assert (await presence.counts("/m.html")).page_online == 1
    await asyncio.sleep(1.05)
    read = await presence.counts("/m.html")
    assert (read.online, read.page_online) == (0, 0)
