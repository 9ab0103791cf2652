"""The vote rate limit: new votes per client address, a moving window kept in Redis by `limits`.

Addresses are grouped as one IPv4 address (/32) or one IPv6 /64 (what one household or
phone is usually given), and hashed with the secret key before they become part of a Redis
key: no raw address is stored.

What counts: every vote request that passed validation (a known poll, open, a valid option,
a same-origin form) — the ones answered 201 and the ones answered 409 `already_voted`. The
window is taken atomically before the vote script runs; a 409 is only known afterwards, and a
moving window cannot give an entry back atomically. Taking first is what stops a burst of
concurrent requests from all passing a check and then all voting. The cost falls only on a
client that re-posts a ballot it already cast, which the widget never does.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import RedisClusterStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from server.clients import IPAddress
from server.settings import Settings

_NAMESPACE = "vote"


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    retry_after: int
    """Whole seconds until a vote from this address would be allowed again (0 if allowed)."""


def address_group(address: IPAddress | None) -> str:
    """What one limit counts: an IPv4 address, an IPv6 /64, or all address-less peers."""
    if address is None:
        return "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def hashed_group(address: IPAddress | None, secret: str) -> str:
    """The address group as an opaque key: keyed so that it cannot be reversed by trying
    all 2^32 IPv4 addresses without the secret."""
    digest = hmac.new(secret.encode(), address_group(address).encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


class VoteRateLimiter:
    """`await limiter.acquire(address)` takes one vote from the address's moving window."""

    def __init__(self, redis: Redis | RedisCluster, settings: Settings, limit: str) -> None:
        self.item: RateLimitItem = parse(limit)
        self.secret = settings.secret_keys[0]
        prefix = f"{settings.redis_prefix}ratelimit"
        self.storage: RedisStorage
        if isinstance(redis, Redis):
            # Share the service's pool: same bounded timeouts, same waiting pool, same fast 503.
            self.storage = RedisStorage(
                _storage_uri(settings.redis_url),
                implementation="redispy",
                key_prefix=prefix,
                connection_pool=redis.connection_pool,  # type: ignore[arg-type]
            )
        else:
            # A cluster client has no single pool to share; the limiter gets its own, as bounded.
            self.storage = RedisClusterStorage(
                "async+redis+cluster://" + settings.redis_url.partition("://")[2],
                implementation="redispy",
                key_prefix=prefix,
                socket_timeout=settings.redis_socket_timeout,
                socket_connect_timeout=settings.redis_connect_timeout,
            )
        self.limiter = MovingWindowRateLimiter(self.storage)

    async def acquire(self, address: IPAddress | None) -> Decision:
        key = hashed_group(address, self.secret)
        if await self.limiter.hit(self.item, _NAMESPACE, key):
            return Decision(True, 0)
        stats = await self.limiter.get_window_stats(self.item, _NAMESPACE, key)
        return Decision(False, max(1, math.ceil(stats.reset_time - time.time())))


def _storage_uri(redis_url: str) -> str:
    """`limits` names its schemes `async+redis://`, `async+rediss://`, `async+redis+unix://`."""
    if redis_url.startswith("unix://"):
        return "async+redis+" + redis_url
    return "async+" + redis_url
