"""Limits per client address, moving windows kept in Redis by `limits`: new votes, new
sessions handed out (new visitors), and failed admin authentications.

Addresses are grouped as one IPv4 address (/32) or one IPv6 /64 (what one household or
phone is usually given), and hashed with the secret key before they become part of a Redis
key: no raw address is stored.

What counts as a vote: every vote request that passed validation (a known poll, open, a valid
option, a same-origin form) — the ones answered 201 and the ones answered 409 `already_voted`. The
window is taken atomically before the vote script runs; a 409 is only known afterwards, and a
moving window cannot give an entry back atomically. Taking first is what stops a burst of
concurrent requests from all passing a check and then all voting. The cost falls only on a
client that re-posts a ballot it already cast, which the widget never does.

What counts as a new visitor: every request that is handed a new session. A returning visitor
(a valid session) never reaches the limiter, so it costs the steady traffic nothing.
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
from starlette.requests import Request
from starlette.types import Scope

from server.clients import IPAddress, client_address
from server.errors import ApiError
from server.metrics import Metrics
from server.settings import Settings


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    retry_after: int
    """Whole seconds until this address would be allowed again (0 if allowed)."""


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


class AddressLimiter:
    """`await limiter.acquire(address)` takes one hit from the address's moving window of
    `namespace` ("vote", "visitor", "admin-failure")."""

    def __init__(
        self, redis: Redis | RedisCluster, settings: Settings, limit: str, namespace: str
    ) -> None:
        self.item: RateLimitItem = parse(limit)
        self.namespace = namespace
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
        """Take one hit, or learn how long until one would be allowed."""
        key = hashed_group(address, self.secret)
        if await self.limiter.hit(self.item, self.namespace, key):
            return Decision(True, 0)
        return Decision(False, await self._retry_after(key))

    async def check(self, address: IPAddress | None) -> Decision:
        """Whether a hit would be allowed now, taking none."""
        key = hashed_group(address, self.secret)
        if await self.limiter.test(self.item, self.namespace, key):
            return Decision(True, 0)
        return Decision(False, await self._retry_after(key))

    async def _retry_after(self, key: str) -> int:
        stats = await self.limiter.get_window_stats(self.item, self.namespace, key)
        return max(1, math.ceil(stats.reset_time - time.time()))


def rate_limited(message: str, decision: Decision) -> ApiError:
    """The 429 of every per-address limit."""
    return ApiError(
        429, "rate_limited", message, headers={"Retry-After": str(decision.retry_after)}
    )


ADMIN_FAILURE_LIMIT = "10/minute"


class AdminGuard:
    """Admin authentication, throttled per address: after 10 failures in a minute every admin
    request from that address is refused (429) until the window passes, the right token too.

    The pipeline calls `check` before every admin route and `record_failure` when one answers
    401; the console's sign-in form reports its wrong tokens with `failed`.
    """

    def __init__(self, token: str | None, failures: AddressLimiter, metrics: Metrics) -> None:
        self.enabled = token is not None
        self.failures = failures
        self._refused = metrics.rate_limited.labels("admin")

    async def check(self, scope: Scope) -> None:
        """429 while the address has used up its failed attempts."""
        if not self.enabled:
            return  # the admin API answers 404 admin_disabled
        decision = await self.failures.check(client_address(scope))
        if not decision.allowed:
            self._refused.inc()
            raise rate_limited("Too many failed admin sign-ins; try again later.", decision)

    async def record_failure(self, scope: Scope) -> None:
        """One failed authentication from this request's address."""
        await self.failures.acquire(client_address(scope))

    async def failed(self, request: Request) -> None:
        """A wrong token at the console's sign-in."""
        await self.record_failure(request.scope)


def _storage_uri(redis_url: str) -> str:
    """`limits` names its schemes `async+redis://`, `async+rediss://`, `async+redis+unix://`."""
    if redis_url.startswith("unix://"):
        return "async+redis+" + redis_url
    return "async+" + redis_url
