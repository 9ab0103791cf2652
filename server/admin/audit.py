"""The admin audit log: every sign-in (and failed one), sign-out, export and void, newest
first, the last `AUDIT_ENTRIES` kept (one Redis list)."""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.requests import Request

from server.clients import client_address
from server.store import RedisClient

AUDIT_ENTRIES = 1000


class AuditLog:
    def __init__(self, redis: RedisClient, prefix: str) -> None:
        self.redis = redis
        self.key = f"{prefix}{{admin}}:audit"

    async def record(self, request: Request, action: str, **detail: Any) -> None:
        """One entry: when, what, from which address (admins' own; kept with the entry)."""
        address = client_address(request.scope)
        entry = {
            "at": time.time(),
            "action": action,
            "address": str(address) if address is not None else None,
            "detail": detail,
        }
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.lpush(self.key, json.dumps(entry, ensure_ascii=False))
            pipe.ltrim(self.key, 0, AUDIT_ENTRIES - 1)
            await pipe.execute()

    async def entries(self, count: int = 200) -> list[dict[str, Any]]:
        found: list[Any] = await self.redis.lrange(self.key, 0, count - 1)
        return [json.loads(item) for item in found]
