"""Cross-origin API calls, for `PORTAL_ALLOWED_ORIGINS` only."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Receive, Scope, Send

from server.sessions import HEADER_NAME
from server.settings import Settings


class CrossOriginMiddleware(CORSMiddleware):
    """Starlette's CORS, stepping aside for requests without an `Origin` (most of them)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not any(k == b"origin" for k, _ in scope["headers"]):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def cors_middleware(settings: Settings) -> list[Middleware]:
    """Nothing when no origin is allowed: same-origin pages need no CORS headers."""
    if not settings.allowed_origins:
        return []
    return [
        Middleware(
            CrossOriginMiddleware,
            allow_origins=list(settings.allowed_origins),
            # Sessions travel as a cookie or the X-Portal-Session header: credentials,
            # so the origins are always listed, never "*".
            allow_credentials=True,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", HEADER_NAME],
            expose_headers=[HEADER_NAME, "Retry-After"],
            max_age=600,
        )
    ]
