"""The HTTP API: thin handlers that parse, call presence/polls, and shape JSON."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from redis.exceptions import RedisError
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from server.catalog import SiteCatalog
from server.clients import client_address
from server.errors import ApiError, error_json, error_response
from server.history import TrafficHistory, TrafficRecorder, address_key
from server.metrics import Metrics, metrics_endpoint
from server.openapi import openapi_endpoint
from server.payloads import (
    FORM,
    JSON,
    media_type,
    optional_json_object,
    parse_form,
    parse_json_object,
    read_body,
)
from server.poll_config import Poll
from server.polls import PollStore, poll_json, poll_json_bytes
from server.presence import Presence, normalize_page
from server.ratelimit import VoteRateLimiter
from server.sessions import SessionSigner, Visitor
from server.settings import Settings
from server.store import RedisClient

_NO_STORE = {"Cache-Control": "no-store"}


@dataclass
class Services:
    """What the handlers work with; built in the app's lifespan."""

    settings: Settings
    redis: RedisClient
    catalog: SiteCatalog
    presence: Presence
    polls: PollStore
    signer: SessionSigner
    metrics: Metrics
    limiter: VoteRateLimiter | None = None
    traffic: TrafficHistory | None = None
    recorder: TrafficRecorder | None = None


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _visitor(request: Request) -> Visitor:
    visitor: Visitor = request.scope["state"]["visitor"]
    return visitor


def _json(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=_NO_STORE)


def _json_bytes(body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type="application/json", headers=_NO_STORE)


def _poll(services: Services, scope: Scope) -> Poll:
    poll_id: str = scope["path_params"]["poll_id"]
    poll = services.polls.polls.get(poll_id)
    if poll is None:
        raise ApiError(404, "poll_not_found", f"There is no poll {poll_id[:80]!r}")
    return poll


# The hottest calls are plain functions of what they need, answering a status and JSON
# bytes: `server.hotpaths` calls them without Starlette's layers, and `HotEndpoint` makes
# them routes for the requests the hot paths leave to the full stack.
HotHandler = Callable[[Services, Scope, Receive, Visitor], Awaitable[tuple[int, bytes]]]


def json_headers(body: bytes) -> list[tuple[bytes, bytes]]:
    """The headers of a hot JSON answer."""
    return [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]


class HotEndpoint:
    """A `HotHandler` as a route endpoint; errors raise ApiError as everywhere else."""

    def __init__(self, handler: HotHandler) -> None:
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        services: Services = scope["app"].state.services
        status, body = await self.handler(services, scope, receive, scope["state"]["visitor"])
        await send({"type": "http.response.start", "status": status, "headers": json_headers(body)})
        await send({"type": "http.response.body", "body": body})


# Presence


async def presence_heartbeat(
    services: Services, scope: Scope, receive: Receive, visitor: Visitor
) -> tuple[int, bytes]:
    body = await optional_json_object(scope, receive, services.settings.max_body_bytes)
    page = normalize_page(body.get("page"))
    view = body.get("view") is True
    address = address_key(client_address(scope), services.settings.secret_keys[0])
    counts = await services.presence.heartbeat(visitor.id, page, view, address)
    services.metrics.heartbeats.inc()
    services.metrics.online.set(counts.online)
    return 200, counts.as_json_bytes()


async def presence_read(
    services: Services, scope: Scope, receive: Receive, visitor: Visitor
) -> tuple[int, bytes]:
    page = QueryParams(scope["query_string"]).get("page") if scope["query_string"] else None
    counts = await services.presence.counts(normalize_page(page))
    return 200, counts.as_json_bytes()


async def presence_leave(request: Request) -> Response:
    services = _services(request)
    body = await optional_json_object(
        request.scope, request.receive, services.settings.max_body_bytes
    )
    visitor = _visitor(request)
    # A beacon cannot set headers, so a cross-origin embed sends its token in the body.
    token = body.get("session")
    if visitor.is_new and isinstance(token, str):
        visitor = services.signer.verify(token) or visitor
    if not visitor.is_new:
        await services.presence.leave(visitor.id, normalize_page(body.get("page")))
    return Response(status_code=204, headers=_NO_STORE)


# Polls


async def polls_list(request: Request) -> Response:
    services = _services(request)
    visitor = _visitor(request)
    tallies = await services.polls.tallies(None if visitor.is_new else visitor.id)
    polls = services.polls.polls.values()
    return _json({"polls": [poll_json(p, t) for p, t in zip(polls, tallies, strict=True)]})


async def poll_read(request: Request) -> Response:
    services = _services(request)
    poll = _poll(services, request.scope)
    visitor = _visitor(request)
    tally = await services.polls.tally(poll, None if visitor.is_new else visitor.id)
    return _json_bytes(poll_json_bytes(poll, tally))


async def poll_vote(request: Request) -> Response:
    services = _services(request)
    poll = _poll(services, request.scope)
    if media_type(request.scope) == FORM:
        return await _form_vote(request, services, poll)
    status, body = await json_vote(services, request.scope, request.receive, _visitor(request))
    return _json_bytes(body, status)


async def json_vote(
    services: Services, scope: Scope, receive: Receive, visitor: Visitor
) -> tuple[int, bytes]:
    """A vote from the widget: 201 and the tally, or 409 `already_voted` and the tally."""
    poll = _poll(services, scope)
    if media_type(scope) != JSON:
        raise ApiError(
            415, "unsupported_media_type", 'Send votes as application/json: {"option": "..."}'
        )
    body = parse_json_object(await read_body(scope, receive, services.settings.max_body_bytes))
    option = _checked_option(poll, body.get("option"))
    await _rate_limit(scope, services)
    result = await services.polls.vote(poll, visitor.id, option, _voter(services, scope))
    if not result.counted:
        refusal = error_json(
            "already_voted",
            "This session has already voted in this poll",
            poll=poll_json(poll, result.tally),
        )
        return 409, json.dumps(refusal, ensure_ascii=False, separators=(",", ":")).encode()
    services.metrics.count_vote(poll.id)
    return 201, poll_json_bytes(poll, result.tally)


def _checked_option(poll: Poll, option: object) -> str:
    if not poll.open:
        raise ApiError(409, "poll_closed", "This poll is closed")
    if not isinstance(option, str) or not poll.has_option(option):
        choices = ", ".join(o.id for o in poll.options)
        raise ApiError(422, "invalid_option", f"option must be one of: {choices}")
    return option


async def _form_vote(request: Request, services: Services, poll: Poll) -> Response:
    """The no-JavaScript ballot: count the vote, then go back to the page it came from."""
    allowed = _trusted_origins(request, services.settings)
    referer = request.headers.get("referer", "")
    # Browsers send Origin on form posts ("null" from opaque origins, refused); older ones
    # only a Referer. A request with neither comes from no browser page, so it is no CSRF.
    source = request.headers.get("origin", "") or referer
    if source and _origin_of(source) not in allowed:
        raise ApiError(403, "forbidden_origin", "Votes must come from the portal's own pages")
    form = parse_form(
        await read_body(request.scope, request.receive, services.settings.max_body_bytes)
    )
    try:
        option = _checked_option(poll, form.get("option"))
    except ApiError:
        option = None  # nothing counted; the page shows the ballot again
    if option is not None:
        await _rate_limit(request.scope, services)
        voter = _voter(services, request.scope)
        result = await services.polls.vote(poll, _visitor(request).id, option, voter)
        if result.counted:
            services.metrics.count_vote(poll.id)
    back = referer if referer and _origin_of(referer) in allowed else "/"
    return RedirectResponse(back, status_code=303, headers=_NO_STORE)


def _voter(services: Services, scope: Scope) -> str:
    return address_key(client_address(scope), services.settings.secret_keys[0])


async def _rate_limit(scope: Scope, services: Services) -> None:
    """Take one vote from this client address's window, or refuse with 429 (see ratelimit)."""
    if services.limiter is None:
        return
    decision = await services.limiter.acquire(client_address(scope))
    if not decision.allowed:
        services.metrics.rate_limited.inc()
        raise ApiError(
            429,
            "rate_limited",
            "Too many votes from your network; try again later.",
            headers={"Retry-After": str(decision.retry_after)},
        )


def _origin_of(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}".lower()


def _trusted_origins(request: Request, settings: Settings) -> set[str]:
    own = f"{request.url.scheme}://{request.headers.get('host', '')}".lower()
    return {own, *settings.allowed_origins}


# Health


async def healthz(request: Request) -> Response:
    return _json({"status": "ok"})


async def readyz(request: Request) -> Response:
    services = _services(request)
    try:
        async with asyncio.timeout(services.settings.redis_socket_timeout):
            await services.redis.ping()
    except (TimeoutError, OSError, RedisError):
        services.metrics.redis_errors.inc()
        return error_response(503, "redis_unavailable", "Redis does not answer")
    return _json({"status": "ready"})


# The router tries routes in order: the hottest first.
ROUTES = [
    Route("/api/presence", HotEndpoint(presence_heartbeat), methods=["POST"]),
    Route("/api/presence", HotEndpoint(presence_read), methods=["GET"]),
    Route("/api/polls/{poll_id}/votes", poll_vote, methods=["POST"]),
    Route("/api/polls/{poll_id}", poll_read, methods=["GET"]),
    Route("/api/presence/leave", presence_leave, methods=["POST"]),
    Route("/api/polls", polls_list, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/metrics", metrics_endpoint, methods=["GET"]),
    Route("/api/openapi.json", openapi_endpoint, methods=["GET"]),
]
