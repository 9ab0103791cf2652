"""What open live streams cost: N admin SSE streams (`/api/admin/live`) on one worker.

Usage: python bench/live_bench.py [--quick] [--streams 1000] [--duration 10]

Starts a redis-server of its own and one `portal serve` worker, measures for `--duration`
seconds with no stream open (idle), then again with N streams open and reading while one
visitor's heartbeat each second changes the counts (so every tick has news to send). It prints
the worker's CPU (seconds per second), Redis commands per second (from the private Redis's
`total_commands_processed`) and the events the clients received, for both runs. The point of
the design: Redis calls per second do not grow with the number of streams. `--quick` opens
100 streams for 4 seconds. Numbers are noisy on a busy machine; the ratio idle/open is what
to read.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from http_bench import ADMIN, cpu_seconds, start_redis, start_server, stop  # noqa: E402


def redis_commands(redis_url: str) -> int:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        return int(client.info("stats")["total_commands_processed"])
    finally:
        client.close()


async def open_stream(host: str, port: int, counter: list[int], ready: asyncio.Event) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        f"GET /api/admin/live HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {ADMIN}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    try:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                return
            counter[0] += chunk.count(b"event: counts")
            ready.set()
    finally:
        writer.close()


def heartbeat(base: str) -> None:
    request = urllib.request.Request(base + "/api/presence", data=b"{}", method="POST")
    request.add_header("Content-Type", "application/json")
    urllib.request.urlopen(request, timeout=5).close()


async def measure(
    base: str, pid: int, redis_url: str, streams: int, duration: float
) -> tuple[float, float, int]:
    host, port = base.removeprefix("http://").split(":")
    counter = [0]
    ready = [asyncio.Event() for _ in range(streams)]
    tasks = [
        asyncio.create_task(open_stream(host, int(port), counter, ready[i])) for i in range(streams)
    ]
    if streams:
        await asyncio.wait_for(asyncio.gather(*(event.wait() for event in ready)), 60)
    counter[0] = 0
    cpu, commands, started = cpu_seconds(pid), redis_commands(redis_url), time.monotonic()
    while time.monotonic() - started < duration:
        await asyncio.to_thread(heartbeat, base)
        await asyncio.sleep(1.0)
    elapsed = time.monotonic() - started
    cpu_rate = (cpu_seconds(pid) - cpu) / elapsed
    command_rate = (redis_commands(redis_url) - commands) / elapsed
    events = counter[0]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return cpu_rate, command_rate, events


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    streams, duration = (100, 4.0) if options.quick else (options.streams, options.duration)
    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        redis_process, redis_url = start_redis(work)
        server, base = start_server("portal", 1, redis_url, work)
        try:
            rows = [
                ("no stream", *asyncio.run(measure(base, server.pid, redis_url, 0, duration))),
                (f"{streams} streams", *asyncio.run(
                    measure(base, server.pid, redis_url, streams, duration)
                )),
            ]  # fmt: skip
        finally:
            stop(server)
            stop(redis_process)
    print(f"one worker, {duration:.0f} s each, a heartbeat a second:")
    print(f"  {'':14} {'CPU s/s':>8} {'Redis cmd/s':>12} {'events/s':>9}")
    for name, cpu, commands, events in rows:
        print(f"  {name:14} {cpu:8.3f} {commands:12.1f} {events / duration:9.1f}")


if __name__ == "__main__":
    main()
