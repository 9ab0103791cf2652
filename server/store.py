"""The Redis connection: bounded timeouts, a waiting pool, and Lua scripts loaded from files.

`connect` asks the server whether it is a Redis Cluster node (`INFO cluster`) and answers
with redis-py's cluster client if so, so one `PORTAL_REDIS_URL` setting covers both.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, TypeAlias

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.connection import HiredisRespSerializer
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.utils import HIREDIS_AVAILABLE

if HIREDIS_AVAILABLE:
    import hiredis

from server.settings import Settings

_LUA_DIR = Path(__file__).resolve().parent
_log = logging.getLogger(__name__)

RedisClient: TypeAlias = Redis | RedisCluster
"""What the service talks to: a single Redis (or a replica set's primary) or a Cluster."""


class Script(Protocol):
    """A registered Lua script: EVALSHA, reloading itself on NOSCRIPT after a Redis restart."""

    async def __call__(
        self, keys: list[Any] | None = None, args: list[Any] | None = None, client: Any = None
    ) -> Any: ...


def _retry(errors: tuple[type[RedisError], ...] | None = None) -> Retry:
    # One quick retry: enough to ride over a restart (the pool's old sockets are dead, or a
    # cluster's slot map is stale after a failover) without multiplying a slow Redis's cost.
    backoff = ExponentialBackoff(cap=0.05, base=0.01)
    return Retry(backoff, 1) if errors is None else Retry(backoff, 1, errors)


class _CommandsPackedInC:
    """Mixin for redis-py's asyncio connections: commands packed by hiredis (C), as redis-py's
    own synchronous connections pack them (`HiredisRespSerializer`). Its asyncio connections
    pack in Python, joining the whole buffer again for every argument: for a batch of
    heartbeats or votes (60 to 80 arguments) that was half the client's work for the round
    trip (callgrind: 395,000 of 808,000 instructions). Same bytes on the wire; an argument
    hiredis cannot pack (None, a bool) is refused with redis-py's `DataError`, as before."""

    _packer = HiredisRespSerializer()

    def pack_command(self, *args: Any) -> list[bytes]:
        # HiredisRespSerializer.pack, without its pass over every argument turning bytearray
        # and memoryview into bytes (a generator step and an isinstance per argument: a
        # batch has 70 of them, and none of those types): it packs whatever hiredis refuses.
        command = args[0]
        if isinstance(command, str):
            packed_args = (*command.encode().split(), *args[1:])
        elif b" " in command:
            packed_args = (*command.split(), *args[1:])
        else:
            packed_args = args
        try:
            return [hiredis.pack_command(packed_args)]
        except TypeError:
            slow: list[bytes] = self._packer.pack(*args)
            return slow


_PACKED_IN_C: dict[type[Any], type[Any]] = {}


def _packing_in_c(connection_class: type[Any]) -> type[Any]:
    """`connection_class` (TCP, Unix socket or TLS, by the URL) with `_CommandsPackedInC`."""
    if connection_class not in _PACKED_IN_C:
        name = connection_class.__name__
        _PACKED_IN_C[connection_class] = type(name, (_CommandsPackedInC, connection_class), {})
    return _PACKED_IN_C[connection_class]


def connect_single(settings: Settings) -> Redis:
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
        retry=_retry((RedisConnectionError,)),
        health_check_interval=30,
    )
    if HIREDIS_AVAILABLE:
        pool.connection_class = _packing_in_c(pool.connection_class)
    return Redis(connection_pool=pool)


def connect_cluster(settings: Settings) -> RedisCluster:
    """The cluster client with the same bounds as `connect_single`.

    Differences that follow from redis-py: `max_connections` is per node and a full node
    pool fails at once (MaxConnectionsError, a 503) instead of waiting; the one retry also
    covers a timeout, because the client re-reads the slot map before retrying, which is
    what lets it find the new primary after a failover.
    """
    return RedisCluster.from_url(
        settings.redis_url,
        max_connections=settings.redis_max_connections,
        socket_connect_timeout=settings.redis_connect_timeout,
        socket_timeout=settings.redis_socket_timeout,
        retry=_retry(),
        health_check_interval=30,
    )


async def is_cluster(redis: Redis) -> bool:
    """Whether the server behind `redis` has cluster mode on (`INFO cluster`)."""
    info = await redis.info("cluster")
    return bool(int(info.get("cluster_enabled", 0)))


async def connect(settings: Settings) -> RedisClient:
    """The client for `settings.redis_url`: the cluster client when it names a cluster node.

    If Redis cannot be asked (down while the service starts), this assumes a single Redis and
    says so in the log: the service still starts and answers 503 until Redis is back. Start a
    clustered deployment after its cluster, as the service never switches clients later.
    """
    single = connect_single(settings)
    if settings.redis_url.startswith("unix://"):
        return single
    try:
        clustered = await is_cluster(single)
    except RedisError as exc:
        _log.warning("could not ask Redis whether it is a cluster (%s); assuming it is not", exc)
        return single
    if not clustered:
        return single
    await single.aclose()
    return connect_cluster(settings)


def load_script(redis: RedisClient, name: str) -> Script:
    """Register `server/<name>.lua` with the client."""
    source = (_LUA_DIR / f"{name}.lua").read_text(encoding="utf-8")
    script: Script = redis.register_script(source)
    return script


async def run_scripts(
    redis: RedisClient, calls: Sequence[tuple[Script, list[Any], list[Any]]]
) -> list[Any]:
    """Run several `(script, keys, args)` calls; their results in the same order.

    On a single Redis they go in one pipeline (one round trip). On a cluster their keys may
    live on different nodes and redis-py refuses EVALSHA in a cluster pipeline, so they run
    concurrently instead, each on the node owning its keys.
    """
    if isinstance(redis, RedisCluster):
        return list(await asyncio.gather(*(script(keys=k, args=a) for script, k, a in calls)))
    async with redis.pipeline(transaction=False) as pipe:
        for script, keys, args in calls:
            await script(keys=keys, args=args, client=pipe)
        return list(await pipe.execute())
