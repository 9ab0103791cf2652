"""Presence layouts side by side: the sorted set per scope the service keeps, and the two-hash
layout it dropped (bench/twohash_presence_*.lua, the previous scripts with a settable clock).

Usage: python bench/presence_scale.py [--quick]

Starts a fresh redis-server and drives both layouts' own scripts on a clock the bench sets
(no waiting), each under its own key prefix:
- bytes per online visitor (`MEMORY USAGE` of every key still alive) on a realistic mix:
  visitors arriving steadily on pages of Zipf popularity, each visit 20 s, half of them
  sending a leave when they go (the others just stop beating), run for three ttls;
- bytes per online visitor on one big scope (everyone on one page);
- the count read (its Lua script, timed from the client) at 1,000,000 vs 100 online, and
  after a scope was idle for a day with ttl = 86,400 s;
- memory two ttls after a burst of one-shot sessions, while some visitors stay, against
  what the same staying visitors take written fresh.
The sorted set's figures include its bounds' bookkeeping (a record per session, address
groups, the page-scope registry) which the two-hash layout did not have.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO))

import redis  # noqa: E402
from http_bench import start_redis, stop  # noqa: E402
from redis.asyncio import Redis  # noqa: E402

from server.presence import Beat as ServiceBeat  # noqa: E402
from server.presence import Presence  # noqa: E402

BENCH = Path(__file__).resolve().parent
SECOND = 1000
Beat = tuple[bytes, str | None, ipaddress.IPv4Address]


class SortedSets:
    """The layout the service keeps, through `server.presence` itself."""

    name = "sorted set"

    def __init__(self, client: Redis, prefix: str, ttl: int) -> None:
        self.prefix = prefix
        self.presence = Presence(client, prefix, ttl, max_online_per_address=10**6)

    async def beat(self, now: int, beats: Sequence[Beat]) -> None:
        self.presence.clock_ms = now
        for start in range(0, len(beats), 5000):
            chunk: list[ServiceBeat] = [
                (m, p, False, str(a)) for m, p, a in beats[start : start + 5000]
            ]
            await self.presence._heartbeat_batch(chunk)

    async def leave(self, now: int, member: bytes, page: str | None) -> None:
        self.presence.clock_ms = now
        await self.presence._leave_script(
            keys=self.presence._keys, args=[self.presence._page_prefix, member, "1", ""]
        )

    async def count(self, now: int, page: str | None) -> tuple[int, int | None]:
        self.presence.clock_ms = now
        counts = await self.presence._count_batch([page])
        return counts[0].online, counts[0].page_online

    def alive_bytes(self, client: redis.Redis, now: int, scopes_only: bool = False) -> int:
        """Keys expire at the latest end they hold (relative to the bench's clock).
        `scopes_only`: the site's and pages' sorted sets, without the bounds' bookkeeping."""
        total = 0
        for key in client.scan_iter(match=f"{self.prefix}*", count=1000):
            if scopes_only and not key.endswith(b":site") and b":page:" not in key:
                continue
            if client.type(key) == b"zset":
                latest = client.zrange(key, -1, -1, withscores=True)
                if latest and latest[0][1] <= now:
                    continue
            total += client.memory_usage(key, samples=0) or 0
        return total


class TwoHashes:
    """The layout dropped: per scope, `seen` (session -> end second) and `online` (total)."""

    name = "two hashes"

    def __init__(self, client: Redis, prefix: str, ttl: int) -> None:
        self.prefix, self.ttl = f"{prefix}{{presence}}:", ttl
        self.scripts = {
            name: client.register_script((BENCH / f"twohash_presence_{name}.lua").read_text())
            for name in ("heartbeat", "count", "leave")
        }

    def keys(self, page: str | None) -> list[str]:
        scope = "site" if page is None else f"page:{page}"
        return [f"{self.prefix}online:{scope}", f"{self.prefix}seen:{scope}"]

    async def beat(self, now: int, beats: Sequence[Beat]) -> None:
        for start in range(0, len(beats), 5000):
            keys, index = self.keys(None), {}
            args: list[bytes | int] = [now // SECOND, self.ttl, 1]
            for member, page, _ in beats[start : start + 5000]:
                if page is not None and page not in index:
                    index[page] = len(keys) + 1
                    keys += self.keys(page)
                args += [member, 0 if page is None else index[page]]
            await self.scripts["heartbeat"](keys=keys, args=args)

    async def leave(self, now: int, member: bytes, page: str | None) -> None:
        keys = self.keys(None) + ([] if page is None else self.keys(page))
        await self.scripts["leave"](keys=keys, args=[member, now // SECOND])

    async def count(self, now: int, page: str | None) -> tuple[int, int | None]:
        keys = [self.keys(None)[0]] + ([] if page is None else [self.keys(page)[0]])
        counts = await self.scripts["count"](keys=keys, args=[now // SECOND, self.ttl])
        return int(counts[0]), None if page is None else int(counts[1])

    def alive_bytes(self, client: redis.Redis, now: int) -> int:
        """Both hashes of a scope expire ttl + 2 s after its last heartbeat (`swept`)."""
        total = 0
        for key in client.scan_iter(match=f"{self.prefix}online:*", count=1000):
            swept = client.hget(key, "swept")
            if swept is None or int(swept) + self.ttl + 2 <= now // SECOND:
                continue
            seen = key.replace(b":online:", b":seen:", 1)
            total += (client.memory_usage(key, samples=0) or 0) + (
                client.memory_usage(seen, samples=0) or 0
            )
        return total


LAYOUTS = (SortedSets, TwoHashes)


def bare(layout: SortedSets | TwoHashes, sync: redis.Redis, now: int, online: int) -> str:
    """The sorted sets alone, for a like-for-like look at the two layouts."""
    if not isinstance(layout, SortedSets):
        return ""
    scopes = layout.alive_bytes(sync, now, scopes_only=True)
    return f" ({scopes / online:.0f} B in the sorted sets, the rest: the bounds' bookkeeping)"


def zipf_pages(rng: random.Random, pages: int, count: int) -> list[str]:
    weights = [1 / (rank + 1) for rank in range(pages)]
    return [f"/tin-tuc/bai-{n}.html" for n in rng.choices(range(pages), weights, k=count)]


def new_beats(rng: random.Random, pages: list[str]) -> list[Beat]:
    return [(os.urandom(12), page, ipaddress.IPv4Address(rng.getrandbits(32))) for page in pages]


async def realistic(client: Redis, sync: redis.Redis, args: argparse.Namespace) -> None:
    """Visitors arrive each second; a visit lasts 20 s (one heartbeat: the widget beats every
    ttl / 2); half send a leave at its end. Arrivals are set for `args.online` online."""
    ttl, visit = 60, 20
    per_second = round(args.online / (0.5 * visit + 0.5 * ttl))
    t0 = (int(time.time()) + 1000) * SECOND
    for layout_class in LAYOUTS:
        rng = random.Random(1)
        layout = layout_class(client, "mix:", ttl)
        leaving: list[list[Beat]] = []
        pages: list[set[str | None]] = []
        for second in range(3 * ttl):
            now = t0 + second * SECOND
            arrivals = new_beats(rng, zipf_pages(rng, args.pages, per_second))
            await layout.beat(now, arrivals)
            leaving.append(arrivals[: per_second // 2])
            pages.append({page for _, page, _ in arrivals})
            if second >= visit:
                for member, page, _ in leaving[second - visit]:
                    await layout.leave(now, member, page)
        online, _ = await layout.count(now, None)
        scopes = len(set().union(*pages[-ttl:]))
        used, note = layout.alive_bytes(sync, now), bare(layout, sync, now, online)
        print(f"  {layout.name:>10}: {online:,} online over {scopes:,} pages: "
              f"{used / online:.0f} B per online visitor{note}")  # fmt: skip
        sync.flushdb(asynchronous=True)


async def big_scope(client: Redis, sync: redis.Redis, args: argparse.Namespace) -> None:
    t0 = (int(time.time()) + 1000) * SECOND
    for layout_class in LAYOUTS:
        layout = layout_class(client, "big:", 3600)
        rng = random.Random(2)
        await layout.beat(t0, new_beats(rng, ["/index.html"] * args.big))
        used = layout.alive_bytes(sync, t0)
        print(f"  {layout.name:>10}: {args.big:,} online on one page: {used / args.big:.0f} B "
              f"per online visitor (site + page){bare(layout, sync, t0, args.big)}")  # fmt: skip
        await read_cost(client, layout, t0, args)
        sync.flushdb(asynchronous=True)
    await idle_read(client, sync)


async def timed_reads(layout: SortedSets | TwoHashes, now: int, reads: int) -> list[float]:
    times = []
    for _ in range(reads):
        started = time.perf_counter()
        await layout.count(now, "/index.html")
        times.append(time.perf_counter() - started)
    return times


async def read_cost(
    client: Redis, big: SortedSets | TwoHashes, t0: int, args: argparse.Namespace
) -> None:
    small = type(big)(client, "small:", 3600)
    await small.beat(t0, new_beats(random.Random(3), ["/index.html"] * args.small))
    times: dict[str, list[float]] = {"big": [], "small": []}
    for _ in range(4):  # interleaved rounds: noise falls on both alike
        times["big"] += await timed_reads(big, t0, args.reads // 4)
        times["small"] += await timed_reads(small, t0, args.reads // 4)
    big_us, small_us = (statistics.median(times[k]) * 1e6 for k in ("big", "small"))
    print(f"  {big.name:>10}: count read, {args.big:,} vs {args.small:,} online: "
          f"median {big_us:.0f} vs {small_us:.0f} us, ratio {big_us / small_us:.2f}")  # fmt: skip


async def idle_read(client: Redis, sync: redis.Redis) -> None:
    """ttl = 86,400 s: a read a day after a scope's last heartbeat, against a fresh read."""
    ttl, t0 = 86_400, (int(time.time()) + 1000) * SECOND
    for layout_class in LAYOUTS:
        layout = layout_class(client, "idle:", ttl)
        await layout.beat(t0, new_beats(random.Random(4), ["/index.html"] * 100))
        fresh = statistics.median(await timed_reads(layout, t0 + SECOND, 50))
        idle = statistics.median(await timed_reads(layout, t0 + (ttl - 1) * SECOND, 50))
        print(f"  {layout.name:>10}: count read with ttl = 86,400 s, 1 s vs 86,399 s after the "
              f"last heartbeat: {fresh * 1e6:.0f} vs {idle * 1e6:.0f} us")  # fmt: skip
        sync.flushdb(asynchronous=True)


async def burst(client: Redis, sync: redis.Redis, args: argparse.Namespace) -> None:
    """A burst of one-shot sessions over many pages; 600 visitors stay, beating every ttl / 2
    on 40 pages. Two ttls later: what presence holds against the 600 written fresh."""
    ttl, t0 = 60, (int(time.time()) + 1000) * SECOND
    for layout_class in LAYOUTS:
        rng = random.Random(5)
        layout = layout_class(client, "burst:", ttl)
        staying = new_beats(rng, [f"/muc/{i % 40}.html" for i in range(600)])
        await layout.beat(t0, new_beats(rng, zipf_pages(rng, args.pages, args.burst)))
        peak = layout.alive_bytes(sync, t0)
        for second in range(0, 2 * ttl + 1, ttl // 2):
            await layout.beat(t0 + second * SECOND, staying)
        after = layout.alive_bytes(sync, t0 + 2 * ttl * SECOND)
        fresh = layout_class(client, "fresh:", ttl)
        await fresh.beat(t0, staying)
        needed = fresh.alive_bytes(sync, t0)
        print(f"  {layout.name:>10}: burst of {args.burst:,} (peak {peak / 1e6:.2f} MB), two ttls "
              f"later {after / 1e3:.0f} KB for 600 online = {after / needed:.2f} x what "
              f"they take fresh ({needed / 1e3:.0f} KB)")  # fmt: skip
        sync.flushdb(asynchronous=True)


async def clock_and_ttl(client: Redis, sync: redis.Redis) -> None:
    """A ends; B's heartbeat takes it off; the Redis clock steps back 1.5 s (a failover); A's
    leave arrives. B is the one online, then and 3 s later. And an instance with ttl = 10 s
    reads B 30 s after a ttl = 60 s instance counted it."""
    t0 = (int(time.time()) + 1000) * SECOND + 900
    for layout_class in LAYOUTS:
        layout = layout_class(client, "clock:", 60)
        (a, _, address), (b, _, _) = new_beats(random.Random(6), ["/x.html"] * 2)
        await layout.beat(t0, [(a, "/x.html", address)])
        await layout.beat(t0 + 61 * SECOND, [(b, "/x.html", address)])
        await layout.leave(t0 + 59_500, a, "/x.html")
        stepped, _ = await layout.count(t0 + 59_500, "/x.html")
        later, _ = await layout.count(t0 + 64 * SECOND, "/x.html")
        short = layout_class(client, "clock:", 10)
        ttl_changed, _ = await short.count(t0 + 91 * SECOND, "/x.html")
        print(f"  {layout.name:>10}: online after the step and the leave: {stepped}, 3 s later: "
              f"{later}; read by a ttl = 10 s instance 30 s after B's heartbeat: "
              f"{ttl_changed} (1 expected each time)")  # fmt: skip
        sync.flushdb(asynchronous=True)


async def run(url: str, args: argparse.Namespace) -> None:
    client = Redis.from_url(url, socket_timeout=300)
    sync = redis.Redis.from_url(url, socket_timeout=300)
    try:
        print(f"redis {sync.info('server')['redis_version']}")
        print(f"realistic mix ({args.online:,} online target, {args.pages:,} pages, Zipf):")
        await realistic(client, sync, args)
        print("one big scope, and the count read:")
        await big_scope(client, sync, args)
        print("memory two ttls after a burst:")
        await burst(client, sync, args)
        print("a Redis clock stepping back, and a ttl change:")
        await clock_and_ttl(client, sync)
    finally:
        await client.aclose()
        sync.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CI-sized: small counts")
    parser.add_argument("--online", type=int, default=10_000)
    parser.add_argument("--pages", type=int, default=1_500)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--burst", type=int, default=10_000)
    parser.add_argument("--reads", type=int, default=2000)
    args = parser.parse_args()
    if args.quick:
        args.online, args.pages, args.big, args.burst, args.reads = 2000, 300, 20_000, 2000, 400
    with tempfile.TemporaryDirectory(prefix="portal-presence-") as tmp:
        process, url = start_redis(Path(tmp))
        try:
            asyncio.run(run(url, args))
        finally:
            stop(process)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
