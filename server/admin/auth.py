"""Who may use the admin API and console: the bearer token, or the console's sign-in cookie.

The cookie `portal_admin` is signed with a key derived from `PORTAL_ADMIN_TOKEN` itself, so
changing the token invalidates every cookie signed before; it lasts 12 hours.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from itsdangerous import BadData, TimestampSigner
from starlette.requests import Request

from server.errors import ApiError
from server.settings import Settings

COOKIE_NAME = "portal_admin"
COOKIE_MAX_AGE = 12 * 3600


def token_matches(settings: Settings, candidate: str) -> bool:
    """Whether `candidate` is the admin token (compared in constant time)."""
    expected = settings.admin_token
    return expected is not None and hmac.compare_digest(
        candidate.strip().encode(), expected.encode()
    )


def _signer(token: str) -> TimestampSigner:
    key = hmac.new(token.encode(), b"portal.admin.cookie", hashlib.sha256).hexdigest()
    return TimestampSigner(key, salt="portal.admin")


def new_cookie_value(settings: Settings) -> str:
    assert settings.admin_token is not None
    return _signer(settings.admin_token).sign(secrets.token_urlsafe(12)).decode()


def cookie_valid(settings: Settings, value: str | None) -> bool:
    if not value or settings.admin_token is None or len(value) > 200:
        return False
    try:
        _signer(settings.admin_token).unsign(value, max_age=COOKIE_MAX_AGE)
    except BadData:
        return False
    return True


def cookie_options(request: Request) -> dict[str, Any]:
    """How the sign-in cookie is set (and cleared): Secure whenever the request came over https."""
    return {
        "path": "/",
        "httponly": True,
        "samesite": "strict",
        "secure": request.url.scheme == "https",
    }


def admin_identity(request: Request, settings: Settings) -> str | None:
    """`bearer` or `cookie` for an admin request, None for anyone else."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token_matches(settings, token):
        return "bearer"
    if cookie_valid(settings, request.cookies.get(COOKIE_NAME)):
        return "cookie"
    return None


def require_admin(request: Request, settings: Settings) -> str:
    """The admin API's gate: 404 when it is off, 401 for anyone but an admin."""
    if settings.admin_token is None:
        raise ApiError(404, "admin_disabled", "The admin API is off: set PORTAL_ADMIN_TOKEN")
    identity = admin_identity(request, settings)
    if identity is None:
        raise ApiError(401, "unauthorized", "Send Authorization: Bearer <PORTAL_ADMIN_TOKEN>")
    return identity


def same_origin(request: Request) -> bool:
    """A form post from this site's own pages: its Origin (or, from older browsers, its
    Referer) is this origin. The allowed embedding origins do not count, and a post with
    neither is refused (the console's forms always come from a browser)."""
    own = f"{request.url.scheme}://{request.headers.get('host', '')}".lower()
    source = request.headers.get("origin") or request.headers.get("referer") or ""
    if source == "null":
        return False
    scheme, sep, rest = source.partition("://")
    return bool(sep) and f"{scheme}://{rest.split('/', 1)[0]}".lower() == own
