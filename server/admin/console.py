"""The admin console at `/admin/`: server-rendered pages (Jinja2), usable without JavaScript;
only the live counts need it (`static/admin.js`, through `/api/admin/live`).

Sign-in (`/admin/login`, field `token`) sets the `portal_admin` cookie (see `auth`); forms
post only from this site's own origin. With no `PORTAL_ADMIN_TOKEN` the console is a 404.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import jinja2
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from server.admin import charts
from server.admin.api import parse_instant, services_of, since_label, tools_of, void_ballots
from server.admin.auth import (
    COOKIE_MAX_AGE,
    COOKIE_NAME,
    admin_identity,
    cookie_options,
    new_cookie_value,
    same_origin,
    token_matches,
)
from server.admin.i18n import WORDS, Words, language, number
from server.admin.tools import AdminTools
from server.errors import ApiError
from server.language import LANGUAGES
from server.payloads import parse_form, read_body
from server.poll_config import Poll
from server.poll_history import prefix_json
from server.polls import admin_tally_json
from server.timebuckets import day_label, instant_label

_HERE = Path(__file__).resolve().parent
_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(_HERE / "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
_NO_STORE = {"Cache-Control": "no-store"}


def _console_on(request: Request) -> None:
    if services_of(request).settings.admin_token is None:
        raise HTTPException(404)


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    lang = language(request)
    asked = request.query_params.get("lang")
    html = _ENV.get_template(template).render(
        request=request,
        lang=lang,
        w=Words(lang),
        n=lambda value: number(value, lang),
        lq=f"?lang={asked}" if asked in LANGUAGES else "",
        other_lang="en" if lang == "vi" else "vi",
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=_NO_STORE)


def _signed_in(request: Request) -> AdminTools | None:
    _console_on(request)
    if admin_identity(request, services_of(request).settings) is None:
        return None
    return tools_of(request)


def _to_login(request: Request) -> Response:
    return RedirectResponse("/admin/login" + _lang_query(request), 303, headers=_NO_STORE)


def _lang_query(request: Request) -> str:
    asked = request.query_params.get("lang")
    return f"?lang={asked}" if asked in LANGUAGES else ""


async def _form(request: Request) -> dict[str, str]:
    if not same_origin(request):
        raise ApiError(403, "forbidden_origin", "Console forms must come from the console")
    limit = services_of(request).settings.max_body_bytes
    return parse_form(await read_body(request.scope, request.receive, limit))


# Sign-in


async def login_page(request: Request) -> Response:
    _console_on(request)
    return render(request, "login.html", error=False)


async def login(request: Request) -> Response:
    _console_on(request)
    form = await _form(request)
    settings = services_of(request).settings
    tools = tools_of(request)
    if not token_matches(settings, form.get("token", "")):
        await tools.audit.record(request, "sign_in_failed")
        await count_auth_failure(request)
        return render(request, "login.html", status=401, error=True)
    await tools.audit.record(request, "sign_in")
    response = RedirectResponse("/admin/" + _lang_query(request), 303, headers=_NO_STORE)
    response.set_cookie(
        COOKIE_NAME, new_cookie_value(settings), max_age=COOKIE_MAX_AGE, **cookie_options(request)
    )
    return response


async def count_auth_failure(request: Request) -> None:
    """Where a wrong token counts against the admin-auth failure limit (10 a minute per
    address): the request pipeline's limiter, when the app has one."""
    limiter = getattr(request.app.state, "admin_auth_limiter", None)
    if limiter is not None:
        await limiter.failed(request)


async def logout(request: Request) -> Response:
    _console_on(request)
    await _form(request)
    if _signed_in(request) is not None:
        await tools_of(request).audit.record(request, "sign_out")
    response = _to_login(request)
    response.delete_cookie(COOKIE_NAME, **cookie_options(request))
    return response


# Pages


async def overview(request: Request) -> Response:
    tools = _signed_in(request)
    if tools is None:
        return _to_login(request)
    snapshot = await tools.snapshot()  # files this worker's last second first
    today = tools.today().day
    days = await tools.traffic.days(today, today)
    tallies = await tools.polls.tallies(None)
    lang = language(request)
    polls = [
        admin_tally_json(p, t, lang)
        for p, t in zip(tools.polls.polls.values(), tallies, strict=True)
    ]
    return render(
        request,
        "overview.html",
        page="overview",
        snapshot=snapshot,
        visitors_today=days.get(f"u{today}", 0),
        views_today=days.get(f"v{today}", 0),
        polls=polls,
    )


def _poll_or_404(tools: AdminTools, request: Request) -> Poll:
    poll = tools.polls.polls.get(request.path_params["poll_id"])
    if poll is None:
        raise HTTPException(404)
    return poll


async def poll_page(request: Request) -> Response:
    tools = _signed_in(request)
    if tools is None:
        return _to_login(request)
    poll = _poll_or_404(tools, request)
    zone = tools.catalog.timezone
    lang = language(request)
    tally = admin_tally_json(poll, await tools.polls.tally(poll, None), lang)
    options = [o["id"] for o in tally["options"]]
    today = tools.today().day
    points = await tools.poll_history.series(poll, "day", today - 29, today, zone, options)
    prefixes = [prefix_json(p, zone) for p in await tools.poll_history.prefixes(poll)]
    w = Words(lang)
    bars = [
        (
            o["label"],
            f"{number(o['votes'], lang)} · {number(o['percent'], lang)}%"
            + (f" {w.retired}" if o.get("retired") else ""),
            o["percent"],
        )
        for o in tally["options"]
    ]
    voided = request.query_params.get("voided", "")
    return render(
        request,
        "poll.html",
        page="poll",
        poll=poll,
        tally=tally,
        opens=instant_label(poll.opens.timestamp(), zone) if poll.opens else None,
        closes=instant_label(poll.closes.timestamp(), zone) if poll.closes else None,
        option_chart=charts.option_bars("options", poll.question, bars),
        points=points,
        day_chart=charts.bar_chart(
            "votes-per-day", w.votes_per_day, [(p["t"], p["total"]) for p in points]
        ),
        prefixes=prefixes,
        since=await since_label(tools),
        voided=int(voided) if voided.isdigit() else None,
    )


async def void_form(request: Request) -> Response:
    """The void form: first a confirmation page saying how many ballots, then the void."""
    tools = _signed_in(request)
    if tools is None:
        return _to_login(request)
    form = await _form(request)
    poll = _poll_or_404(tools, request)
    if form.get("confirm") == "yes":
        voided, _ = await void_ballots(request, tools, poll, form)
        url = f"/admin/polls/{poll.id}?voided={voided}" + _lang_query(request).replace("?", "&")
        return RedirectResponse(url, 303, headers=_NO_STORE)
    prefix, start, end = form.get("prefix", ""), form.get("from", ""), form.get("to", "")
    try:
        count = await tools.poll_history.count_in_window(
            poll, prefix, parse_instant(start, "from"), parse_instant(end, "to")
        )
    except ApiError:
        count = 0
    return render(
        request, "void.html", page="poll", poll=poll, prefix=prefix, start=start, end=end,
        count=count,
    )  # fmt: skip


async def traffic_page(request: Request) -> Response:
    tools = _signed_in(request)
    if tools is None:
        return _to_login(request)
    zone = tools.catalog.timezone
    now = tools.today()
    w = Words(language(request))
    await tools.fresh()
    minutes = await tools.traffic.minute_points(now.minute - 48 * 60 + 1, now.minute, zone)
    days = await tools.traffic.day_points(now.day - 89, now.day)
    views = await tools.traffic.page_views(now.day - 89, now.day)
    top = sorted(views.items(), key=lambda item: (-item[1], item[0]))[:50]
    return render(
        request,
        "traffic.html",
        page="traffic",
        online_chart=charts.line_chart(
            "online-minutes",
            w.online_48h,
            [(p["t"][5:16].replace("T", " "), p["online_max"]) for p in minutes],
        ),
        minutes=[p for p in minutes if p["online_max"] is not None],
        visitors_chart=charts.bar_chart(
            "visitors-days", w.visitors_90d, [(p["t"], p["visitors"]) for p in days]
        ),
        views_chart=charts.bar_chart(
            "views-days", w.views_90d, [(p["t"], p["views"]) for p in days]
        ),
        days=days,
        top_pages=[(page, tools.title(page), count) for page, count in top],
        since=await since_label(tools),
        first_day=day_label(now.day - 89),
        last_day=day_label(now.day),
    )


async def audit_page(request: Request) -> Response:
    tools = _signed_in(request)
    if tools is None:
        return _to_login(request)
    zone = tools.catalog.timezone
    lang = language(request)
    entries = [
        {
            **entry,
            "when": instant_label(math.floor(entry["at"]), zone),
            "label": WORDS.get(f"action_{entry['action']}", {}).get(lang, entry["action"]),
        }
        for entry in await tools.audit.entries()
    ]
    return render(request, "audit.html", page="audit", entries=entries)


async def admin_root(request: Request) -> Response:
    return RedirectResponse("/admin/" + _lang_query(request), 307)


CONSOLE_ROUTES = [
    Route("/admin", admin_root, methods=["GET"]),
    Route("/admin/", overview, methods=["GET"]),
    Route("/admin/login", login_page, methods=["GET"]),
    Route("/admin/login", login, methods=["POST"]),
    Route("/admin/logout", logout, methods=["POST"]),
    Route("/admin/polls/{poll_id}", poll_page, methods=["GET"]),
    Route("/admin/polls/{poll_id}/void", void_form, methods=["POST"]),
    Route("/admin/traffic", traffic_page, methods=["GET"]),
    Route("/admin/audit", audit_page, methods=["GET"]),
    Mount("/admin/static", StaticFiles(directory=_HERE / "static"), name="admin-static"),
]
