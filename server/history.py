"""Traffic history: what the heartbeats leave behind, recorded by the service itself.

What the heartbeats of a worker bring is collected (`TrafficRecorder`) and filed about once
a second (`TrafficHistory.record`, one Lua call, `history_traffic.lua`), in the site's time
zone:
- the highest site-wide online count of each minute (kept 50 hours), hour (401 days) and
  day (for good);
- distinct sessions per day (exact: a set of the day's sessions, dropped after two days)
  and per month (a HyperLogLog: standard error 0.81%), each address adding at most
  `max_visitors_per_address` visitors to a day;
- page views (heartbeats marked `"view": true`) per hour and day, and per known page per
  day (401 days), each address adding at most `VIEWS_PER_VISITOR` times that many a day;
- the pages people are on now, a sorted set updated by the heartbeats (`pages_now`).

All of it is under the `{traffic}` hash tag, so the one script may touch it on Redis Cluster.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import zlib
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from redis.exceptions import RedisError
from starlette.types import Scope

from server.catalog import SiteCatalog
from server.clients import IPAddress, parse_ip
from server.presence import Beat, PresenceCounts
from server.ratelimit import hashed_group
from server.store import RedisClient, load_script
from server.timebuckets import Moment, day_label, hour_label, minute_label

_log = logging.getLogger(__name__)

VIEWS_PER_VISITOR = 20
"""Page views one address may add to a day, per visitor it may add."""
MAX_VIEWS_PER_ADDRESS = 1_000_000
"""Below the 2**20 the script keeps views in, beside the visitors of an address."""
PAGE_VIEW_BUCKETS = 16
"""A day's page views are spread over this many hashes by page: at 1,000 pages each holds
about 60, under Redis's 128-entry limit for its compact (listpack) encoding."""


def address_key(address: IPAddress | None, secret: str) -> str:
    """What history files a client under: a keyed hash of its address group (an IPv4
    address, an IPv6 /64), 64 bits of it; never the address."""
    return hashed_group(address, secret)[:16]


def client_key(scope: Scope, secret: str) -> str:
    """`address_key` of the request's (proxy-corrected) client address. Every heartbeat and
    vote needs it and an address sends many: remembered per address rather than parsed and
    hashed again each time."""
    client = scope.get("client")
    return _key_of_host(client[0] if client else "", secret)


@functools.lru_cache(maxsize=65_536)
def _key_of_host(host: str, secret: str) -> str:
    return address_key(parse_ip(host) if host else None, secret)


class TrafficHistory:
    """Records heartbeat batches and reads the traffic series back."""

    def __init__(self, redis: RedisClient, prefix: str, max_visitors_per_address: int) -> None:
        self.redis = redis
        self.tag = f"{prefix}{{traffic}}:"
        self.max_visitors = max_visitors_per_address
        self._record = load_script(redis, "history_traffic")

    def key(self, name: str) -> str:
        return self.tag + name

    async def mark_start(self) -> None:
        """History begins now, unless it began before (an upgrade keeps what was there)."""
        await self.redis.set(self.key("since"), repr(time.time()), nx=True)

    async def since(self) -> float | None:
        """When history began (unix seconds): every history answer says it."""
        value = await self.redis.get(self.key("since"))
        return float(value) if value else None

    def page_view_keys(self, day: int) -> list[str]:
        return [self.key(f"pv:{day}:{b}") for b in range(PAGE_VIEW_BUCKETS)]

    async def record(
        self,
        zone: ZoneInfo,
        online: int,
        sessions: Mapping[bytes, str],
        views: Mapping[tuple[str, str | None], int],
        pages_now: Mapping[str, int],
    ) -> None:
        """File what heartbeats brought: the highest `online` seen, each session with its
        address key, page views per (address key, known page or None), people per page."""
        now = Moment(time.time(), zone)
        day, hour = now.day, now.hour
        keys = [
            self.key("days"),
            self.key(f"h:{day}"),
            self.key(f"m:{hour}"),
            self.key(f"s:{day}"),
            self.key(f"a:{day}"),
            self.key(f"u:{now.month}"),
            self.key("now"),
        ]
        args: list[Any] = [
            day,
            hour % 24,
            now.minute % 60,
            online,
            self.max_visitors,
            min(self.max_visitors * VIEWS_PER_VISITOR, MAX_VIEWS_PER_ADDRESS),
            len(sessions),
            len(views),
        ]
        for member, address in sessions.items():
            args += [member, address]
        bucket_index: dict[int, int] = {}
        for (address, page), count in views.items():
            index = 0
            if page is not None:
                bucket = zlib.crc32(page.encode()) % PAGE_VIEW_BUCKETS
                index = bucket_index.get(bucket, 0)
                if index == 0:
                    keys.append(self.key(f"pv:{day}:{bucket}"))
                    index = bucket_index[bucket] = len(keys)
            args += [address, page or "", count, index]
        for page, people in pages_now.items():
            args += [page, people]
        await self._record(keys=keys, args=args)

    async def days(self, first: int, last: int) -> dict[str, int]:
        """Fields `o<day>`, `u<day>`, `v<day>` of the days `first..last` that have them."""
        fields = [f"{kind}{day}" for day in range(first, last + 1) for kind in "ouv"]
        values = await self.redis.hmget(self.key("days"), fields)
        return {f: int(v) for f, v in zip(fields, values, strict=True) if v is not None}

    async def day_points(self, first: int, last: int) -> list[dict[str, Any]]:
        found = await self.days(first, last)
        return [
            {
                "t": day_label(day),
                "online_max": found.get(f"o{day}"),
                "visitors": found.get(f"u{day}", 0),
                "views": found.get(f"v{day}", 0),
            }
            for day in range(first, last + 1)
        ]

    async def hour_points(self, first: int, last: int, zone: ZoneInfo) -> list[dict[str, Any]]:
        """Hours `first..last` (hour numbers): their online max and views."""
        days = range(first // 24, last // 24 + 1)
        found = await self._hashes([self.key(f"h:{day}") for day in days])
        by_day = dict(zip(days, found, strict=True))
        points = []
        for hour in range(first, last + 1):
            fields = by_day[hour // 24]
            online = fields.get(f"o{hour % 24}")
            points.append(
                {
                    "t": hour_label(hour, zone),
                    "online_max": online,
                    "visitors": None,
                    "views": fields.get(f"v{hour % 24}", 0),
                }
            )
        return points

    async def minute_points(self, first: int, last: int, zone: ZoneInfo) -> list[dict[str, Any]]:
        """Minutes `first..last` (minute numbers): their online max."""
        hours = range(first // 60, last // 60 + 1)
        found = await self._hashes([self.key(f"m:{hour}") for hour in hours])
        by_hour = dict(zip(hours, found, strict=True))
        return [
            {
                "t": minute_label(minute, zone),
                "online_max": by_hour[minute // 60].get(str(minute % 60)),
                "visitors": None,
                "views": None,
            }
            for minute in range(first, last + 1)
        ]

    async def page_views(self, first: int, last: int) -> dict[str, int]:
        """Views per page over the days `first..last`."""
        keys = [key for day in range(first, last + 1) for key in self.page_view_keys(day)]
        totals: dict[str, int] = {}
        for fields in await self._hashes(keys):
            for page, views in fields.items():
                totals[page] = totals.get(page, 0) + views
        return totals

    async def _hashes(self, keys: list[str]) -> list[dict[str, int]]:
        """Several history hashes, decoded, in one round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hgetall(key)
            found = await pipe.execute()
        return [_decoded(fields) for fields in found]

    async def visitor_totals(self, day: int, month: str) -> tuple[int, int, int]:
        """Distinct visitors today, this month (HyperLogLog), and the sum of every day's."""
        # Two commands at once (redis-py's cluster pipelines refuse PFCOUNT).
        days, estimate = await asyncio.gather(
            self.redis.hmget(self.key("days"), [f"u{day}", "total"]),
            self.redis.pfcount(self.key(f"u:{month}")),
        )
        today, total = (int(value or 0) for value in days)
        # The month's estimate may be off by about 0.8% either way: never below today, and
        # the sum of days is never below the month.
        this_month = max(int(estimate), today)
        return today, this_month, max(total, this_month)

    async def pages_now_candidates(self, count: int) -> list[tuple[str, int]]:
        """The `count` pages with the most people at their last heartbeat (may be stale)."""
        found: list[Any] = await self.redis.zrevrange(
            self.key("now"), 0, count - 1, withscores=True
        )
        return [(page.decode(), int(score)) for page, score in found]

    async def forget_pages(self, pages: Sequence[str]) -> None:
        if pages:
            await self.redis.zrem(self.key("now"), *pages)


def _decoded(fields: dict[bytes, bytes]) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in fields.items()}


class TrafficRecorder:
    """Collects what the heartbeat batches of this worker bring and files it about once a
    second (`FLUSH_SECONDS`), in one script call: recording costs a worker at most one Redis
    call a second however busy it is, not one more per batch. A crash loses at most that
    second of history (never a vote, a ballot or a presence count)."""

    FLUSH_SECONDS = 1.0

    def __init__(self, history: TrafficHistory, catalog: SiteCatalog) -> None:
        self.history = history
        self.catalog = catalog
        self._reset()
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: set[asyncio.Task[None]] = set()

    def _reset(self) -> None:
        self.online = -1
        self.sessions: dict[bytes, str] = {}
        self.views: dict[tuple[str, str | None], int] = {}
        self.pages_now: dict[str, int] = {}

    async def on_batch(self, beats: list[Beat], counts: list[PresenceCounts]) -> None:
        """The `Presence.on_batch` hook: only pages of the site's list count as pages (the
        beats' pages are already scopes: pages of the list, when there is one)."""
        listed = self.catalog.pages is not None
        for (member, page, view, address), count in zip(beats, counts, strict=True):
            known = page if listed else None
            if known is not None and count.page_online is not None:
                self.pages_now[known] = count.page_online
            self.sessions[member] = address
            if view:
                self.views[(address, known)] = self.views.get((address, known), 0) + 1
            self.online = max(self.online, count.online)
        if self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.FLUSH_SECONDS, self._flush_soon)

    def _flush_soon(self) -> None:
        task = asyncio.ensure_future(self.flush())
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def flush(self) -> None:
        """File what was collected now (admin reads call it, so this worker's last second
        is in what they read); a failure is logged and that second is lost."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.online < 0:
            return
        online, sessions, views, pages_now = (
            self.online, self.sessions, self.views, self.pages_now
        )  # fmt: skip
        self._reset()
        try:
            await self.history.record(self.catalog.timezone, online, sessions, views, pages_now)
        except (RedisError, OSError) as exc:
            _log.warning("traffic history of the last second not recorded: %s", exc)


async def start_history(history: TrafficHistory) -> None:
    """Mark when history began; a Redis that is down now must not stop the service starting
    (the next start marks it, and answers say `since: null` until then)."""
    try:
        await history.mark_start()
    except (RedisError, OSError) as exc:
        _log.warning("could not mark the start of history: %s", exc)
