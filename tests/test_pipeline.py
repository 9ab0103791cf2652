"""The request pipeline (`server.pipeline`): every route, every answer, errors included, takes
the same steps: request id, security headers, CORS, metrics and the access log."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope

from server.app import create_app
from server.logs import JsonFormatter
from server.router import JsonEndpoint, Route, Router, Session
from server.settings import Settings
from tests.conftest import ADMIN_TOKEN

EMBED = "https://embed.example"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SAME_SITE = {"Origin": "http://portal.test"}


async def boom(request: Request) -> Response:
    raise RuntimeError("a handler bug")


async def boom_json(services: Any, scope: Scope, receive: Receive, visitor: Any) -> Any:
    raise ZeroDivisionError("a hot handler bug")


# Planted failing handlers, one of each kind: their 500s must look like every other answer.
PLANTED = [
    Route("/api/boom", ("GET",), boom, Session.HANDOUT),
    Route("/api/boom-json", ("POST",), JsonEndpoint(boom_json), Session.HANDOUT),
]

# (method, path, body, headers, status, route label): one call per route, and the answers the
# pipeline gives itself (404, 405, static files, preflight, limits, refusals).
CALLS: list[tuple[str, str, Any, dict[str, str], int, str]] = [
    ("POST", "/api/presence", {"page": "/index.html"}, {}, 200, "/api/presence"),
    ("GET", "/api/presence?page=/index.html", None, {}, 200, "/api/presence"),
    ("POST", "/api/presence/leave", {}, {}, 204, "/api/presence/leave"),
    ("GET", "/api/polls", None, {}, 200, "/api/polls"),
    ("GET", "/api/polls/portal-rating", None, {}, 200, "/api/polls/{poll_id}"),
    ("POST", "/api/polls/portal-rating/votes", {"option": "tot"}, {}, 201,
     "/api/polls/{poll_id}/votes"),
    ("POST", "/api/polls/portal-rating/votes", "option=tot", {}, 303,
     "/api/polls/{poll_id}/votes"),
    ("GET", "/api/admin/polls", None, ADMIN, 200, "/api/admin/polls"),
    ("GET", "/api/admin/polls/portal-rating", None, ADMIN, 200, "/api/admin/polls/{poll_id}"),
    ("GET", "/api/admin/polls", None, {}, 401, "/api/admin/polls"),
    ("GET", "/api/admin/live", None, {}, 401, "/api/admin/live"),
    ("GET", "/api/admin/polls/portal-rating/series", None, ADMIN, 200,
     "/api/admin/polls/{poll_id}/series"),
    ("GET", "/api/admin/polls/portal-rating/abuse", None, ADMIN, 200,
     "/api/admin/polls/{poll_id}/abuse"),
    ("POST", "/api/admin/polls/portal-rating/void", {}, ADMIN, 422,
     "/api/admin/polls/{poll_id}/void"),
    ("GET", "/api/admin/traffic", None, ADMIN, 200, "/api/admin/traffic"),
    ("GET", "/api/admin/pages", None, ADMIN, 200, "/api/admin/pages"),
    ("GET", "/api/admin/pages/now", None, ADMIN, 200, "/api/admin/pages/now"),
    ("GET", "/api/stats", None, {}, 200, "/api/stats"),
    ("GET", "/admin", None, {}, 307, "/admin"),
    ("GET", "/admin/", None, {}, 303, "/admin/"),
    ("GET", "/admin/login", None, {}, 200, "/admin/login"),
    ("POST", "/admin/login", "token=wrong", SAME_SITE, 401, "/admin/login"),
    ("POST", "/admin/logout", None, SAME_SITE, 303, "/admin/logout"),
    ("GET", "/admin/polls/portal-rating", None, {}, 303, "/admin/polls/{poll_id}"),
    ("POST", "/admin/polls/portal-rating/void", None, SAME_SITE, 303,
     "/admin/polls/{poll_id}/void"),
    ("GET", "/admin/traffic", None, {}, 303, "/admin/traffic"),
    ("GET", "/admin/audit", None, {}, 303, "/admin/audit"),
    ("GET", "/admin/static/admin.css", None, {}, 200, "/admin/static"),
    ("GET", "/healthz", None, {}, 200, "/healthz"),
    ("GET", "/readyz", None, {}, 200, "/readyz"),
    ("GET", "/metrics", None, {}, 200, "/metrics"),
    ("GET", "/api/openapi.json", None, {}, 200, "/api/openapi.json"),
    ("GET", "/api/boom", None, {}, 500, "/api/boom"),
    ("POST", "/api/boom-json", {}, {}, 500, "/api/boom-json"),
    ("GET", "/api/nothing", None, {}, 404, "unmatched"),
    ("DELETE", "/api/presence", None, {}, 405, "unmatched"),
    ("POST", "/api/polls/nope/votes", {"option": "tot"}, {}, 404, "/api/polls/{poll_id}/votes"),
    ("POST", "/api/presence", "{not json", {}, 400, "/api/presence"),
    ("POST", "/api/presence", {}, {"Origin": "https://evil.example"}, 403, "/api/presence"),
    ("OPTIONS", "/api/presence", None, {"Access-Control-Request-Method": "POST"}, 200,
     "preflight"),
    ("GET", "/index.html", None, {}, 200, "/"),
    ("GET", "/no-such-page.html", None, {}, 404, "/"),
    ("POST", "/index.html", None, {}, 405, "/"),
    ("GET", "/widgets/portal.js", None, {}, 200, "/widgets"),
]  # fmt: skip


async def _call(
    client: httpx.AsyncClient, method: str, path: str, body: Any, headers: dict[str, str]
) -> httpx.Response:
    if isinstance(body, str):
        kind = "application/x-www-form-urlencoded" if "=" in body else "application/json"
        return await client.request(
            method, path, content=body, headers={"Content-Type": kind, **headers}
        )
    return await client.request(method, path, json=body, headers=headers)


async def test_every_route_and_every_error_takes_every_step(
    make_settings: Callable[..., Settings],
    static_site: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = make_settings(static_dir=static_site, allowed_origins=(EMBED,), access_log="all")
    app = create_app(settings, extra_routes=PLANTED)
    # Every route of the service is called below: a module that adds routes to ROUTES adds a
    # call for each to CALLS.
    called = {(method, path.split("?")[0]) for method, path, *_ in CALLS}
    concrete = {
        (method, route.path.replace("{poll_id}", "portal-rating"))
        for route in app.router.routes
        for method in route.methods
    }
    assert concrete <= called, f"routes without a call in CALLS: {concrete - called}"
    answers = []
    async with app.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as client:
            for number, (method, path, body, headers, status, _) in enumerate(CALLS):
                sent = {"X-Request-Id": f"step-{number}", "Origin": EMBED, **headers}
                client.cookies.clear()
                answer = await _call(client, method, path, body, sent)
                answers.append(answer)
                assert answer.status_code == status, (method, path, answer.text)
            metrics = (await client.get("/metrics")).text
    access = {
        line["request_id"]: line
        for line in map(json.loads, capsys.readouterr().err.splitlines())
        if line.get("logger") == "portal.access"
    }
    for number, ((method, path, _, headers, status, route), answer) in enumerate(
        zip(CALLS, answers, strict=True)
    ):
        where = f"{method} {path} {headers}"
        assert answer.headers["x-request-id"] == f"step-{number}", where
        assert answer.headers["x-content-type-options"] == "nosniff", where
        assert answer.headers["referrer-policy"] == "strict-origin-when-cross-origin", where
        if path.startswith("/widgets/"):  # public files: `*`, no credentials
            assert answer.headers["access-control-allow-origin"] == "*", where
        elif headers.get("Origin", EMBED) == EMBED:
            assert answer.headers["access-control-allow-origin"] == EMBED, where
            assert answer.headers["access-control-allow-credentials"] == "true", where
        line = access[f"step-{number}"]
        assert (line["status"], line["route"], line["method"]) == (status, route, method), where
        label = f'method="{method}",route="{route}",status="{status}"'
        assert f"portal_http_requests_total{{{label}}}" in metrics, where
        if status >= 400 and path.startswith("/api/"):
            assert answer.headers["content-type"] == "application/json", where
            assert answer.headers["cache-control"] == "no-store", where
            assert set(answer.json()["error"]) == {"code", "message"}, where
        if status == 405:
            assert answer.headers["allow"], where


async def test_a_failing_handler_answers_json_500_with_the_headers_of_any_answer(
    make_settings: Callable[..., Settings],
) -> None:
    app = create_app(make_settings(), extra_routes=PLANTED)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logging.getLogger("portal.errors").addHandler(handler)
    async with app.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as client:
            fine = await client.post("/api/presence", json={}, headers={"X-Request-Id": "ok-1"})
            client.cookies.clear()
            plain = await client.get("/api/boom", headers={"X-Request-Id": "boom-1"})
            client.cookies.clear()
            hot = await client.post("/api/boom-json", json={}, headers={"X-Request-Id": "boom-2"})
    for answer in (plain, hot):
        assert answer.status_code == 500
        assert answer.json() == {
            "error": {"code": "internal_error", "message": "Something went wrong on our side."}
        }
        assert sorted(answer.headers) == sorted(fine.headers)
    logging.getLogger("portal.errors").removeHandler(handler)
    errors = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert {line["request_id"] for line in errors} == {"boom-1", "boom-2"}
    assert all("Traceback" in line["exception"] for line in errors)


async def test_wrong_methods_on_api_paths_are_405_with_the_site_served(
    make_settings: Callable[..., Settings], static_site: Path, client_for: Callable[..., Any]
) -> None:
    async with client_for(make_settings(static_dir=static_site)) as client:
        for method, path, allow in [
            ("DELETE", "/api/presence", "GET, HEAD, POST"),
            ("POST", "/api/polls", "GET, HEAD"),
            ("PUT", "/api/polls/portal-rating/votes", "POST"),
            ("GET", "/api/presence/leave", "POST"),
            ("POST", "/api/admin/polls", "GET, HEAD"),
        ]:
            answer = await client.request(method, path)
            assert answer.status_code == 405, (method, path)
            assert answer.json()["error"]["code"] == "method_not_allowed"
            assert answer.headers["allow"] == allow
        assert (await client.get("/index.html")).headers["content-type"].startswith("text/html")
        assert (await client.get("/api/nothing")).status_code == 404


def test_router_finds_exact_paths_and_patterns() -> None:
    async def handler(request: Request) -> Response:
        return Response()

    router = Router(
        [
            Route("/a", ("GET",), handler),
            Route("/p/{id}", ("GET",), handler),
            Route("/p/{id}/x", ("POST",), handler),
            Route("/files/{rest:path}", ("GET",), handler),
        ]
    )
    assert router.find("/a") == (router.exact["/a"], {})
    assert set(router.exact["/a"]) == {"GET", "HEAD"}
    found = router.find("/p/7/x")
    assert found is not None and found[1] == {"id": "7"} and set(found[0]) == {"POST"}
    assert router.find("/p/7/y") is None
    assert router.find("/p//x") is None
    assert router.find("/p/7/x/") is None
    files = router.find("/files/a/b.css")
    assert files is not None and files[1] == {"rest": "a/b.css"}
    with pytest.raises(ValueError, match="two routes"):
        Router([Route("/a", ("GET",), handler), Route("/a", ("GET",), handler)])


async def test_serving_freezes_the_startup_heap_and_undoes_it_on_shutdown(
    settings: Settings,
) -> None:
    """Through the ASGI lifespan, as uvicorn runs it: while the app serves, the startup heap
    is out of the collector's sight and young passes wait for 10,000 allocations; after,
    the process is as it was (a test process builds many apps)."""
    import asyncio
    import gc

    from server.heap import YOUNG_THRESHOLD

    app = create_app(settings)
    before = gc.get_threshold()
    inbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    task = asyncio.ensure_future(app({"type": "lifespan"}, inbox.get, outbox.put))
    assert (await outbox.get())["type"] == "lifespan.startup.complete"
    await asyncio.sleep(0)
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    assert gc.get_freeze_count() > 10_000  # modules, templates, settings
    await inbox.put({"type": "lifespan.shutdown"})
    await task
    assert (await outbox.get())["type"] == "lifespan.shutdown.complete"
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
