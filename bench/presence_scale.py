"""Presence at scale: the online count read with 1,000,000 sessions online vs 100, and the
Redis memory each online visitor costs.

Usage: python bench/presence_scale.py [--big 1000000] [--small 100] [--requests 2000]

Starts a fresh redis-server and one `portal serve` per key prefix, puts live sessions online
on the site and one page through the service's own heartbeat script (in batches, as a busy
worker sends them), then times `GET /api/presence?page=/index.html` sequentially over one
keep-alive connection against each prefix, interleaved in rounds. Prints the median and p90
times, their ratio (big / small), and `MEMORY USAGE` per online visitor of the big site and
page, with the sorted-set layout the service used before for comparison.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO))

import redis  # noqa: E402
from http_bench import start_redis, start_server, stop  # noqa: E402

PAGE = "/index.html"
CHUNK = 20_000


def scope_keys(prefix: str) -> list[str]:
    """The presence keys of the site and PAGE: (online, seen) for each."""
    return [
        f"{prefix}{{presence}}:{kind}:{scope}"
        for scope in ("site", f"page:{PAGE}")
        for kind in ("online", "seen")
    ]


def fill(client: redis.Redis, prefix: str, count: int) -> None:
    """`count` sessions online for the next hour, on the site and on PAGE: heartbeats through
    the service's own script, with the service's 12-byte members."""
    script = client.register_script((REPO / "server" / "presence_heartbeat.lua").read_text())
    for start in range(0, count, CHUNK):
        args: list[int | bytes] = [3600, 2]
        for _ in range(min(CHUNK, count - start)):
            args += [os.urandom(12), 3]  # 3: PAGE's keys are KEYS[3] and KEYS[4]
        script(keys=scope_keys(prefix), args=args)


def fill_sorted_sets(client: redis.Redis, prefix: str, count: int) -> list[str]:
    """The layout before: a sorted set per scope, session scored by its expiry (ms)."""
    script = client.register_script((Path(__file__).parent / "fill_presence.lua").read_text())
    expiry = int(time.time() * 1000) + 3_600_000
    keys = [f"{prefix}{{presence}}:site", f"{prefix}{{presence}}:page:{PAGE}"]
    for start in range(0, count, CHUNK):
        script(keys=keys, args=[expiry, min(CHUNK, count - start), start])
    return keys


def time_reads(base: str, count: int) -> list[float]:
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port))
    times = []
    try:
        for _ in range(count):
            started = time.perf_counter()
            connection.request("GET", f"/api/presence?page={PAGE}")
            response = connection.getresponse()
            response.read()
            times.append(time.perf_counter() - started)
            if response.status != 200:
                raise RuntimeError(f"GET /api/presence answered {response.status}")
    finally:
        connection.close()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--requests", type=int, default=2000, help="reads per size, in total")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="portal-scale-") as tmp:
        work = Path(tmp)
        redis_process, url = start_redis(work)
        servers = []
        try:
            client = redis.Redis.from_url(url)
            version = client.info("server")["redis_version"]
            started = time.perf_counter()
            fill(client, "big:", args.big)
            fill(client, "small:", args.small)
            print(f"redis {version}: filled {args.big:,} + {args.small:,} sessions "
                  f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
            bases = {}
            for name in ("big", "small"):
                (work / name).mkdir()
                servers.append(start_server("portal", 1, url, work / name, prefix=f"{name}:"))
                bases[name] = servers[-1][1]
            online = {}
            for name, base in bases.items():
                time_reads(base, 200)  # warm up
                connection = http.client.HTTPConnection(*base.removeprefix("http://").split(":"))
                connection.request("GET", f"/api/presence?page={PAGE}")
                online[name] = connection.getresponse().read().decode()
                connection.close()
            times: dict[str, list[float]] = {"big": [], "small": []}
            for _ in range(args.rounds):
                for name, base in bases.items():
                    times[name] += time_reads(base, args.requests // args.rounds)
            print(f"answers: big {online['big']}, small {online['small']}")
            print(f"{'online':>10}  {'median ms':>9}  {'p90 ms':>7}")
            for name, size in (("small", args.small), ("big", args.big)):
                ordered = sorted(times[name])
                median = statistics.median(ordered) * 1000
                p90 = ordered[int(len(ordered) * 0.9)] * 1000
                print(f"{size:>10,}  {median:>9.3f}  {p90:>7.3f}")
            ratio = statistics.median(times["big"]) / statistics.median(times["small"])
            print(f"GET /api/presence, {args.big:,} vs {args.small:,} online: "
                  f"median ratio {ratio:.2f} (target <= 1.2)")  # fmt: skip
            usage = [client.memory_usage(key, samples=0) or 0 for key in scope_keys("big:")]
            site, page = usage[0] + usage[1], usage[2] + usage[3]
            print(f"memory per online visitor ({args.big:,} online, 12-byte members): "
                  f"site {site / args.big:.1f} B, page {page / args.big:.1f} B, "
                  f"site + one page {(site + page) / args.big:.1f} B")  # fmt: skip
            client.delete(*scope_keys("big:"))
            client.delete(*client.keys("small:*"))
            old = client.memory_usage(fill_sorted_sets(client, "old:", args.big)[0], samples=0)
            print(f"for comparison, a sorted set per scope (the layout before): "
                  f"site {(old or 0) / args.big:.1f} B")  # fmt: skip
            client.close()
        finally:
            for process, _ in servers:
                stop(process)
            stop(redis_process)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
