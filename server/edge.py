"""What every HTTP response gets on its way out, in one pass: a request id, the security
headers, a count in the metrics and a line in the access log.

One middleware rather than one per concern: each layer wraps every request and every message
it sends, and on the hot paths those layers cost more than the work itself. The concerns stay
in their own modules (`logs.py`, `security.py`, `metrics.py`); this only calls them.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.logs import (
    REQUEST_ID_HEADER,
    AccessLog,
    RequestIds,
    bind_request_id,
    sane_request_id,
    unbind_request_id,
)
from server.metrics import RequestMetrics, route_label
from server.security import SecurityHeaders


class Edge:
    """Request ids, security headers, request metrics and the access log, for every answer:
    `EdgeMiddleware` applies them around the app, `server.hotpaths` calls them directly."""

    def __init__(
        self, security: SecurityHeaders, metrics: RequestMetrics, access_log: AccessLog | None
    ) -> None:
        self.security = security
        self.metrics = metrics
        self.access_log = access_log
        self._ids = RequestIds()

    def request_id(self, scope: Scope) -> str:
        """An incoming sane `X-Request-Id` (kept, and echoed), else a fresh one."""
        for key, value in scope["headers"]:
            if key == REQUEST_ID_HEADER:
                return sane_request_id(value.decode("latin-1")) or self._ids.new()
        return self._ids.new()

    def record(
        self, request_id: str, scope: Scope, route: str, status: int, size: int, started: float
    ) -> None:
        """Counts the answered request and logs it (`started` is a `perf_counter` reading)."""
        seconds = time.perf_counter() - started
        self.metrics.observe(route, scope["method"], status, seconds)
        if self.access_log is not None:
            self.access_log.write(
                request_id, scope["method"], scope["path"], route, status, size, seconds
            )


class EdgeMiddleware:
    """Applies the `Edge` to every request and every response that passes through."""

    def __init__(self, app: ASGIApp, edge: Edge) -> None:
        self.app = app
        self.edge = edge

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = self.edge.request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        token = bind_request_id(request_id)
        status = 500
        size = 0

        async def send_from_edge(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                headers.append((REQUEST_ID_HEADER, request_id.encode()))
                self.edge.security.add_to(headers)
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_from_edge)
        finally:
            self.edge.record(request_id, scope, route_label(scope), status, size, started)
            unbind_request_id(token)
