"""Visitor sessions: a random id, signed, carried in a cookie or the `X-Portal-Session` header.

A session is what "one vote per visitor" and "N people online" count. Nothing about it is
stored server-side until it votes or sends a heartbeat; a forged, expired or garbled token
is simply treated as no session, and the client gets a fresh one.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass

from itsdangerous import BadData, TimestampSigner
from starlette.requests import cookie_parser
from starlette.types import Scope

COOKIE_NAME = "portal_session"
HEADER_NAME = "X-Portal-Session"
_HEADER_KEY = HEADER_NAME.lower().encode()
_MAX_TOKEN_LENGTH = 200
_VERIFIED_CACHE_SIZE = 50_000


@dataclass(frozen=True, slots=True)
class Visitor:
    """The session a request belongs to; `is_new` when this response must hand it out."""

    id: str
    token: str
    is_new: bool


class SessionSigner:
    """Signs and checks session tokens; accepts any of the keys, signs with the newest."""

    def __init__(self, secret_keys: tuple[str, ...], max_age: int) -> None:
        # itsdangerous wants the newest key last; settings keep it first.
        self._signer = TimestampSigner(list(reversed(secret_keys)), salt="portal.session")
        self.max_age = max_age
        # Heartbeats resend the same token every half-minute: remember tokens already
        # verified (with when they expire) rather than recomputing an HMAC per request.
        # An OrderedDict: evicting a plain dict's oldest entry costs a scan over every
        # entry deleted before it, which grows with the churn of new visitors. Entries are
        # (id, expiry) tuples of atoms, which the garbage collector stops tracking: tens of
        # thousands of cached objects would otherwise lengthen every full collection.
        self._verified: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def new(self) -> Visitor:
        # 12 random bytes: 96 bits is unguessable and keeps ids short in Redis.
        visitor_id = base64.urlsafe_b64encode(secrets.token_bytes(12)).decode()
        return Visitor(visitor_id, self._signer.sign(visitor_id).decode(), is_new=True)

    def verify(self, token: str) -> Visitor | None:
        known = self._verified.get(token)
        if known is not None and known[1] > time.time():
            return Visitor(known[0], token, is_new=False)
        if not token or len(token) > _MAX_TOKEN_LENGTH:
            return None
        try:
            value, signed_at = self._signer.unsign(
                token, max_age=self.max_age, return_timestamp=True
            )
            visitor_id = value.decode()
        except (BadData, UnicodeDecodeError):
            return None
        if len(visitor_id) != 16:
            return None
        if len(self._verified) >= _VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)  # the oldest entry
        self._verified[token] = (visitor_id, signed_at.timestamp() + self.max_age)
        return Visitor(visitor_id, token, is_new=False)

    def resolve(self, header_token: str | None, cookie_token: str | None) -> Visitor:
        """The request's visitor: the header wins over the cookie, a new one if neither is valid."""
        for token in (header_token, cookie_token):
            if token:
                visitor = self.verify(token)
                if visitor is not None:
                    return visitor
        return self.new()


Header = tuple[bytes, bytes]


def session_of(
    signer: SessionSigner, scope: Scope, headers: dict[bytes, bytes], handout: bool = True
) -> tuple[Visitor, list[Header]]:
    """The request's visitor, and the response headers that hand a new session out
    (none when `handout` is false: the visitor is then only used if it is not new).

    A new session goes out both as the `portal_session` cookie (same-origin pages) and in the
    `X-Portal-Session` response header (cross-origin embeds, where cookies are blocked).
    `headers` is the request's headers as a dict (the pipeline builds it once).
    """
    header_token = headers.get(_HEADER_KEY)
    cookie = headers.get(b"cookie")
    visitor = signer.resolve(
        header_token.decode("latin-1").strip() if header_token else None,
        _cookie_value(cookie.decode("latin-1")) if cookie else None,
    )
    if not visitor.is_new or not handout:
        return visitor, []
    secure = scope.get("scheme") == "https"
    # An embed on another site: the browser keeps the cookie in that site's partition
    # (CHIPS) rather than dropping it as a third-party cookie. Partitioned needs Secure.
    origin = headers.get(b"origin")
    host = headers.get(b"host", b"").decode("latin-1").strip().lower()
    cross_site = (
        origin is not None
        and origin.decode("latin-1").strip().lower() != f"{scope.get('scheme')}://{host}"
    )
    cookie_value = _set_cookie(
        visitor.token, signer.max_age, secure, partitioned=secure and cross_site
    )
    return visitor, [(b"set-cookie", cookie_value), (_HEADER_KEY, visitor.token.encode())]


def _cookie_value(header: str) -> str | None:
    # Starlette's lenient parser: one malformed cookie from another app must not hide ours.
    return cookie_parser(header).get(COOKIE_NAME)


def _set_cookie(token: str, max_age: int, secure: bool, *, partitioned: bool = False) -> bytes:
    parts = [f"{COOKIE_NAME}={token}", "Path=/", f"Max-Age={max_age}", "HttpOnly", "SameSite=Lax"]
    if secure:
        parts.append("Secure")
    if partitioned:
        parts.append("Partitioned")
    return "; ".join(parts).encode()
