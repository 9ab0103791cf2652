"""Presence: how many sessions were seen within the last `ttl` seconds, site-wide and per page.

Each scope (the site, one page) is a sorted set of session ids scored by the time they stop
counting. A heartbeat re-scores its session and trims the expired ones in one Lua script;
reading counts members with a score still ahead (ZCOUNT, O(log N)). No background job, no
SCAN. All presence keys share the `{presence}` hash tag so one script may touch the site and
a page together on Redis Cluster.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from server.errors import ApiError
from server.store import load_script

MAX_PAGE_LENGTH = 512


@dataclass(frozen=True, slots=True)
class PresenceCounts:
    online: int
    page_online: int | None
    ttl: int

    def as_json(self) -> dict[str, int | None]:
        return {"online": self.online, "page_online": self.page_online, "ttl": self.ttl}


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


class Presence:
    """Heartbeats, leaves and counts for one site."""

    def __init__(self, redis: Redis, prefix: str, ttl_seconds: int) -> None:
        self.redis = redis
        self.ttl = ttl_seconds
        self._ttl_ms = ttl_seconds * 1000
        self._site_key = f"{prefix}{{presence}}:site"
        self._page_prefix = f"{prefix}{{presence}}:page:"
        self._heartbeat = load_script(redis, "presence_heartbeat")
        self._count = load_script(redis, "presence_count")

    def _keys(self, page: str | None) -> list[str]:
        if page is None:
            return [self._site_key]
        return [self._site_key, self._page_prefix + page]

    def _counts(self, page: str | None, counts: list[int]) -> PresenceCounts:
        return PresenceCounts(
            online=int(counts[0]),
            page_online=int(counts[1]) if page is not None else None,
            ttl=self.ttl,
        )

    async def heartbeat(self, session_id: str, page: str | None) -> PresenceCounts:
        """This session is online (on `page` too, if given) for the next `ttl` seconds."""
        counts = await self._heartbeat(keys=self._keys(page), args=[session_id, self._ttl_ms])
        return self._counts(page, counts)

    async def counts(self, page: str | None) -> PresenceCounts:
        return self._counts(page, await self._count(keys=self._keys(page)))

    async def leave(self, session_id: str, page: str | None) -> None:
        """This session is offline now: site-wide, and on `page` if given."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in self._keys(page):
                pipe.zrem(key, session_id)
            await pipe.execute()
