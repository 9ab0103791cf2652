"""Presence: how many sessions are online, site-wide and per page.

A session counts from its heartbeat until the end that heartbeat promised (`ttl` later), or
until it leaves. Each scope (the site, one page) is a sorted set of sessions scored by that
end in milliseconds of the Redis clock (`TIME`): a read is one `ZCOUNT` of the ends still
ahead (O(log n), writing nothing), and every heartbeat first removes the sessions that ended
(`ZREMRANGEBYSCORE`), so memory follows the sessions online now, not the last peak; keys that
shrank are rewritten compact. Each key expires (up to a second) after the latest end promised
in it, so an idle site or page vanishes by itself.
Nothing is a running total: a Redis clock stepping back, or instances with different `ttl`s,
can only keep a session counted until the end it was promised (a clock step of 5 s: 5 s
longer), never shorten it or leave an offset.

Bounds against hostile clients, all in the same Lua script as the heartbeat:
- Only the site's pages (`catalog.pages`, canonical paths) get a page scope; a heartbeat
  for any other page counts site-wide only and answers `"page_online": null`. Without a
  page list, at most `max_pages` page scopes exist at once (a registry of live scopes).
- At most `max_online_per_address` sessions of one address group (IPv4 /32, IPv6 /64) count
  online at once: a heartbeat over it is answered with the counts, not counted.
- A small record per online session (its address group, its last 7 pages) lets a leave
  without a page take it off every page it is counted on: `page_online` never exceeds
  `online`. A leave with a page takes it off that page only (another tab may show the site).

Keys live under the `{presence}` hash tag (one script may touch them all on Redis Cluster)
with `v3:` names; keys of earlier layouts are never read and expire by themselves. Page keys
are named by a hash of the page (16 hex digits), so a long path costs no more than a short one.
Members are the session ids' 12 raw bytes rather than their 16 base64 characters.
Heartbeats and count reads sent within one event-loop tick share one script call (see
`server.batching`); each still gets the counts it would have got alone.
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import re
from collections.abc import Awaitable, Callable
from typing import NamedTuple
from urllib.parse import unquote

from server.batching import Coalescer
from server.catalog import SiteCatalog, canonical_page
from server.errors import ApiError
from server.store import RedisClient, load_script

MAX_PAGE_LENGTH = 512
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{16}")
_LAYOUT = "v3:"
_TO_STANDARD_BASE64 = bytes.maketrans(b"-_", b"+/")


class PresenceCounts(NamedTuple):
    """A heartbeat's or a read's answer. (A named tuple: made per request, it costs a
    third of a frozen dataclass.)"""

    online: int
    page_online: int | None
    ttl: int
    counted: bool = True
    """False for a heartbeat that was answered but not counted (its address is at its bound)."""

    def as_json_bytes(self) -> bytes:
        """`{"online", "page_online", "ttl"}`, formatted directly: this is the hottest answer."""
        page = "null" if self.page_online is None else str(self.page_online)
        return f'{{"online":{self.online},"page_online":{page},"ttl":{self.ttl}}}'.encode()


Beat = tuple[bytes, str | None, bool, str]
"""A heartbeat in a batch: session member, page, whether it is a page view, address key
(`server.history.address_key`: a keyed hash of the address group, IPv4 or IPv6 /64)."""
BatchHook = Callable[[list[Beat], list[PresenceCounts]], Awaitable[None]]
"""Called once per batch of heartbeats with their counts; each beat's page is its page
scope there (`Presence.known_page`: None for a page that may have none)."""


def normalize_page(page: object) -> str | None:
    """A page is a site path like `/tin-tuc/a.html`; query and fragment are not part of it."""
    if page is None:
        return None
    if not isinstance(page, str):
        raise ApiError(422, "invalid_page", "page must be a string path such as /index.html")
    if len(page) <= MAX_PAGE_LENGTH:
        return _normalized(page)  # the few pages of a site, over and over: remembered
    return _normalized.__wrapped__(page)


@functools.lru_cache(maxsize=4096)
def _normalized(page: str) -> str | None:
    path = page.split("#", 1)[0].split("?", 1)[0]
    if path == "":
        return None
    if (
        not path.startswith("/")
        or path.startswith("//")
        or len(path) > MAX_PAGE_LENGTH
        or not path.isprintable()
    ):
        raise ApiError(
            422,
            "invalid_page",
            f"page must be a path starting with / (at most {MAX_PAGE_LENGTH} characters)",
        )
    return canonical_page(path)


def session_member(session_id: str) -> bytes:
    """The sorted-set member for a session: its id's 12 raw bytes.

    Ids are 16 url-safe base64 characters (see `server.sessions`); anything else is stored as
    its UTF-8 text, which cannot collide with a 12-byte member of a 16-character id.
    """
    if _SESSION_ID.fullmatch(session_id):
        # base64.urlsafe_b64decode, without its two Python layers (one per heartbeat).
        return binascii.a2b_base64(session_id.encode().translate(_TO_STANDARD_BASE64))
    return session_id.encode()


@functools.lru_cache(maxsize=4096)
def page_token(page: str) -> bytes:
    """A page scope's 8-byte name: fixed-size in session records and key names."""
    return hashlib.blake2b(page.encode(), digest_size=8).digest()


@functools.lru_cache(maxsize=4096)
def address_group(address: str) -> bytes:
    """The 8 bytes the scripts count an address key under (the key is a hash already)."""
    return hashlib.blake2b(address.encode(), digest_size=8).digest()


class Presence:
    """Heartbeats, leaves and counts for one site."""

    def __init__(
        self,
        redis: RedisClient,
        prefix: str,
        ttl_seconds: int,
        *,
        catalog: SiteCatalog | None = None,
        max_pages: int = 10_000,
        max_online_per_address: int = 50,
    ) -> None:
        self.redis = redis
        self.ttl = ttl_seconds
        self.catalog = catalog
        self.max_pages = max_pages
        self.max_online_per_address = max_online_per_address
        self.on_batch: BatchHook | None = None
        """Called once per heartbeat batch, with its counts (traffic history records them)."""
        base = f"{prefix}{{presence}}:{_LAYOUT}"
        self._keys = [
            f"{base}{name}" for name in ("site", "sessions", "addresses", "scopes", "peaks")
        ]
        self._page_prefix = f"{base}page:"
        self._heartbeat_script = load_script(redis, "presence_heartbeat")
        self._count_script = load_script(redis, "presence_count")
        self._leave_script = load_script(redis, "presence_leave")
        self._heartbeats: Coalescer[Beat, PresenceCounts] = Coalescer(self._heartbeat_batch)
        self._reads: Coalescer[str | None, PresenceCounts] = Coalescer(self._count_batch)
        self.clock_ms: int | None = None
        """Tests set the clock the scripts use (ms); None: Redis `TIME`."""

    def known_page(self, page: str | None) -> str | None:
        """The page's scope name if it may have one: on the site's list (when there is one)."""
        pages = self.catalog.pages if self.catalog is not None else None
        if page is None or pages is None or page in pages:
            return page
        # The widget sends location.pathname, percent-encoded; the list may hold the text.
        decoded = unquote(page)
        return decoded if decoded in pages else None

    def page_key(self, page: str) -> str:
        return self._page_prefix + page_token(page).hex()

    def _bounded_scopes(self) -> bool:
        """Without a page list, the `scopes` registry bounds the page scopes."""
        return self.catalog is None or self.catalog.pages is None

    def _now(self) -> str:
        return "" if self.clock_ms is None else str(self.clock_ms)

    def heartbeat(
        self, session_id: str, page: str | None, view: bool = False, address: str = ""
    ) -> Awaitable[PresenceCounts]:
        """This session is online (on `page` too, if it may be) for the next `ttl` seconds;
        `address` is the client's address key (see `Beat`). Await the counts."""
        return self._heartbeats((session_member(session_id), page, view, address))

    def counts(self, page: str | None) -> Awaitable[PresenceCounts]:
        """The counts now, site-wide and on `page` (await them)."""
        return self._reads(page)

    async def leave(self, session_id: str, page: str | None = None) -> None:
        """This session is offline now: on `page` only if given (another tab may still show
        the site), else site-wide and on every page it was counted on."""
        token = b""
        if page is not None:
            scope = self.known_page(page)
            if scope is None:
                return  # a page with no scope: the session was never counted there
            token = page_token(scope)
        bounded = "1" if self._bounded_scopes() else "0"
        args = [self._page_prefix, session_member(session_id), bounded, token]
        await self._leave_script(keys=self._keys, args=args)

    async def _heartbeat_batch(self, beats: list[Beat]) -> list[PresenceCounts]:
        """One script call for many heartbeats; each answered with its own counts."""
        max_scopes = self.max_pages if self._bounded_scopes() else 0
        ttl_ms = self.ttl * 1000
        args: list[bytes | str | int] = [
            self._page_prefix,
            self._now(),
            ttl_ms,
            max_scopes,
            self.max_online_per_address,
        ]
        scoped: list[Beat] = []
        for member, page, view, address in beats:
            scope = self.known_page(page)
            args += [member, address_group(address), b"" if scope is None else page_token(scope)]
            scoped.append((member, scope, view, address))
        flat = await self._heartbeat_script(keys=self._keys, args=args)
        ttl = self.ttl
        results = [
            PresenceCounts(
                int(flat[i]), None if flat[i + 1] < 0 else int(flat[i + 1]), ttl, flat[i + 2] == 1
            )
            for i in range(0, len(flat), 3)
        ]
        if self.on_batch is not None:
            await self.on_batch(scoped, results)
        return results

    async def _count_batch(self, pages: list[str | None]) -> list[PresenceCounts]:
        """One script call for many readers: each distinct scope counted once. A page with
        no scope (not on the site's list) answers `page_online: null` without a look."""
        scopes = {page: self.known_page(page) for page in pages if page is not None}
        distinct = list(dict.fromkeys(scope for scope in scopes.values() if scope is not None))
        keys = [self._keys[0], *(self.page_key(scope) for scope in distinct)]
        counts = await self._count_script(keys=keys, args=[self._now()])
        online = int(counts[0])
        by_scope = {scope: int(count) for scope, count in zip(distinct, counts[1:], strict=True)}

        def page_online(page: str | None) -> int | None:
            scope = None if page is None else scopes[page]
            return None if scope is None else by_scope[scope]

        return [PresenceCounts(online, page_online(page), self.ttl) for page in pages]
