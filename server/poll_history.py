"""A poll's history: votes per hour and day, the abuse view, and voiding a burst.

`vote.lua` files each counted vote, in the step that counts it, under its local hour and
day (`<tag>:series`, fields `h<hour>:<option>` and `d<day>:<option>`) and, with when it was
cast, under a keyed hash of the voter's address group (`<tag>:cast:<hash>`, a sorted set;
`<tag>:prefixes` counts ballots per hash). `poll_void.lua` takes a window of one hash's
ballots off the tally and the series in one step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from server.poll_config import Poll
from server.polls import PollHistoryKeys, PollStore
from server.store import RedisClient, load_script
from server.timebuckets import day_label, hour_label, instant_label, utc_offset

ABUSE_PREFIXES = 20
"""Address hashes the abuse view lists, most ballots first."""
ABUSE_BALLOTS_READ = 100_000
"""Ballots of one hash the abuse view reads to find its peak minute (a cap on the work)."""


@dataclass(frozen=True, slots=True)
class Prefix:
    prefix: str
    ballots: int
    first: float | None
    last: float | None
    peak_per_minute: int


class PollHistory:
    """Reads a poll's series and ballots by address hash; voids bursts."""

    def __init__(self, redis: RedisClient, prefix: str, polls: PollStore) -> None:
        self.redis = redis
        self.prefix = prefix
        self.polls = polls
        self._void = load_script(redis, "poll_void")

    def keys(self, poll: Poll) -> PollHistoryKeys:
        return PollHistoryKeys(self.prefix, poll.id)

    async def series(
        self, poll: Poll, step: str, first: int, last: int, zone: ZoneInfo, options: list[str]
    ) -> list[dict[str, Any]]:
        """Points for the hours or days `first..last` (bucket numbers), one count per option."""
        kind = "h" if step == "hour" else "d"
        buckets = range(first, last + 1)
        fields = [f"{kind}{b}:{o}" for b in buckets for o in options]
        values = await self.redis.hmget(self.keys(poll).series, fields) if fields else []
        counts = iter(int(v or 0) for v in values)
        points = []
        for bucket in buckets:
            votes = {option: next(counts) for option in options}
            label = hour_label(bucket, zone) if kind == "h" else day_label(bucket)
            points.append({"t": label, "total": sum(votes.values()), "votes": votes})
        return points

    async def prefixes(self, poll: Poll, count: int = ABUSE_PREFIXES) -> list[Prefix]:
        """The address hashes with the most ballots, with when and how fast they voted."""
        keys = self.keys(poll)
        top: list[Any] = await self.redis.zrevrange(keys.prefixes, 0, count - 1, withscores=True)
        found = []
        async with self.redis.pipeline(transaction=False) as pipe:
            for member, _ in top:
                pipe.zrange(keys.cast(member.decode()), 0, ABUSE_BALLOTS_READ - 1, withscores=True)
            cast_lists = await pipe.execute() if top else []
        for (member, ballots), cast in zip(top, cast_lists, strict=True):
            times = [score for _, score in cast]
            found.append(
                Prefix(
                    member.decode(),
                    int(ballots),
                    times[0] if times else None,
                    times[-1] if times else None,
                    peak_per_minute(times),
                )
            )
        return [p for p in found if p.ballots > 0]

    async def count_in_window(self, poll: Poll, prefix: str, start: float, end: float) -> int:
        count: int = await self.redis.zcount(self.keys(poll).cast(prefix), start, end)
        return count

    async def void(self, poll: Poll, prefix: str, start: float, end: float, zone: ZoneInfo) -> int:
        """Void `prefix`'s ballots cast in [start, end]; how many were voided."""
        keys = self.keys(poll)
        ballots, tally = self.polls.keys_of(poll.id)
        offset = utc_offset(zone, start)
        voided: int = await self._void(
            keys=[ballots, tally, keys.series, keys.prefixes, keys.cast(prefix)],
            args=[offset, prefix, repr(start), repr(end)],
        )
        return int(voided)


def peak_per_minute(times: list[float]) -> int:
    """The most ballots within any 60 seconds (`times` sorted)."""
    best = 0
    start = 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 60:
            start += 1
        best = max(best, end - start + 1)
    return best


def prefix_json(prefix: Prefix, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "prefix": prefix.prefix,
        "ballots": prefix.ballots,
        "first": instant_label(math.floor(prefix.first), zone)
        if prefix.first is not None
        else None,
        # Whole seconds that still include the last ballot: a window [first, last] voids all.
        "last": instant_label(math.ceil(prefix.last), zone) if prefix.last is not None else None,
        "peak_per_minute": prefix.peak_per_minute,
    }
