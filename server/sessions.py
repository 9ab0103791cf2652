"""Visitor sessions: a random id, signed, carried in a cookie or the `X-Portal-Session` header.

A session is what "one vote per visitor" and "N people online" count. Nothing about it is
stored server-side until it votes or sends a heartbeat; a forged, expired or garbled token
is simply treated as no session, and the client gets a fresh one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from typing import NamedTuple

from starlette.requests import cookie_parser
from starlette.types import Scope

COOKIE_NAME = "portal_session"
HEADER_NAME = "X-Portal-Session"
_HEADER_KEY = HEADER_NAME.lower().encode()
_MAX_TOKEN_LENGTH = 200
_VERIFIED_CACHE_SIZE = 50_000


class Visitor(NamedTuple):
    """The session a request belongs to; `is_new` when this response must hand it out. (A
    named tuple: made per request, it costs a third of a frozen dataclass.)"""

    id: str
    token: str
    is_new: bool


NO_SESSION = Visitor("", "", is_new=True)
"""The visitor of a request without a valid session, on a route that hands none out."""


class SessionSigner:
    """Signs and checks session tokens; accepts any of the keys, signs with the newest.

    Tokens are itsdangerous `TimestampSigner` tokens (salt `portal.session`, HMAC-SHA1 with a
    django-concat derived key): `<id>.<timestamp>.<signature>`, each part unpadded URL-safe
    base64. They are made and checked here with keys derived once, each as an HMAC already
    keyed (`hmac.new(key).copy()` per token: half the cost of `hmac.digest`, which keys
    OpenSSL afresh each call): the library derives the key and builds an HMAC object per
    call, which made a first vote's token check cost more than the rest of the request.
    Tokens of either stay valid in the other (tested).
    """

    def __init__(self, secret_keys: tuple[str, ...], max_age: int) -> None:
        # Newest first; HMACs keyed once, copied per token.
        self._keys = [hmac.new(_derive_key(key), digestmod="sha1") for key in secret_keys]
        self.max_age = max_age
        # Heartbeats resend the same token every half-minute: remember tokens already
        # verified (with when they expire) rather than recomputing an HMAC per request.
        # An OrderedDict: evicting a plain dict's oldest entry costs a scan over every
        # entry deleted before it, which grows with the churn of new visitors. Entries are
        # (visitor, expiry) tuples of atoms (a Visitor is a tuple of strings and a bool),
        # which the garbage collector stops tracking: tens of thousands of cached objects
        # would otherwise lengthen every full collection. The Visitor itself is kept, so a
        # returning token costs no new one.
        self._verified: OrderedDict[str, tuple[Visitor, float]] = OrderedDict()

    def new(self) -> Visitor:
        # 12 random bytes: 96 bits is unguessable and keeps ids short in Redis.
        visitor_id = base64.urlsafe_b64encode(secrets.token_bytes(12))
        stamp = _b64(int(time.time()).to_bytes(8, "big").lstrip(b"\0"))
        message = visitor_id + b"." + stamp
        token = message + b"." + _b64(_sign(self._keys[0], message))
        return Visitor(visitor_id.decode(), token.decode(), is_new=True)

    def verify(self, token: str) -> Visitor | None:
        known = self._verified.get(token)
        if known is not None and known[1] > time.time():
            return known[0]
        if not token or len(token) > _MAX_TOKEN_LENGTH or not token.isascii():
            return None
        message, _, signature = token.encode().rpartition(b".")
        value, _, stamp = message.rpartition(b".")
        if len(value) != 16 or not 0 < len(stamp) <= 11:
            return None
        for key in self._keys:
            if hmac.compare_digest(_b64(_sign(key, message)), signature):
                break
        else:
            return None
        try:
            signed_at = int.from_bytes(base64.urlsafe_b64decode(stamp + b"=" * (-len(stamp) % 4)))
        except ValueError:
            return None
        age = time.time() - signed_at
        # Expired, or signed in the future (by over a second: another instance's clock may
        # run a little ahead; itsdangerous allows none).
        if not -1 < age <= self.max_age:
            return None
        if len(self._verified) >= _VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)  # the oldest entry
        visitor = Visitor(value.decode(), token, is_new=False)
        self._verified[token] = (visitor, signed_at + self.max_age)
        return visitor

    def resolve(
        self, header_token: str | None, cookie_token: str | None, new: bool = True
    ) -> Visitor:
        """The request's visitor: the header wins over the cookie, a new one if neither is
        valid (`NO_SESSION` instead when `new` is false: nothing to sign)."""
        for token in (header_token, cookie_token):
            if token:
                visitor = self.verify(token)
                if visitor is not None:
                    return visitor
        return self.new() if new else NO_SESSION


def _derive_key(secret: str) -> bytes:
    """itsdangerous's "django-concat" key derivation, for the salt `portal.session`."""
    return hashlib.sha1(b"portal.session" + b"signer" + secret.encode()).digest()


def _sign(key: hmac.HMAC, message: bytes) -> bytes:
    mac = key.copy()
    mac.update(message)
    return mac.digest()


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


Header = tuple[bytes, bytes]


def session_of(
    signer: SessionSigner, scope: Scope, headers: dict[bytes, bytes], handout: bool = True
) -> tuple[Visitor, list[Header]]:
    """The request's visitor, and the response headers that hand a new session out
    (without `handout`: no headers, and `NO_SESSION` for a request without a valid one).

    A new session goes out both as the `portal_session` cookie (same-origin pages) and in the
    `X-Portal-Session` response header (cross-origin embeds, where cookies are blocked).
    `headers` is the request's headers as a dict (the pipeline builds it once).
    """
    header_token = headers.get(_HEADER_KEY)
    token = header_token.decode("latin-1").strip() if header_token else None
    visitor = signer.verify(token) if token else None
    if visitor is not None:
        return visitor, []  # the header wins: the cookie is not even parsed
    cookie = headers.get(b"cookie")
    visitor = signer.resolve(
        None, _cookie_value(cookie.decode("latin-1")) if cookie else None, new=handout
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
