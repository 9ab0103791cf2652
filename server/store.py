"""The Redis connection: bounded timeouts, a waiting pool, and Lua scripts loaded from files."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from server.settings import Settings

_LUA_DIR = Path(__file__).resolve().parent


class Script(Protocol):
    """A registered Lua script: EVALSHA, reloading itself on NOSCRIPT after a Redis restart."""

    async def __call__(
        self, keys: list[Any] | None = None, args: list[Any] | None = None, client: Any = None
    ) -> Any: ...


def connect(settings: Settings) -> Redis:
    """A client whose every wait is bounded, so an unreachable Redis means a fast error.

    One quick retry on a broken connection lets requests ride over a Redis restart (the
    pool's old sockets are dead) without surfacing an error; timeouts are not retried, so a
    slow Redis costs one socket timeout, not several.
    """
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.redis_max_connections,
        timeout=settings.redis_pool_timeout,
        socket_connect_timeout=settings.redis_connect_timeout,
        socket_timeout=settings.redis_socket_timeout,
        retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), 1, (RedisConnectionError,)),
        health_check_interval=30,
    )
    return Redis(connection_pool=pool)


def load_script(redis: Redis, name: str) -> Script:
    """Register `server/<name>.lua` with the client."""
    source = (_LUA_DIR / f"{name}.lua").read_text(encoding="utf-8")
    script: Script = redis.register_script(source)
    return script
