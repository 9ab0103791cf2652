"""Origins: which pages may call the API, and the CORS headers for `PORTAL_ALLOWED_ORIGINS`.

Sessions travel as a cookie or the `X-Portal-Session` header (credentials), so an allowed
origin is always named in `Access-Control-Allow-Origin`, never `*`.
"""

from __future__ import annotations

from starlette.types import Scope

from server.sessions import HEADER_NAME

Header = tuple[bytes, bytes]


def own_origin(scope: Scope, host: bytes | None) -> str:
    """The origin this request was addressed to (scheme after trusted proxies)."""
    return f"{scope['scheme']}://{(host or b'').decode('latin-1').strip()}".lower()


class CrossOrigin:
    """The CORS step of the pipeline, and the origin check of heartbeats and leaves."""

    def __init__(self, allowed_origins: tuple[str, ...]) -> None:
        self.allowed = frozenset(origin.lower() for origin in allowed_origins)
        self._simple = [
            (b"access-control-allow-credentials", b"true"),
            (b"access-control-expose-headers", f"{HEADER_NAME}, Retry-After".encode()),
            (b"vary", b"Origin"),
        ]
        self._preflight = [
            (b"access-control-allow-credentials", b"true"),
            (b"access-control-allow-methods", b"GET, POST"),
            (b"access-control-allow-headers", f"Content-Type, {HEADER_NAME}".encode()),
            (b"access-control-max-age", b"600"),
            (b"vary", b"Origin"),
        ]

    def is_trusted(self, origin: bytes, scope: Scope, host: bytes | None) -> bool:
        """The page's origin is the site's own or an allowed one (`null` is neither)."""
        text = origin.decode("latin-1").strip().lower()
        return text in self.allowed or text == own_origin(scope, host)

    def headers_for(self, origin: bytes) -> list[Header]:
        """What an answer to an allowed origin carries; nothing for any other origin."""
        text = origin.decode("latin-1").strip().lower()
        if text not in self.allowed:
            return []
        return [(b"access-control-allow-origin", origin.strip()), *self._simple]

    def preflight(self, origin: bytes) -> list[Header] | None:
        """The headers of a preflight answer; None when the origin is not allowed."""
        text = origin.decode("latin-1").strip().lower()
        if text not in self.allowed:
            return None
        return [(b"access-control-allow-origin", origin.strip()), *self._preflight]
