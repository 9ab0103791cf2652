"""`GET /api/admin/live`: Server-Sent Events with the live counts, for admins.

Each worker runs one `LiveHub`: while at least one stream is open it reads the counts once a
second (`AdminTools.snapshot`: one pipeline and one presence read, however many streams are
open) and hands the result to every stream when it changed, or every 15 seconds regardless.
A stream holds only the newest event (a queue of one): a slow client skips the events it
could not take, and a client that went away is dropped when its connection ends; neither
holds anything but its own small task.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator

from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from server.admin.api import admin_gate
from server.admin.tools import AdminTools
from server.errors import ApiError

TICK_SECONDS = 1.0
KEEPALIVE_SECONDS = 15.0
MAX_STREAMS = 2000
"""Open streams per worker: admins are few; this bounds what a leaked token could open."""
_log = logging.getLogger(__name__)


class LiveHub:
    def __init__(self, tools: AdminTools) -> None:
        self.tools = tools
        self.streams: set[asyncio.Queue[bytes]] = set()
        self.latest: bytes | None = None
        self.reads = 0
        """Snapshot reads so far (the benchmark divides them by the time)."""
        self._task: asyncio.Task[None] | None = None

    def subscribe(self) -> asyncio.Queue[bytes]:
        if len(self.streams) >= MAX_STREAMS:
            raise ApiError(503, "too_many_streams", "Too many live streams open on this worker")
        queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1)
        if self.latest is not None:
            queue.put_nowait(self.latest)
        self.streams.add(queue)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        return queue

    def unsubscribe(self, queue: asyncio.Queue[bytes]) -> None:
        self.streams.discard(queue)

    async def _run(self) -> None:
        sent_at = 0.0
        while self.streams:
            try:
                snapshot = await self.tools.snapshot(10)
            except (RedisError, OSError) as exc:
                _log.warning("live counts not read: %s", exc)
            else:
                self.reads += 1
                body = json.dumps(snapshot.as_json(), ensure_ascii=False).encode()
                now = time.monotonic()
                if body != self.latest or now - sent_at >= KEEPALIVE_SECONDS:
                    self.latest, sent_at = body, now
                    self._deliver(body)
            await asyncio.sleep(TICK_SECONDS)
        self.latest = None  # nobody listened for a while: the next stream waits for a fresh read

    def _deliver(self, body: bytes) -> None:
        for queue in self.streams:
            if queue.full():
                queue.get_nowait()  # the client has not taken the last one: it gets this instead
            queue.put_nowait(body)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def live(request: Request) -> Response:
    admin_gate(request)
    hub: LiveHub = request.app.state.live
    queue = hub.subscribe()

    async def events() -> AsyncIterator[bytes]:
        try:
            yield b"retry: 2000\n\n"
            while True:
                body = await queue.get()
                yield b"event: counts\ndata: " + body + b"\n\n"
        finally:
            hub.unsubscribe(queue)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
