"""The benchmark's baselines, served by uvicorn exactly like `portal serve`.

- `bare`: Starlette answering constant JSON on the portal's paths (the ceiling).
- `naive`: the straightforward service: one redis-py EVALSHA per request, with the portal's
  own Lua scripts, and nothing else (no session signing, no middleware).

Run: `python -m server.serving baseline_apps:bare --app-dir bench` (or `:naive`, with
BENCH_REDIS_URL set): the uvicorn options `portal serve` uses.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from redis.asyncio import BlockingConnectionPool, Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

HERE = Path(__file__).resolve().parent
# The one-request-per-call sorted-set scripts the service started with.
SCRIPTS = {
    "presence_heartbeat": HERE / "naive_presence_heartbeat.lua",
    "presence_count": HERE / "naive_presence_count.lua",
    "vote": HERE / "naive_vote.lua",
}
PREFIX = "bench-naive:"
SITE_KEY = PREFIX + "{presence}:site"
PAGE_PREFIX = PREFIX + "{presence}:page:"
TTL_MS = 60_000
POLL_KEYS = [PREFIX + "{poll:portal-rating}:ballots", PREFIX + "{poll:portal-rating}:tally"]
OPTIONS = ("rat-tot", "tot", "binh-thuong", "chua-tot")


def bare() -> Starlette:
    """Constant answers of the same shapes the portal gives."""

    async def heartbeat(request: Request) -> Response:
        return JSONResponse({"online": 1, "page_online": 1, "ttl": 60})

    async def vote(request: Request) -> Response:
        return JSONResponse({"id": "portal-rating", "total": 1}, status_code=201)

    return Starlette(
        routes=[
            Route("/api/presence", heartbeat, methods=["POST", "GET"]),
            Route("/api/polls/{poll_id}/votes", vote, methods=["POST"]),
        ]
    )


def naive() -> Starlette:
    """One EVALSHA per request: the portal's scripts without batching or anything else."""
    url = os.environ["BENCH_REDIS_URL"]
    state: dict[str, object] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        redis = Redis(connection_pool=BlockingConnectionPool.from_url(url, max_connections=64))
        for name, path in SCRIPTS.items():
            state[name] = redis.register_script(path.read_text())
        yield
        await redis.aclose()

    async def heartbeat(request: Request) -> Response:
        body = json.loads(await request.body() or b"{}")
        session = request.headers["x-portal-session"]
        keys = [SITE_KEY] if not body.get("page") else [SITE_KEY, PAGE_PREFIX + body["page"]]
        counts = await state["presence_heartbeat"](keys=keys, args=[session, TTL_MS])  # type: ignore[operator]
        page_online = counts[1] if len(counts) > 1 else None
        return JSONResponse({"online": counts[0], "page_online": page_online, "ttl": 60})

    async def count(request: Request) -> Response:
        page = request.query_params.get("page")
        keys = [SITE_KEY] if not page else [SITE_KEY, PAGE_PREFIX + page]
        counts = await state["presence_count"](keys=keys)  # type: ignore[operator]
        page_online = counts[1] if len(counts) > 1 else None
        return JSONResponse({"online": counts[0], "page_online": page_online, "ttl": 60})

    async def vote(request: Request) -> Response:
        option = json.loads(await request.body())["option"]
        if option not in OPTIONS:
            return JSONResponse({"error": {"code": "invalid_option"}}, status_code=422)
        session = request.headers["x-portal-session"]
        counted, choice, flat = await state["vote"](keys=POLL_KEYS, args=[session, option])  # type: ignore[operator]
        tally = {flat[i].decode(): flat[i + 1].decode() for i in range(0, len(flat), 2)}
        body = {"id": "portal-rating", "voted": choice.decode(), "tally": tally}
        return JSONResponse(body, status_code=201 if counted else 409)

    return Starlette(
        routes=[
            Route("/api/presence", heartbeat, methods=["POST"]),
            Route("/api/presence", count, methods=["GET"]),
            Route("/api/polls/{poll_id}/votes", vote, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
