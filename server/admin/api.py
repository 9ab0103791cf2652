"""The admin JSON API under `/api/admin/`; every answer also as CSV with `?format=csv`."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.admin.auth import require_admin, same_origin
from server.admin.csvout import csv_response
from server.admin.ranges import parse_range
from server.admin.tools import PAGES_NOW, AdminTools
from server.errors import ApiError
from server.payloads import parse_json_object, read_body
from server.poll_config import Poll
from server.poll_history import prefix_json
from server.polls import admin_tally_json
from server.routes import Services
from server.timebuckets import day_label, instant_label, utc_offset

_PREFIX = re.compile(r"[0-9a-f]{1,64}")
Rows = Callable[[dict[str, Any]], tuple[Sequence[str], Iterable[Sequence[Any]]]]


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def tools_of(request: Request) -> AdminTools:
    tools: AdminTools = request.app.state.admin
    return tools


def admin_gate(request: Request) -> AdminTools:
    require_admin(request, services_of(request).settings)
    return tools_of(request)


def poll_of(request: Request) -> Poll:
    poll_id: str = request.path_params["poll_id"]
    poll = services_of(request).polls.polls.get(poll_id)
    if poll is None:
        raise ApiError(404, "poll_not_found", f"There is no poll {poll_id[:80]!r}")
    return poll


async def answer(request: Request, body: dict[str, Any], name: str, rows: Rows) -> Response:
    """JSON, or with `?format=csv` the same numbers as CSV (and an entry in the audit log)."""
    wanted = request.query_params.get("format", "json")
    if wanted == "json":
        return JSONResponse(body, headers={"Cache-Control": "no-store"})
    if wanted != "csv":
        raise ApiError(422, "invalid_query", "format must be json or csv")
    await tools_of(request).audit.record(
        request, "export", what=name, query=str(request.query_params)[:300]
    )
    header, lines = rows(body)
    return csv_response(f"{name}.csv", header, lines)


async def since_label(tools: AdminTools) -> str | None:
    since = await tools.traffic.since()
    return instant_label(since, tools.catalog.timezone) if since is not None else None


# Polls


async def admin_polls(request: Request) -> Response:
    tools = admin_gate(request)
    tallies = await tools.polls.tallies(None)
    polls = tools.polls.polls.values()
    body = {"polls": [admin_tally_json(p, t) for p, t in zip(polls, tallies, strict=True)]}
    return await answer(request, body, "polls", _tally_rows)


async def admin_poll(request: Request) -> Response:
    tools = admin_gate(request)
    poll = poll_of(request)
    body = admin_tally_json(poll, await tools.polls.tally(poll, None))
    return await answer(request, body, f"poll-{poll.id}", lambda b: _tally_rows({"polls": [b]}))


def _tally_rows(body: dict[str, Any]) -> tuple[Sequence[str], Iterable[Sequence[Any]]]:
    header = ("poll", "question", "option", "label", "votes", "percent", "retired", "open")
    rows = [
        (p["id"], p["question"], o["id"], o["label"], o["votes"], o["percent"],
         o.get("retired", False), p["open"])
        for p in body["polls"]
        for o in p["options"]
    ]  # fmt: skip
    return header, rows


async def poll_series(request: Request) -> Response:
    tools = admin_gate(request)
    poll = poll_of(request)
    zone = tools.catalog.timezone
    span = parse_range(request.query_params, tools.today(), ("hour", "day"))
    tally = admin_tally_json(poll, await tools.polls.tally(poll, None))
    options = [o["id"] for o in tally["options"]]
    points = await tools.poll_history.series(poll, span.step, span.first, span.last, zone, options)
    body = {"poll": poll.id, "step": span.step, "since": await since_label(tools), "points": points}

    def rows(b: dict[str, Any]) -> tuple[Sequence[str], Iterable[Sequence[Any]]]:
        return ("t", "total", *options), (
            (p["t"], p["total"], *(p["votes"][o] for o in options)) for p in b["points"]
        )

    return await answer(request, body, f"poll-{poll.id}-{span.step}", rows)


async def poll_abuse(request: Request) -> Response:
    tools = admin_gate(request)
    poll = poll_of(request)
    found = await tools.poll_history.prefixes(poll)
    body = {
        "poll": poll.id,
        "since": await since_label(tools),
        "prefixes": [prefix_json(p, tools.catalog.timezone) for p in found],
    }
    header = ("prefix", "ballots", "first", "last", "peak_per_minute")
    return await answer(
        request,
        body,
        f"poll-{poll.id}-abuse",
        lambda b: (header, ([p[h] for h in header] for p in b["prefixes"])),
    )


async def poll_void(request: Request) -> Response:
    """Void one address hash's ballots in a window: `{"prefix", "from", "to"}`."""
    settings = services_of(request).settings
    if require_admin(request, settings) == "cookie" and not same_origin(request):
        raise ApiError(403, "forbidden_origin", "Admin changes must come from the console's pages")
    tools = tools_of(request)
    poll = poll_of(request)
    body = parse_json_object(
        await read_body(request.scope, request.receive, settings.max_body_bytes)
    )
    voided, tally = await void_ballots(request, tools, poll, body)
    return JSONResponse({"voided": voided, "poll": tally}, headers={"Cache-Control": "no-store"})


async def void_ballots(
    request: Request, tools: AdminTools, poll: Poll, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """Checks a void request, voids, logs it; the API and the console's form both use it."""
    prefix = body.get("prefix")
    if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
        raise ApiError(422, "invalid_prefix", "prefix must be an address hash from the abuse view")
    start, end = parse_instant(body.get("from"), "from"), parse_instant(body.get("to"), "to")
    if end < start:
        raise ApiError(422, "invalid_window", "to must not be before from")
    zone = tools.catalog.timezone
    if utc_offset(zone, start) != utc_offset(zone, end):
        raise ApiError(
            422, "invalid_window", "the window spans a change of UTC offset: void each side apart"
        )
    voided = await tools.poll_history.void(poll, prefix, start, end, zone)
    tally = admin_tally_json(poll, await tools.polls.tally(poll, None))
    await tools.audit.record(
        request,
        "void",
        poll=poll.id,
        prefix=prefix,
        start=body["from"],
        end=body["to"],
        voided=voided,
    )
    return voided, tally


def parse_instant(value: object, name: str) -> float:
    if isinstance(value, str) and len(value) <= 40:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return moment.timestamp()
    raise ApiError(422, "invalid_window", f"{name} must be an ISO 8601 time with its offset")


# Traffic


async def traffic(request: Request) -> Response:
    tools = admin_gate(request)
    zone = tools.catalog.timezone
    span = parse_range(request.query_params, tools.today())
    await tools.fresh()
    if span.step == "day":
        points = await tools.traffic.day_points(span.first, span.last)
    elif span.step == "hour":
        points = await tools.traffic.hour_points(span.first, span.last, zone)
    else:
        points = await tools.traffic.minute_points(span.first, span.last, zone)
    body = {"step": span.step, "since": await since_label(tools), "points": points}
    header = ("t", "online_max", "visitors", "views")
    return await answer(
        request,
        body,
        f"traffic-{span.step}",
        lambda b: (header, ([p[h] for h in header] for p in b["points"])),
    )


async def pages(request: Request) -> Response:
    tools = admin_gate(request)
    span = parse_range(request.query_params, tools.today(), ("day",))
    await tools.fresh()
    views = await tools.traffic.page_views(span.first, span.last)
    ranked = sorted(views.items(), key=lambda item: (-item[1], item[0]))
    body = {
        "from": day_label(span.first),
        "to": day_label(span.last),
        "since": await since_label(tools),
        "pages": [{"page": p, "title": tools.title(p), "views": v} for p, v in ranked],
    }
    header = ("page", "title", "views")
    return await answer(
        request, body, "pages", lambda b: (header, ([p[h] for h in header] for p in b["pages"]))
    )


async def pages_now(request: Request) -> Response:
    tools = admin_gate(request)
    snapshot = await tools.snapshot(PAGES_NOW)
    body = {"online": snapshot.online, "pages": snapshot.as_json(PAGES_NOW)["pages"]}
    header = ("page", "title", "online")
    return await answer(
        request, body, "pages-now", lambda b: (header, ([p[h] for h in header] for p in b["pages"]))
    )


ADMIN_API_ROUTES = [
    Route("/api/admin/polls", admin_polls, methods=["GET"]),
    Route("/api/admin/polls/{poll_id}", admin_poll, methods=["GET"]),
    Route("/api/admin/polls/{poll_id}/series", poll_series, methods=["GET"]),
    Route("/api/admin/polls/{poll_id}/abuse", poll_abuse, methods=["GET"]),
    Route("/api/admin/polls/{poll_id}/void", poll_void, methods=["POST"]),
    Route("/api/admin/traffic", traffic, methods=["GET"]),
    Route("/api/admin/pages", pages, methods=["GET"]),
    Route("/api/admin/pages/now", pages_now, methods=["GET"]),
]
