"""Redis bytes of the history: one simulated day of 10,000 visitors over 1,000 pages.

Usage: python bench/history_bytes.py [--quick] [--redis redis://127.0.0.1:6379/0]

It drives the real recording script (`TrafficHistory.record`, as each worker's recorder calls
it) through one day of a fake clock: 1,440 calls, one a minute, carrying 10,000 distinct
sessions from 5,000 addresses, 30,000 page views spread over 1,000 pages (a few popular ones,
a long tail), then reads `MEMORY USAGE` of every key it wrote and sorts them into what stays
(per day, for 401 days or for good) and what goes within two days. It also casts 10,000
votes through `PollStore.vote` and reports the bytes per ballot. `--quick` does a tenth.
Keys live under a throwaway prefix that is deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import uuid
from pathlib import Path
from unittest import mock
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from redis.asyncio import Redis  # noqa: E402

from server.catalog import SiteCatalog  # noqa: E402
from server.history import TrafficHistory  # noqa: E402
from server.poll_config import Option, Poll  # noqa: E402
from server.polls import PollStore  # noqa: E402

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


def pages(count: int) -> list[str]:
    return [f"/tin-tuc/{year}/bai-viet-so-{n:04d}.html" for n, year in
            ((n, 2020 + n % 7) for n in range(count))]  # fmt: skip


async def simulate_day(redis: Redis, prefix: str, visitors: int, site_pages: list[str]) -> None:
    history = TrafficHistory(redis, prefix, max_visitors_per_address=500)
    rng = random.Random(1)
    sessions = [uuid.uuid4().bytes[:12] for _ in range(visitors)]
    addresses = [uuid.uuid4().hex[:16] for _ in range(visitors // 2)]
    weights = [1 / (rank + 1) for rank in range(len(site_pages))]  # a long tail
    views = rng.choices(site_pages, weights, k=visitors * 3)
    start = 1_796_000_000 - 1_796_000_000 % 86400 - 7 * 3600  # a local midnight
    per_minute = max(1, len(views) // 1440)
    for minute in range(1440):
        seen: dict[bytes, str] = {}
        counted: dict[tuple[str, str | None], int] = {}
        for index in range(minute * per_minute, min(len(views), (minute + 1) * per_minute)):
            visitor = index % visitors
            address = addresses[visitor // 2]
            seen[sessions[visitor]] = address
            counted[(address, views[index])] = counted.get((address, views[index]), 0) + 1
        now_pages = {page: 1 for _, page in counted if page}
        with mock.patch("server.history.time.time", return_value=start + minute * 60 + 30):
            await history.record(ZONE, len(seen) * 4, seen, counted, now_pages)


async def measure(redis: Redis, prefix: str) -> dict[str, int]:
    sizes: dict[str, int] = {}
    async for key in redis.scan_iter(match=f"{prefix}*", count=1000):
        sizes[key.decode()] = int(await redis.memory_usage(key, samples=0) or 0)
    return sizes


def group(sizes: dict[str, int], prefix: str) -> dict[str, int]:
    kinds = {
        "days hash (kept for good)": ":days",
        "hours (401 days)": ":h:",
        "page views (401 days)": ":pv:",
        "pages now (bounded by pages)": ":now",
        "minutes (50 hours)": ":m:",
        "sessions of the day (2 days)": ":s:",
        "per-address counts (2 days)": ":a:",
        "month HyperLogLog (400 days)": ":u:",
    }
    totals = dict.fromkeys(kinds, 0)
    for key, size in sizes.items():
        for name, marker in kinds.items():
            if marker in key[len(prefix) :]:
                totals[name] += size
                break
    return totals


async def ballots(redis: Redis, prefix: str, votes: int) -> int:
    poll = Poll("bench", "?", (Option("a", "A"), Option("b", "B"), Option("c", "C")))
    catalog = SiteCatalog(None, None)
    catalog.polls = {"bench": poll}
    store = PollStore(redis, prefix, catalog)
    voters = [uuid.uuid4().hex[:16] for _ in range(votes // 5)]
    for start in range(0, votes, 200):
        await asyncio.gather(*(
            store.vote(poll, uuid.uuid4().hex[:16], "abc"[i % 3], voters[i % len(voters)])
            for i in range(start, min(votes, start + 200))
        ))  # fmt: skip
    return sum((await measure(redis, prefix)).values())


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    scale = 10 if options.quick else 1
    visitors, page_count, votes = 10_000 // scale, 1_000 // scale, 10_000 // scale
    redis = Redis.from_url(options.redis)
    prefix = f"bench-history:{uuid.uuid4().hex[:8]}:"
    try:
        started = time.perf_counter()
        await simulate_day(redis, prefix, visitors, pages(page_count))
        sizes = await measure(redis, prefix)
        totals = group(sizes, prefix)
        print(f"one day, {visitors:,} visitors, {page_count:,} pages, {visitors * 3:,} views "
              f"({time.perf_counter() - started:.1f} s):")  # fmt: skip
        for name, size in totals.items():
            print(f"  {name:32} {size:>10,} B")
        kept = sum(v for k, v in totals.items() if "401" in k or "good" in k)
        print(f"  kept per day (401 days)          {kept:>10,} B  -> {kept * 401 / 1e6:,.1f} MB")
        transient = sum(v for k, v in totals.items() if "2 days" in k or "50 hours" in k)
        print(f"  transient (at most ~2 days' worth) {transient:>8,} B")
        ballot_prefix = prefix + "polls:"
        total = await ballots(redis, ballot_prefix, votes)
        print(f"{votes:,} ballots from {votes // 5:,} addresses: {total:,} B, "
              f"{total / votes:.0f} B per ballot (ballot, tally, series, abuse index)")  # fmt: skip
    finally:
        async for key in redis.scan_iter(match=f"{prefix}*", count=1000):
            await redis.delete(key)
        await redis.aclose()


if __name__ == "__main__":
    asyncio.run(main())
