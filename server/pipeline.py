"""The request pipeline: every HTTP request takes the same ordered steps, written once.

1. request id (an incoming sane `X-Request-Id`, else a fresh one), bound to the log context;
2. forwarded headers, believed from trusted proxies only (`server.clients`);
3. route (`server.router`): 404 / 405 answers for API paths, static files for the rest;
4. CORS for allowed origins (preflights answered here), and the origin check of routes that
   refuse cross-site pages (heartbeats, leaves);
5. session: the visitor, new or returning (`server.sessions`);
6. limits: new sessions per address, admin authentication and its failure limit;
7. the handler;
8. errors: whatever a step or the handler raised becomes one JSON error (`server.errors`);
9. headers: security headers, the request id, a new session, CORS;
10. metrics and the access log (`server.edge`), however the request ended.

One coroutine rather than a stack of middlewares: each layer wraps every request and every
message it sends, and on heartbeats and votes those layers cost more than the work itself.
Handlers of the hottest calls answer bytes (`JsonEndpoint`) that the pipeline frames without
building a Request or a Response; the others are Starlette handlers taking a Request.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from server.clients import apply_forwarded, client_address
from server.cors import CrossOrigin
from server.edge import Edge
from server.errors import ApiError, Header, error_answer, json_headers
from server.heap import settled_heap
from server.logs import REQUEST_ID_HEADER, bind_request_id, unbind_request_id
from server.router import JsonEndpoint, Route, Router, Session, allow_header
from server.security import SecurityHeaders
from server.sessions import SessionSigner, session_of
from server.settings import IPNetwork

log = logging.getLogger("portal.errors")

Lifespan = Callable[[Any], contextlib.AbstractAsyncContextManager[None]]


@dataclass
class Mounts:
    """Static files served beside the API: directories under a path prefix (the widgets;
    another module may add its own, as `("/admin", files)`), and the built site at `/`."""

    prefixed: list[tuple[str, StaticFiles]] = field(default_factory=list)
    site: StaticFiles | None = None

    def find(self, path: str) -> tuple[StaticFiles, str, str] | None:
        """The files for `path`, its route label and the path below the mount."""
        for prefix, files in self.prefixed:
            if path.startswith(prefix) and path[len(prefix) : len(prefix) + 1] == "/":
                return files, prefix, path[len(prefix) :]
        if self.site is not None and path != "/api" and not path.startswith("/api/"):
            return self.site, "/", path
        return None


class _Outcome:
    """What the access log and the metrics learn about an answer, and the headers every
    answer to this request gets (request id, a new session; CORS unless the answer sets
    its own, as public files do)."""

    __slots__ = ("cors", "extra", "route", "size", "started", "status")

    def __init__(self, extra: list[Header]) -> None:
        self.route = "unmatched"
        self.status = 500
        self.size = 0
        self.started = False
        self.extra = extra
        self.cors: tuple[Header, ...] | list[Header] = ()


class Pipeline:
    """The ASGI application of the service: see the module docstring for its steps."""

    def __init__(
        self,
        router: Router,
        mounts: Mounts,
        *,
        edge: Edge,
        security: SecurityHeaders,
        origins: CrossOrigin,
        signer: SessionSigner,
        trusted_proxies: tuple[IPNetwork, ...],
        lifespan: Lifespan,
    ) -> None:
        self.router = router
        self.mounts = mounts
        self.edge = edge
        self.security = security
        self.origins = origins
        self.cors = bool(origins.allowed)
        self.signer = signer
        self.proxies = trusted_proxies
        self.lifespan_context = lifespan
        self.state = State()
        self.services: Any = None
        """The handlers' `server.routes.Services`, set by the lifespan."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if scope["type"] != "http":
            return  # no websockets: the connection is refused
        started = time.perf_counter()
        headers: dict[bytes, bytes] = dict(scope["headers"])
        request_id = self.edge.request_id(headers.get(REQUEST_ID_HEADER))
        scope["app"] = self
        scope.setdefault("state", {})["request_id"] = request_id
        token = bind_request_id(request_id)
        outcome = _Outcome(extra=[(REQUEST_ID_HEADER, request_id.encode())])
        try:
            if self.proxies:
                apply_forwarded(scope, self.proxies)
            try:
                await self._route(scope, receive, send, headers, outcome)
            except Exception as exc:
                if outcome.started:
                    # Too late for an error answer: the client sees the body cut short.
                    log.error("error after the answer started", exc_info=exc)
                    return
                await self._send_error(exc, scope, send, outcome)
        finally:
            self.edge.record(
                request_id, scope, outcome.route, outcome.status, outcome.size, started
            )
            unbind_request_id(token)

    async def _route(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: dict[bytes, bytes],
        outcome: _Outcome,
    ) -> None:
        origin = headers.get(b"origin")
        if origin is not None and self.cors:
            if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
                await self._preflight(origin, send, outcome)
                return
            outcome.cors = self.origins.headers_for(origin)
        path: str = scope["path"]
        found = self.router.find(path)
        if found is None:
            await self._serve_files(path, scope, receive, send, outcome)
            return
        methods, params = found
        route = methods.get(scope["method"])
        if route is None:
            allow = {"Allow": allow_header(methods)}
            raise ApiError(405, "method_not_allowed", "Method Not Allowed", headers=allow)
        outcome.route = route.path
        scope["path_params"] = params
        try:
            await self._before(route, scope, headers, origin, outcome)
            await self._call(route, scope, receive, send, outcome)
        except ApiError as exc:
            if route.admin and exc.status == 401:
                await self.services.admin.record_failure(scope)
            raise

    async def _call(
        self, route: Route, scope: Scope, receive: Receive, send: Send, outcome: _Outcome
    ) -> None:
        endpoint = route.endpoint
        if isinstance(endpoint, JsonEndpoint):
            state = scope["state"]
            answer = await endpoint.handler(self.services, scope, receive, state.get("visitor"))
            if isinstance(answer, tuple):
                await self._send_json(answer[0], answer[1], send, outcome)
            else:
                await self._send_response(answer, scope, receive, send, outcome)
        else:
            response = await endpoint(Request(scope, receive))
            await self._send_response(response, scope, receive, send, outcome)

    async def _before(
        self,
        route: Route,
        scope: Scope,
        headers: dict[bytes, bytes],
        origin: bytes | None,
        outcome: _Outcome,
    ) -> None:
        """The steps between routing and the handler: origin check, session, limits."""
        host = headers.get(b"host")
        if (
            route.same_origin
            and origin is not None
            and not self.origins.is_trusted(origin, scope, host)
        ):
            raise ApiError(403, "forbidden_origin", "Only the portal's own pages may send this")
        if route.session is not Session.NONE:
            handout = route.session is Session.HANDOUT
            visitor, session_headers = session_of(self.signer, scope, headers, handout)
            if session_headers:
                await self._limit_new_visitor(scope)
                outcome.extra += session_headers
            scope["state"]["visitor"] = visitor
        if route.admin:
            await self.services.admin.check(scope)

    async def _limit_new_visitor(self, scope: Scope) -> None:
        """At most `new_visitor_limit` new sessions per address: returning visitors never
        get here, so only a request about to be handed a session pays for the check."""
        limiter = self.services.visitor_limiter
        if limiter is None:
            return
        decision = await limiter.acquire(client_address(scope))
        if not decision.allowed:
            self.services.metrics.rate_limited.labels("new_visitor").inc()
            raise ApiError(
                429,
                "rate_limited",
                "Too many new visitors from your network; try again later.",
                headers={"Retry-After": str(decision.retry_after)},
            )

    async def _preflight(self, origin: bytes, send: Send, outcome: _Outcome) -> None:
        allowed = self.origins.preflight(origin)
        if allowed is None:
            raise ApiError(400, "forbidden_origin", "This origin may not call the API")
        outcome.route = "preflight"
        outcome.cors = allowed
        await self._send_json(200, b"{}", send, outcome)

    async def _serve_files(
        self, path: str, scope: Scope, receive: Receive, send: Send, outcome: _Outcome
    ) -> None:
        """Paths no route knows: a JSON 404 under /api, else the widgets or the site."""
        found = self.mounts.find(path)
        if found is None:
            raise ApiError(404, "not_found", "Not Found")
        files, outcome.route, relative = found
        response = await files.get_response(_file_path(relative), scope)
        await self._send_response(response, scope, receive, send, outcome)

    async def _send_json(self, status: int, body: bytes, send: Send, outcome: _Outcome) -> None:
        headers = json_headers(body)
        headers += self.security.every  # a JSON answer: none of them set yet
        headers += outcome.extra
        headers += outcome.cors
        outcome.status, outcome.started = status, True
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        outcome.size = len(body)

    async def _send_response(
        self, response: Response, scope: Scope, receive: Receive, send: Send, outcome: _Outcome
    ) -> None:
        headers = response.raw_headers
        self.security.add_to(headers)
        headers += outcome.extra
        if outcome.cors and not any(k == b"access-control-allow-origin" for k, _ in headers):
            headers += outcome.cors
        outcome.status = response.status_code

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                outcome.started = True
            elif message["type"] == "http.response.body":
                outcome.size += len(message.get("body", b""))
            await send(message)

        await response(scope, receive, counted)

    async def _send_error(
        self, exc: Exception, scope: Scope, send: Send, outcome: _Outcome
    ) -> None:
        status, body, headers, redis_failed = error_answer(exc, scope)
        if redis_failed and self.services is not None:
            self.services.metrics.redis_errors.inc()
        headers += self.security.every
        headers += outcome.extra
        headers += outcome.cors
        outcome.status, outcome.started = status, True
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        outcome.size = len(body)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI lifespan protocol around `lifespan_context` (connects Redis, etc.)."""
        await receive()  # lifespan.startup
        started = False
        try:
            async with self.lifespan_context(self):
                await send({"type": "lifespan.startup.complete"})
                started = True
                with settled_heap():
                    await receive()  # lifespan.shutdown
        except BaseException as exc:
            kind = "shutdown" if started else "startup"
            await send({"type": f"lifespan.{kind}.failed", "message": repr(exc)})
            raise
        await send({"type": "lifespan.shutdown.complete"})


def _file_path(relative: str) -> str:
    """A request path below a mount as StaticFiles wants it (no `..`, OS separators)."""
    return os.path.normpath(os.path.join(*relative.split("/")))
