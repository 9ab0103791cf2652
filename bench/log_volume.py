"""Access-log volume: bytes of log a day at 1,000 visitors online, with the default settings.

Usage: python bench/log_volume.py [--quick] [--visitors 1000] [--minutes 10]
       [--mode summary|all] [--redis redis://127.0.0.1:6379/0]

Drives the real app in-process (`server.app.create_app`, real Redis, httpx's ASGI transport)
with a simulated period of traffic, minute by minute, and counts the bytes its access log
writes. The log's clock is simulated (each simulated minute is one minute to the log: its
per-minute summaries close as they would) while requests run as fast as they can. Per
visitor online and minute, the mix is what the widgets send:

- 2 heartbeats (`POST /api/presence`, every 30 s);
- 0.5 page views (a page read for 2 minutes on average), each ending with a leave beacon
  (`POST /api/presence/leave`); a quarter of the pages show a poll (`GET /api/polls/{id}`),
  a tenth of the visitors watch the statistics widget (`GET /api/stats`, every 30 s), and
  0.1 count reads (`GET /api/presence`);
- 1 vote per 100 page views, and as many errors (unknown polls, bad JSON);

plus, per minute whatever the audience, 2 health probes, 4 metric scrapes and 1 admin call.
The bytes of the simulated minutes are scaled to 24 hours; with `--visitors` below 1,000,
also to 1,000 visitors (request lines scale with visitors, summaries do not: the scaling
overstates a smaller run's summaries, never understates).

Runs against the code of the working tree; `--mode all` writes a line per request, as the
access log did before summaries (the "before" number: also measurable on an older commit,
where this script falls back to that commit's one-line-per-request log).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import secrets
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from server.app import create_app  # noqa: E402
from server.logs import AccessLog  # noqa: E402
from server.settings import Settings  # noqa: E402

POLL = "portal-rating"
ADMIN_TOKEN = "bench-admin-token-0123456789"


class SimulatedClock:
    """The log's clock: a simulated minute per `advance`, requests spread inside it."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0  # a whole minute

    def __call__(self) -> float:
        return self.now


def access_log(mode: str, stream: io.StringIO, clock: SimulatedClock) -> AccessLog:
    try:
        from server.routes import SUMMARISED

        return AccessLog(stream, mode=mode, summarised=SUMMARISED, clock=clock)
    except (ImportError, TypeError):  # an older commit: a line per request, on the real clock
        return AccessLog(stream)


def minute_plan(visitors: int, rng: random.Random) -> list[tuple[str, str, Any]]:
    """One minute of requests (method, path, JSON body) for `visitors` online, shuffled."""
    views = visitors // 2
    plan: list[tuple[str, str, Any]] = []
    plan += [("POST", "/api/presence", {"page": "/index.html"})] * (2 * visitors)
    plan += [("POST", "/api/presence/leave", {"page": "/index.html"})] * views
    plan += [("GET", f"/api/polls/{POLL}", None)] * (views // 4)
    plan += [("GET", "/api/stats", None)] * (2 * visitors // 10)
    plan += [("GET", "/api/presence", None)] * (visitors // 10)
    plan += [("POST", f"/api/polls/{POLL}/votes", {"option": "tot"})] * max(1, views // 100)
    plan += [("GET", "/api/polls/no-such-poll", None)] * max(1, views // 200)
    plan += [("POST", "/api/presence", "{not json")] * max(1, views // 200)
    plan += [("GET", "/healthz", None)] * 2 + [("GET", "/metrics", None)] * 4
    plan += [("GET", "/api/admin/polls", None)]
    rng.shuffle(plan)
    return plan


async def run(args: argparse.Namespace) -> tuple[int, int, int]:
    """Bytes and lines logged and requests sent over `args.minutes` simulated minutes."""
    settings = Settings(
        redis_url=args.redis,
        secret_keys=(secrets.token_hex(16),),
        admin_token=ADMIN_TOKEN,
        redis_prefix=f"bench-log-{os.getpid()}:",
        site_dir=REPO / "site",
        new_visitor_limit=None,
        vote_rate_limit=None,
        max_online_per_address=10**6,
        access_log=args.mode,
    )
    app = create_app(settings)
    stream, clock = io.StringIO(), SimulatedClock()
    app.edge.access_log = access_log(args.mode, stream, clock)
    sessions = [""] * args.visitors
    rng = random.Random(14)
    sent = 0
    async with app.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("192.0.2.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as http:
            for _ in range(args.minutes):
                plan = minute_plan(args.visitors, rng)
                for number, (method, path, body) in enumerate(plan):
                    clock.now += 60 / (len(plan) + 1)
                    visitor = number % args.visitors
                    headers = {"X-Portal-Session": sessions[visitor]} if sessions[visitor] else {}
                    if path.startswith("/api/admin"):
                        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
                    kwargs: dict[str, Any] = {"json": body, "headers": headers}
                    if isinstance(body, str):  # a broken body
                        headers["Content-Type"] = "application/json"
                        kwargs = {"content": body, "headers": headers}
                    answer = await http.request(method, path, **kwargs)
                    sessions[visitor] = answer.headers.get("x-portal-session", sessions[visitor])
                    sent += 1
                clock.now = (clock.now // 60 + 1) * 60
        redis = app.services.redis
        async for key in redis.scan_iter(f"{settings.redis_prefix}*"):
            await redis.delete(key)
    text = stream.getvalue()
    return len(text.encode()), text.count("\n"), sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 visitors, 3 minutes")
    parser.add_argument("--visitors", type=int, default=1000)
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--mode", default="summary", choices=("summary", "all"))
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    args = parser.parse_args()
    if args.quick:
        args.visitors, args.minutes = 100, 3
    started = time.perf_counter()
    size, lines, sent = asyncio.run(run(args))
    scale = (24 * 60 / args.minutes) * (1000 / args.visitors)
    print(
        f"mode={args.mode} visitors={args.visitors} minutes={args.minutes}: {sent} requests, "
        f"{lines} lines, {size} bytes logged ({time.perf_counter() - started:.0f} s)"
    )
    print(
        f"at 1,000 online for 24 h: {sent * scale / 1e6:.2f} M requests, "
        f"{lines * scale / 1e6:.3f} M lines, {size * scale / 1e6:.1f} MB a day"
    )


if __name__ == "__main__":
    main()
