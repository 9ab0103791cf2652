"""Presence at scale: the online count read with 1,000,000 sessions online vs 100, and the
Redis memory each online visitor costs.

Usage: python bench/presence_scale.py [--big 1000000] [--small 100] [--requests 2000]

Starts a fresh redis-server and one `portal serve`, fills two key prefixes' site sets (and a
page set) with live sessions as the service stores them (12-byte members), then times
`GET /api/presence?page=/index.html` sequentially over one keep-alive connection against
each prefix, interleaved in rounds (the portal's prefix is switched by running two portal
servers on the same Redis). Prints the median and p90 times, their ratio (big / small), and
`MEMORY USAGE` per member of the big site and page sets, with 16-character members for
comparison.
"""

from __future__ import annotations

import argparse
import http.client
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
CHUNK = 50_000


def fill(client: redis.Redis, prefix: str, count: int, member_size: int = 12) -> None:
    """`count` sessions online for the next hour, on the site and on PAGE (server-side Lua)."""
    script = client.register_script((Path(__file__).parent / "fill_presence.lua").read_text())
    expiry = int(time.time() * 1000) + 3_600_000
    keys = [f"{prefix}{{presence}}:site", f"{prefix}{{presence}}:page:{PAGE}"]
    for start in range(0, count, CHUNK):
        script(keys=keys, args=[expiry, min(CHUNK, count - start), start, member_size])
    for key in keys:
        client.pexpire(key, 3_600_000)


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
            site = client.memory_usage("big:{presence}:site", samples=0) or 0
            page = client.memory_usage(f"big:{{presence}}:page:{PAGE}", samples=0) or 0
            print(f"memory per online visitor ({args.big:,} online, 12-byte members): "
                  f"site set {site / args.big:.1f} B, page set {page / args.big:.1f} B, "
                  f"site + one page {(site + page) / args.big:.1f} B")  # fmt: skip
            client.delete("big:{presence}:site", f"big:{{presence}}:page:{PAGE}")
            client.delete(*client.keys("small:*"))
            fill(client, "old:", args.big, member_size=16)
            old = client.memory_usage("old:{presence}:site", samples=0) or 0
            print(f"for comparison, 16-character members: site set {old / args.big:.1f} B")
            client.close()
        finally:
            for process, _ in servers:
                stop(process)
            stop(redis_process)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
