"""Redis going away: fast 503s (never a hang or a 500), then recovery without a restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from server.settings import Settings
from tests.redis_process import RedisProcess

VOTES = "/api/polls/portal-rating/votes"


async def test_redis_stopped_mid_test_then_back(
    client_for: Callable[..., Any], make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    server = RedisProcess(tmp_path / "redis", appendonly=True).start()
    settings = make_settings(redis_url=server.url)
    try:
        async with client_for(settings) as client:
            assert (await client.post(VOTES, json={"option": "tot"})).status_code == 201
            assert (await client.post("/api/presence")).status_code == 200
            server.stop()

            for method, path, body in [
                ("POST", "/api/presence", {}),
                ("GET", "/api/presence", None),
                ("GET", "/api/polls", None),
                ("GET", "/api/polls/portal-rating", None),
                ("POST", VOTES, {"option": "rat-tot"}),
                ("GET", "/readyz", None),
            ]:
                started = time.perf_counter()
                response = await client.request(method, path, json=body)
                elapsed = time.perf_counter() - started
                assert response.status_code == 503, path
                assert response.json()["error"]["code"] == "redis_unavailable"
                assert elapsed < 1.0, (path, elapsed)
            assert (await client.get("/healthz")).status_code == 200

            server.start()  # same port, same append-only file
            deadline = time.monotonic() + 5
            while (await client.get("/readyz")).status_code != 200:
                assert time.monotonic() < deadline, "did not recover"
                await asyncio.sleep(0.05)
            poll = (await client.get("/api/polls/portal-rating")).json()
            assert poll["total"] == 1 and poll["voted"] == "tot"
            assert (await client.post("/api/presence")).status_code == 200
    finally:
        server.stop()


async def test_script_cache_flushed_is_reloaded(
    client: Any, settings: Settings, redis_url: str
) -> None:
    assert (await client.post(VOTES, json={"option": "tot"})).status_code == 201
    sync = redis.Redis.from_url(redis_url)
    sync.script_flush()
    sync.close()
    assert (await client.post("/api/presence", json={"page": "/a.html"})).status_code == 200
    again = await client.post(VOTES, json={"option": "rat-tot"})
    assert again.status_code == 409 and again.json()["poll"]["total"] == 1
    assert (await client.get("/api/polls")).status_code == 200


async def test_unreachable_redis_answers_fast(
    client_for: Callable[..., Any], make_settings: Callable[..., Settings]
) -> None:
    from tests.redis_process import free_port

    settings = make_settings(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    async with client_for(settings) as client:
        started = time.perf_counter()
        response = await client.post(VOTES, json={"option": "tot"})
        assert response.status_code == 503
        assert time.perf_counter() - started < 1.0
        assert response.headers["retry-after"]
