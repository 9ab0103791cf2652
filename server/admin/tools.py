"""What the admin API, console and live stream read: built once per app (`AdminTools`)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from server.admin.audit import AuditLog
from server.catalog import SiteCatalog
from server.history import TrafficHistory, TrafficRecorder
from server.poll_history import PollHistory
from server.polls import PollStore
from server.presence import Presence
from server.store import RedisClient
from server.timebuckets import Moment

PAGES_NOW = 20
_CANDIDATES = 60  # pages-now entries checked against live counts for the top PAGES_NOW


@dataclass(frozen=True, slots=True)
class PageNow:
    page: str
    title: str
    online: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The counts the overview and the live stream show."""

    online: int
    pages: list[PageNow]
    votes_today: int

    def as_json(self, pages: int = 10) -> dict[str, Any]:
        return {
            "online": self.online,
            "pages": [
                {"page": p.page, "title": p.title, "online": p.online} for p in self.pages[:pages]
            ],
            "votes_today": self.votes_today,
        }


class AdminTools:
    def __init__(
        self,
        redis: RedisClient,
        prefix: str,
        catalog: SiteCatalog,
        presence: Presence,
        polls: PollStore,
        traffic: TrafficHistory,
        recorder: TrafficRecorder,
    ) -> None:
        self.redis = redis
        self.catalog = catalog
        self.presence = presence
        self.polls = polls
        self.traffic = traffic
        self.recorder = recorder
        self.poll_history = PollHistory(redis, prefix, polls)
        self.audit = AuditLog(redis, prefix)

    def today(self) -> Moment:
        return Moment(time.time(), self.catalog.timezone)

    async def fresh(self) -> None:
        """This worker's last second of heartbeats filed, before history is read."""
        await self.recorder.flush()

    def title(self, page: str) -> str:
        pages = self.catalog.pages
        return (pages or {}).get(page, "")

    async def snapshot(self, pages: int = PAGES_NOW) -> Snapshot:
        """Online now, the pages people are on, votes today: one pipeline for what history
        keeps, one (coalesced) presence read for the live counts."""
        await self.fresh()
        day = self.today().day
        polls = list(self.polls.polls.values())
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrevrange(self.traffic.key("now"), 0, _CANDIDATES - 1)
            for poll in polls:
                pipe.hget(self.poll_history.keys(poll).series, f"d{day}")
            found = await pipe.execute()
        candidates = [page.decode() for page in found[0]]
        votes_today = sum(int(count or 0) for count in found[1:])
        counts = await asyncio.gather(
            self.presence.counts(None), *(self.presence.counts(p) for p in candidates)
        )
        known = self.catalog.pages
        live, gone = [], []
        for page, count in zip(candidates, counts[1:], strict=True):
            if count.page_online and (known is None or page in known):
                live.append(PageNow(page, self.title(page), count.page_online))
            else:
                gone.append(page)
        await self.traffic.forget_pages(gone)
        live.sort(key=lambda p: (-p.online, p.page))
        return Snapshot(counts[0].online, live[:pages], votes_today)
