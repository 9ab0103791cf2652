"""Presence: how many sessions were seen within the last `ttl` seconds, site-wide and per page.

Each scope (the site, one page) is two hashes (see `presence_heartbeat.lua`): `seen` maps a
session to the second its presence ends, and `online` keeps the count with how many
sessions end in each second ahead. A heartbeat updates both in one Lua script; reading the
count is the total minus the few seconds not yet swept: the same cost at a million online
as at ten, and it writes nothing. A session costs one hash entry (about 64 bytes of Redis;
a sorted set member cost about 102). No background job: each heartbeat also checks one
entry for a session that ended, going round the hash. All presence keys share the
`{presence}` hash tag so one script may touch the site and a page together on Redis Cluster.

A session counts for at least `ttl` seconds after its heartbeat: until the end of the second
`ttl` from then (so up to one second more).

Members are the session ids' 12 raw bytes rather than their 16 base64 characters: a smaller
allocation per entry, which is most of a visitor's footprint in Redis.
Heartbeats and count reads sent within one event-loop tick share one script call (see
`server.batching`); each still gets the counts it would have got alone.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from server.batching import Coalescer
from server.errors import ApiError
from server.store import RedisClient, load_script

MAX_PAGE_LENGTH = 512
# `seen` entries a heartbeat checks for sessions that ended: with every visitor beating each
# half `ttl`, the checks go round all entries in about `ttl / 2` seconds. More costs Redis
# CPU on every heartbeat (an `HSCAN` and a look at each entry it returns).
_LEFTOVER_CHECKS_PER_HEARTBEAT = 1
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{16}")


@dataclass(frozen=True, slots=True)
class PresenceCounts:
    online: int
    page_online: int | None
    ttl: int

    def as_json_bytes(self) -> bytes:
        """`{"online", "page_online", "ttl"}`, formatted directly: this is the hottest answer."""
        page = "null" if self.page_online is None else str(self.page_online)
        return f'{{"online":{self.online},"page_online":{page},"ttl":{self.ttl}}}'.encode()


Beat = tuple[bytes, str | None, bool, str]
"""A heartbeat in a batch: session member, page, whether it is a page view, address key."""
BatchHook = Callable[[list[Beat], list[PresenceCounts]], Awaitable[None]]


def normalize_page(page: object) -> str | None:
    """A page is a site path like `/tin-tuc/a.html`; query and fragment are not part of it."""
    if page is None:
        return None
    if not isinstance(page, str):
        raise ApiError(422, "invalid_page", "page must be a string path such as /index.html")
    path = page.split("#", 1)[0].split("?", 1)[0]
    if path == "":
        return None
    if (
        not path.startswith("/")
        or path.startswith("//")
        or len(path) > MAX_PAGE_LENGTH
        or not path.isprintable()
    ):
        raise ApiError(
            422,
            "invalid_page",
            f"page must be a path starting with / (at most {MAX_PAGE_LENGTH} characters)",
        )
    return path


def session_member(session_id: str) -> bytes:
    """The sorted-set member for a session: its id's 12 raw bytes.

    Ids are 16 url-safe base64 characters (see `server.sessions`); anything else is stored as
    its UTF-8 text, which cannot collide with a 12-byte member of a 16-character id.
    """
    if _SESSION_ID.fullmatch(session_id):
        return base64.urlsafe_b64decode(session_id)
    return session_id.encode()


class Presence:
    """Heartbeats, leaves and counts for one site."""

    def __init__(self, redis: RedisClient, prefix: str, ttl_seconds: int) -> None:
        self.redis = redis
        self.ttl = ttl_seconds
        self._prefix = f"{prefix}{{presence}}:"
        self._heartbeat_script = load_script(redis, "presence_heartbeat")
        self._count_script = load_script(redis, "presence_count")
        self._leave_script = load_script(redis, "presence_leave")
        self._heartbeats: Coalescer[Beat, PresenceCounts] = Coalescer(self._heartbeat_batch)
        self.on_batch: BatchHook | None = None
        """Called once per heartbeat batch, with its counts (traffic history records them)."""
        self._reads: Coalescer[str | None, PresenceCounts] = Coalescer(self._count_batch)

    def _online_key(self, page: str | None) -> str:
        return f"{self._prefix}online:{'site' if page is None else 'page:' + page}"

    def _seen_key(self, page: str | None) -> str:
        return f"{self._prefix}seen:{'site' if page is None else 'page:' + page}"

    async def heartbeat(
        self, session_id: str, page: str | None, view: bool = False, address: str = ""
    ) -> PresenceCounts:
        """This session is online (on `page` too, if given) for the next `ttl` seconds."""
        return await self._heartbeats((session_member(session_id), page, view, address))

    async def counts(self, page: str | None) -> PresenceCounts:
        return await self._reads(page)

    async def leave(self, session_id: str, page: str | None) -> None:
        """This session is offline now: site-wide, and on `page` if given."""
        scopes = [None] if page is None else [None, page]
        keys = [key for scope in scopes for key in (self._online_key(scope), self._seen_key(scope))]
        await self._leave_script(keys=keys, args=[session_member(session_id)])

    async def _heartbeat_batch(self, beats: list[Beat]) -> list[PresenceCounts]:
        """One script call for many heartbeats; each answered with its own counts."""
        keys = [self._online_key(None), self._seen_key(None)]
        page_index: dict[str, int] = {}
        args: list[bytes | int] = [self.ttl, _LEFTOVER_CHECKS_PER_HEARTBEAT]
        for member, page, _, _ in beats:
            index = 0
            if page is not None:
                index = page_index.get(page, 0)
                if index == 0:
                    index = page_index[page] = len(keys) + 1  # Lua's KEYS are 1-based
                    keys.append(self._online_key(page))
                    keys.append(self._seen_key(page))
            args.append(member)
            args.append(index)
        flat = await self._heartbeat_script(keys=keys, args=args)
        ttl = self.ttl
        counts = [
            PresenceCounts(int(flat[i]), None if flat[i + 1] < 0 else int(flat[i + 1]), ttl)
            for i in range(0, len(flat), 2)
        ]
        if self.on_batch is not None:
            await self.on_batch(beats, counts)
        return counts

    async def _count_batch(self, pages: list[str | None]) -> list[PresenceCounts]:
        """One script call for many readers: each distinct scope counted once."""
        distinct = list(dict.fromkeys(page for page in pages if page is not None))
        keys = [self._online_key(None), *(self._online_key(page) for page in distinct)]
        counts = await self._count_script(keys=keys, args=[self.ttl])
        online = int(counts[0])
        by_page = {page: int(count) for page, count in zip(distinct, counts[1:], strict=True)}
        ttl = self.ttl
        return [
            PresenceCounts(online, None if page is None else by_page[page], ttl) for page in pages
        ]
