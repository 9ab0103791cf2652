"""The service as `portal serve` runs it: the usual app (`server.app`), plus, for editors,
live reload and a page listing the problems while there is no good build to serve.

- `GET /_portal/live.js`: the browser side (a file: the pages' CSP forbids inline code);
- `GET /_portal/events`: Server-Sent Events, one `BuildStatus` (JSON) now and after each
  change of it;
- every HTML page the service sends gets
  `<script src="/_portal/live.js?v=VERSION" data-build="ID" defer>`, ID being the build it was
  served from: the script reloads the page when a later build is announced and shows the
  problems of a failed one over the page. The script itself is cached by version, so a
  reload fetches nothing but the page.

The rebuild loop (`portal.cli`) writes the status file; each worker follows it here. The
files in the build directory are never changed: `portal build` output has none of this.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import html
import json
import os
import signal
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from types import FrameType

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal.devserver.status import BuildStatus, read_status
from server.app import create_app_from_env
from server.router import from_starlette

# Set by `portal serve` for its workers: the status file, and "0" to turn live reload off.
STATUS_ENV = "PORTAL_DEV_STATUS"
LIVE_RELOAD_ENV = "PORTAL_DEV_LIVE_RELOAD"
SCRIPT = Path(__file__).with_name("live.js")
SCRIPT_PATH = "/_portal/live.js"
EVENTS_PATH = "/_portal/events"
# How often a worker looks at the status file, while a page listens: a stat() (about 2 µs)
# every 5 ms costs nothing, and a rebuild reaches the browser at most this much later.
POLL_SECONDS = 0.005
# Paths whose answers are never pages of the site (the admin console is the service's own).
_NOT_PAGES = ("/api/", "/widgets/", "/_portal/", "/admin", "/healthz", "/readyz", "/metrics")


class StatusFollower:
    """The current `BuildStatus` of one worker, re-read whenever the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.current: BuildStatus | None = None
        self.closing = False  # the server is shutting down: event streams end
        self._stamp: tuple[int, int, int] | None = None
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def refresh(self) -> bool:
        """Re-read the file if it changed (one stat() when it did not)."""
        try:
            st = os.stat(self.path)
        except OSError:
            return False
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return False
        status = read_status(self.path)
        if status is None:
            return False
        self._stamp, self.current = stamp, status
        return True

    async def _follow(self) -> None:
        while not self.closing:
            if self.refresh():
                self._changed.set()
                self._changed = asyncio.Event()
            await asyncio.sleep(POLL_SECONDS)

    async def statuses(self) -> AsyncIterator[BuildStatus]:
        """The current status, then each new one, until the server shuts down."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._follow())
        self.refresh()
        sent: BuildStatus | None = None
        while not self.closing:
            if self.current is not None and self.current != sent:
                sent = self.current
                yield sent
            changed = self._changed
            # Wake at least twice a second to notice a shutdown.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), timeout=0.5)


def live_reload_routes(follower: StatusFollower) -> list[BaseRoute]:
    """The script and the event stream."""

    code = SCRIPT.read_bytes()
    cached = {"Cache-Control": "public, max-age=31536000, immutable"}

    async def script(request: Request) -> Response:
        versioned = request.query_params.get("v") == script_version()
        headers = cached if versioned else {"Cache-Control": "no-store"}
        return Response(code, media_type="text/javascript", headers=headers)

    async def events(request: Request) -> Response:
        async def stream() -> AsyncIterator[bytes]:
            yield b"retry: 250\n\n"  # reconnect quickly after a restart of portal serve
            async for status in follower.statuses():
                yield b"data: " + json.dumps(status.as_json()).encode() + b"\n\n"

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return [
        Route(SCRIPT_PATH, script, methods=["GET"]),
        Route(EVENTS_PATH, events, methods=["GET"]),
    ]


class DevPages:
    """ASGI middleware on the site's pages: adds the live-reload script to every HTML answer,
    and answers with the build's problems while no good build exists."""

    def __init__(self, app: ASGIApp, follower: StatusFollower, *, live_reload: bool) -> None:
        self.app = app
        self.follower = follower
        self.live_reload = live_reload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or scope["method"] != "GET" or path.startswith(_NOT_PAGES):
            await self.app(scope, receive, send)
            return
        self.follower.refresh()
        status = self.follower.current  # read before the page: the page is at least this new
        # Always a full answer: a 304 would bring back a cached page with an older build id.
        scope = {**scope, "headers": [h for h in scope["headers"] if not _conditional(h[0])]}
        started: Message | None = None
        chunks: list[bytes] = []

        async def rewrite(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start" and (
                _is_html(message) or (status is not None and not status.has_site)
            ):
                started = message
                return
            if started is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                await self._send_page(started, b"".join(chunks), status, send)

        await self.app(scope, receive, rewrite)

    async def _send_page(
        self, start: Message, body: bytes, status: BuildStatus | None, send: Send
    ) -> None:
        code: int = start["status"]
        headers = [
            (k, v)
            for k, v in start.get("headers", ())
            if k not in (b"content-length", b"etag", b"last-modified", b"cache-control")
        ]
        if status is not None and not status.has_site and code == 404:
            code, body = 503, problem_page(status)
            headers = [(k, v) for k, v in headers if k != b"content-type"]
            headers.append((b"content-type", b"text/html; charset=utf-8"))
        if self.live_reload and _is_html({"headers": headers}):
            build = status.build if status is not None else ""
            body = inject_script(body, build)
        headers += [(b"content-length", str(len(body)).encode()), (b"cache-control", b"no-store")]
        await send({**start, "status": code, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _conditional(name: bytes) -> bool:
    return name in (b"if-none-match", b"if-modified-since")


def _is_html(message: Message) -> bool:
    return any(
        k == b"content-type" and v.startswith(b"text/html") for k, v in message.get("headers", ())
    )


@functools.cache
def script_version() -> str:
    """A short hash of live.js: its URL changes when the file does."""
    return hashlib.sha256(SCRIPT.read_bytes()).hexdigest()[:12]


def inject_script(page: bytes, build: str) -> bytes:
    """The page with the live-reload script added at the end of its <head> (or body)."""
    tag = (
        f'<script src="{SCRIPT_PATH}?v={script_version()}" data-build="{html.escape(build)}" '
        "defer></script>"
    ).encode()
    for marker in (b"</head>", b"</body>"):
        at = page.find(marker) if marker == b"</head>" else page.rfind(marker)
        if at >= 0:
            return page[:at] + tag + page[at:]
    return page + tag


def problem_page(status: BuildStatus) -> bytes:
    """What a page answers while the site was never built: the problems, in plain HTML."""
    items = "".join(
        f"<li><code>{html.escape(_where(p))}</code> {html.escape(str(p.get('message', '')))}"
        + (f" <em>{html.escape(str(p['hint']))}</em>" if p.get("hint") else "")
        + "</li>"
        for p in status.problems
    )
    return (
        '<!doctype html><html lang="vi"><head><meta charset="utf-8">'
        "<title>Dựng trang lỗi</title></head><body>"
        "<h1>Dựng trang lỗi: chưa có bản dựng nào để phục vụ</h1>"
        f"<p>portal serve: build failed: {len(status.problems)} problems</p>"
        f"<ol>{items}</ol></body></html>"
    ).encode()


def _where(problem: dict[str, object]) -> str:
    """'content/a.md:3 (title)', as the overlay writes it."""
    file, line, field = problem.get("file") or "", problem.get("line"), problem.get("field")
    where = f"{file}:{line}" if line is not None else str(file)
    return f"{where} ({field})" if field else where


def close_streams_on_exit_signals(follower: StatusFollower) -> None:
    """uvicorn waits for open responses before it stops: end the event streams on SIGINT or
    SIGTERM so that a browser left open never holds `portal serve` up."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(signum)
        if not callable(previous):
            continue

        def closing(num: int, frame: FrameType | None, previous: object = previous) -> None:
            follower.closing = True
            previous(num, frame)  # type: ignore[operator]

        signal.signal(signum, closing)


def create_dev_app_from_env() -> ASGIApp:
    """For uvicorn's `--factory`, under `portal serve`: the app of `server.app`, with live
    reload and the problem page when `PORTAL_DEV_STATUS` names the status file."""
    app = create_app_from_env()
    status_file = os.environ.get(STATUS_ENV)
    if not status_file:
        return app
    follower = StatusFollower(Path(status_file))
    live_reload = os.environ.get(LIVE_RELOAD_ENV, "1") != "0"
    if live_reload:
        # Routes of the pipeline: the script and the events take the same steps (request id,
        # security headers, access log) as every other answer.
        app.router.add(from_starlette(live_reload_routes(follower), app.mounts))
        close_streams_on_exit_signals(follower)
    return DevPages(app, follower, live_reload=live_reload)
