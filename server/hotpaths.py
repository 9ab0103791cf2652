"""The hottest API calls, answered before Starlette's middleware stack and router.

Every open tab sends a heartbeat each half-minute, and a poll's votes come in bursts: these
calls are most of the traffic. On its way through the full stack a request passes seven
layers (Starlette's error and exception middlewares, the edge, the forwarded-header and
CORS layers, sessions, the router), each wrapping `send` in a closure and copying the
response's first message. Those layers cost more CPU than the heartbeat itself, so
`HotPaths` answers these calls in one function, calling the very same pieces the layers
call: the `Edge` (request id, security headers, metrics, access log), `apply_forwarded`,
`session_of`, the handlers of `server.routes` and the app's exception handlers.

Only requests the full stack would answer in the plain way take this path:
- `POST /api/presence`, `GET /api/presence`, and `POST /api/polls/{id}/votes` with a JSON
  body (form votes redirect; they and every other call go the long way);
- when cross-origin calls are allowed, only requests without an `Origin` header (the CORS
  layer's work is left to it).
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from server.clients import apply_forwarded
from server.edge import Edge
from server.errors import answer_exception
from server.logs import REQUEST_ID_HEADER, bind_request_id, unbind_request_id
from server.payloads import JSON, media_type
from server.routes import (
    HotHandler,
    Services,
    json_headers,
    json_vote,
    presence_heartbeat,
    presence_read,
)
from server.sessions import SessionSigner, session_of
from server.settings import IPNetwork

_VOTES_PREFIX = "/api/polls/"
_VOTES_SUFFIX = "/votes"
# Route templates, as the metrics and the access log name routes.
PRESENCE_ROUTE = "/api/presence"
VOTES_ROUTE = "/api/polls/{poll_id}/votes"


class HotPaths:
    """Picks the requests it answers itself (`match`) and answers them (`serve`)."""

    def __init__(
        self,
        edge: Edge,
        signer: SessionSigner,
        trusted_proxies: tuple[IPNetwork, ...],
        cross_origin: bool,
    ) -> None:
        self.edge = edge
        self.signer = signer
        self.proxies = trusted_proxies
        self.cross_origin = cross_origin

    def match(self, scope: Scope) -> tuple[HotHandler, str] | None:
        """The handler and route template for a hot request; None for any other request."""
        if scope["type"] != "http":
            return None
        path: str = scope["path"]
        method: str = scope["method"]
        if path == PRESENCE_ROUTE:
            if method == "POST":
                found: tuple[HotHandler, str] = (presence_heartbeat, PRESENCE_ROUTE)
            elif method == "GET":
                found = (presence_read, PRESENCE_ROUTE)
            else:
                return None
        elif method == "POST" and path.startswith(_VOTES_PREFIX) and path.endswith(_VOTES_SUFFIX):
            poll_id = path[len(_VOTES_PREFIX) : -len(_VOTES_SUFFIX)]
            if not poll_id or "/" in poll_id or media_type(scope) != JSON:
                return None
            scope["path_params"] = {"poll_id": poll_id}
            found = (json_vote, VOTES_ROUTE)
        else:
            return None
        if self.cross_origin and any(key == b"origin" for key, _ in scope["headers"]):
            return None
        return found

    async def serve(
        self,
        app: ASGIApp,
        services: Services,
        hot: tuple[HotHandler, str],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        """Answers a request `match` chose, as the full stack would have answered it."""
        started = time.perf_counter()
        handler, route = hot
        edge = self.edge
        request_id = edge.request_id(scope)
        scope["app"] = app  # the exception handlers look up the app's state
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 500
        size = 0
        try:
            if self.proxies:
                apply_forwarded(scope, self.proxies)
            visitor, handout = session_of(self.signer, scope)
            state["visitor"] = visitor
            try:
                status, body = await handler(services, scope, receive, visitor)
                headers = json_headers(body)
                headers += edge.security.every  # a JSON answer: none of them set yet
            except Exception as exc:
                # Only this path logs: the request id tags its lines (the access log has it).
                token = bind_request_id(request_id)
                try:
                    response = await answer_exception(Request(scope, receive), exc)
                finally:
                    unbind_request_id(token)
                status, body = response.status_code, bytes(response.body)
                headers = list(response.raw_headers)
                edge.security.add_to(headers)
            headers += handout
            headers.append((REQUEST_ID_HEADER, request_id.encode()))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            size = len(body)
        finally:
            edge.record(request_id, scope, route, status, size, started)
