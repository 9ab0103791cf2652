"""The HTTP API: thin handlers that parse, call presence/polls, and shape JSON.

Sessions, origins, limits, admin tokens, errors and headers are steps of the pipeline
(`server.pipeline`), asked for by each route's flags in `ROUTES`; the handlers only do their
own work. Handlers of the hottest calls are `JsonHandler`s: plain functions of what they need,
answering a status and JSON bytes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from redis.exceptions import RedisError
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import Receive, Scope

from server.catalog import SiteCatalog
from server.clients import client_address
from server.cors import CrossOrigin
from server.errors import ApiError, error_json, error_response, json_bytes
from server.history import TrafficHistory, TrafficRecorder, client_key
from server.language import answer_language
from server.metrics import Metrics, metrics_endpoint
from server.openapi import (
    LANG,
    PAGE,
    POLL_ID,
    SESSION_HEADER,
    VOTE_FORM,
    answers,
    documented,
    error_answer,
    json_answer,
    openapi_endpoint,
    ref,
)
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
from server.ratelimit import AddressLimiter, AdminGuard, rate_limited
from server.router import JsonEndpoint, Route, Session
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
    origins: CrossOrigin
    admin: AdminGuard
    vote_limiter: AddressLimiter | None = None
    visitor_limiter: AddressLimiter | None = None
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


# Presence


@documented(
    {
        "summary": "Heartbeat: this session is online, site-wide and on the page",
        "requestBody": {
            "required": False,
            "content": {
                "application/json": {"schema": {"type": "object", "properties": {"page": PAGE}}}
            },
        },
        "responses": answers(
            {"200": json_answer("Counts", ref("Presence"), headers=SESSION_HEADER)},
            400, 403, 413, 415, 422, 429,
        ),
    }
)  # fmt: skip
async def presence_heartbeat(
    services: Services, scope: Scope, receive: Receive, visitor: Visitor | None
) -> tuple[int, bytes]:
    assert visitor is not None  # a Session.HANDOUT route
    body = await optional_json_object(scope, receive, services.settings.max_body_bytes)
    page = normalize_page(body.get("page"))
    view = body.get("view") is True
    address = client_key(scope, services.settings.secret_keys[0])
    counts = await services.presence.heartbeat(visitor.id, page, view, address)
    return 200, counts.as_json_bytes()


@documented(
    {
        "summary": "Read the counts without registering anything",
        "parameters": [{"name": "page", "in": "query", "required": False, "schema": PAGE}],
        "responses": answers({"200": json_answer("Counts", ref("Presence"))}, 422),
    }
)
async def presence_read(
    services: Services, scope: Scope, receive: Receive, visitor: Visitor | None
) -> tuple[int, bytes]:
    page = QueryParams(scope["query_string"]).get("page") if scope["query_string"] else None
    counts = await services.presence.counts(normalize_page(page))
    return 200, counts.as_json_bytes()


@documented(
    {
        "summary": "This session leaves now (navigator.sendBeacon sends text/plain)",
        "requestBody": {
            "required": False,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {"page": PAGE, "session": {"type": "string"}},
                    }
                },
                "text/plain": {"schema": {"type": "string"}},
            },
        },
        "responses": answers({"204": {"description": "Gone"}}, 400, 403, 413, 415, 422),
    }
)
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


@documented(
    {
        "summary": "The site's polls, with this session's votes",
        "parameters": [LANG],
        "responses": answers(
            {
                "200": json_answer(
                    "Polls",
                    {
                        "type": "object",
                        "required": ["polls"],
                        "properties": {"polls": {"type": "array", "items": ref("Poll")}},
                    },
                    headers=SESSION_HEADER,
                )
            },
            422,
            429,
        ),
    }
)
async def polls_list(request: Request) -> Response:
    services = _services(request)
    visitor = _visitor(request)
    lang = answer_language(request.scope)
    tallies = await services.polls.tallies(None if visitor.is_new else visitor.id)
    polls = services.polls.polls.values()
    return _json({"polls": [poll_json(p, t, lang) for p, t in zip(polls, tallies, strict=True)]})


@documented(
    {
        "summary": "One poll",
        "parameters": [POLL_ID, LANG],
        "responses": answers(
            {"200": json_answer("The poll", ref("Poll"), headers=SESSION_HEADER)}, 404, 422, 429
        ),
    }
)
async def poll_read(request: Request) -> Response:
    services = _services(request)
    poll = _poll(services, request.scope)
    lang = answer_language(request.scope)
    visitor = _visitor(request)
    tally = await services.polls.tally(poll, None if visitor.is_new else visitor.id)
    return _json_bytes(poll_json_bytes(poll, tally, lang))


@documented(
    {
        "summary": "Cast this session's one vote",
        "description": (
            "JSON from scripts; an urlencoded form from the no-JavaScript ballot, which must "
            "come from this origin or an allowed one and is answered 303 back to the page. "
            "Rate limited per client address."
        ),
        "parameters": [POLL_ID, LANG],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["option"],
                        "properties": {"option": {"type": "string"}},
                    }
                },
                "application/x-www-form-urlencoded": {"schema": VOTE_FORM},
            },
        },
        "responses": answers(
            {
                "201": json_answer("Counted", ref("Poll"), headers=SESSION_HEADER),
                "303": {
                    "description": "Form ballot handled; back to the page",
                    "headers": {"Location": {"schema": {"type": "string"}}, **SESSION_HEADER},
                },
            },
            400, 403, 404, 409, 413, 415, 422, 429,
        ),
    }
)  # fmt: skip
async def poll_vote(
    services: Services, scope: Scope, receive: Receive, visitor: Visitor | None
) -> tuple[int, bytes] | Response:
    """A vote from the widget: 201 and the tally, or 409 `already_voted` and the tally; or
    from the page's plain HTML form: a redirect back to the page."""
    assert visitor is not None  # a Session.HANDOUT route
    poll = _poll(services, scope)
    kind = media_type(scope)
    if kind == FORM:
        return await _form_vote(Request(scope, receive), services, poll)
    if kind != JSON:
        raise ApiError(
            415, "unsupported_media_type", 'Send votes as application/json: {"option": "..."}'
        )
    lang = answer_language(scope)
    body = parse_json_object(await read_body(scope, receive, services.settings.max_body_bytes))
    option = _checked_option(poll, body.get("option"))
    await _rate_limit(scope, services)
    result = await services.polls.vote(poll, visitor.id, option, _voter(services, scope))
    if not result.counted:
        refusal = error_json(
            "already_voted",
            "This session has already voted in this poll",
            poll=poll_json(poll, result.tally, lang),
        )
        return 409, json_bytes(refusal)
    services.metrics.count_vote(poll.id)
    return 201, poll_json_bytes(poll, result.tally, lang)


def _checked_option(poll: Poll, option: object) -> str:
    if not poll.open:
        raise ApiError(409, "poll_closed", "This poll is closed")
    if not isinstance(option, str) or not poll.has_option(option):
        choices = ", ".join(o.id for o in poll.options)
        raise ApiError(422, "invalid_option", f"option must be one of: {choices}")
    return option


async def _form_vote(request: Request, services: Services, poll: Poll) -> Response:
    """The no-JavaScript ballot: count the vote, then go back to the page it came from."""
    referer = request.headers.get("referer", "")
    host = request.headers.get("host", "").encode("latin-1")
    # Browsers send Origin on form posts ("null" from opaque origins, refused); older ones
    # only a Referer. A request with neither comes from no browser page, so it is no CSRF.
    source = request.headers.get("origin", "") or referer
    if source and not _trusted_page(services, request.scope, host, source):
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
    back = referer if referer and _trusted_page(services, request.scope, host, referer) else "/"
    return RedirectResponse(back, status_code=303, headers=_NO_STORE)


def _voter(services: Services, scope: Scope) -> str:
    return client_key(scope, services.settings.secret_keys[0])


async def _rate_limit(scope: Scope, services: Services) -> None:
    """Take one vote from this client address's window, or refuse with 429 (see ratelimit)."""
    if services.vote_limiter is None:
        return
    decision = await services.vote_limiter.acquire(client_address(scope))
    if not decision.allowed:
        services.metrics.rate_limited.labels("vote").inc()
        raise rate_limited("Too many votes from your network; try again later.", decision)


def _trusted_page(services: Services, scope: Scope, host: bytes, url: str) -> bool:
    """`url` (an Origin or a Referer) is on the site's own origin or an allowed one."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    return services.origins.is_trusted(f"{parts.scheme}://{parts.netloc}".encode(), scope, host)


# Health


@documented(
    {
        "summary": "The process is up",
        "responses": {"200": json_answer("Up", ref("Status")), "405": error_answer(405)},
    }
)
async def healthz(request: Request) -> Response:
    return _json({"status": "ok"})


@documented(
    {
        "summary": "Redis answers (short timeout)",
        "responses": answers({"200": json_answer("Ready", ref("Status"))}),
    }
)
async def readyz(request: Request) -> Response:
    services = _services(request)
    try:
        async with asyncio.timeout(services.settings.redis_socket_timeout):
            await services.redis.ping()
    except (TimeoutError, OSError, RedisError):
        services.metrics.redis_errors.inc()
        return error_response(503, "redis_unavailable", "Redis does not answer")
    return _json({"status": "ready"})


# The routes of the API. Another module adds its routes by extending this list before
# `create_app` runs (or passing its own to `server.app.create_app`).
ROUTES: list[Route] = [
    Route("/api/presence", ("POST",), JsonEndpoint(presence_heartbeat), Session.HANDOUT, True),
    # A count read registers nothing, so it needs no session and never hands one out (nor
    # pays for the new-visitor limit): embeds and monitors may read counts freely.
    Route("/api/presence", ("GET",), JsonEndpoint(presence_read), Session.NONE),
    Route("/api/presence/leave", ("POST",), presence_leave, Session.READ, same_origin=True),
    Route("/api/polls/{poll_id}/votes", ("POST",), JsonEndpoint(poll_vote), Session.HANDOUT),
    Route("/api/polls/{poll_id}", ("GET",), poll_read, Session.HANDOUT),
    Route("/api/polls", ("GET",), polls_list, Session.HANDOUT),
    Route("/healthz", ("GET",), healthz),
    Route("/readyz", ("GET",), readyz),
    Route("/metrics", ("GET",), metrics_endpoint),
    Route("/api/openapi.json", ("GET",), openapi_endpoint),
]

SUMMARISED: frozenset[tuple[str, str]] = frozenset(
    {
        ("POST", "/api/presence"),  # heartbeats: two a minute per visitor online
        ("GET", "/api/presence"),  # count reads
        ("POST", "/api/presence/leave"),  # a beacon at every page a visitor leaves
        ("GET", "/api/stats"),  # the statistics widget, every 30 s while shown
        ("GET", "/api/polls/{poll_id}"),  # a poll's tallies, read by every page showing it
        ("GET", "/api/polls"),
        ("GET", "/healthz"),  # probes of orchestrators and load balancers
        ("GET", "/readyz"),
        ("OPTIONS", "preflight"),  # CORS preflights of embedding sites' heartbeats
        ("GET", "/widgets"),  # the widgets' files and the site's pages
        ("GET", "/"),
        ("HEAD", "/"),
    }
)
"""(method, route) pairs whose answers below 400 the access log sums up per minute in its
default `summary` mode: public reads, heartbeats and leave beacons, too many to log one by
one. Votes, admin calls, every other route and any answer >= 400 keep a line each
(`server.logs.AccessLog`)."""
