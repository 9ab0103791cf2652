"""The OpenAPI document is generated from the routes the service serves: every API route is
in it, with the methods it answers, and nothing else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import Response

from server.app import create_app
from server.openapi import answers, documented, json_answer, ref
from server.router import Route, Session
from server.settings import Settings

UNDOCUMENTED = {
    ("GET", "/metrics"),  # Prometheus text, for the operator's scraper
    ("GET", "/api/admin/live"),  # the console's event stream
}


@documented({"summary": "Planted", "responses": answers({"200": json_answer("Ok", ref("Status"))})})
async def planted(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


async def test_every_api_route_is_documented_with_its_methods(
    make_settings: Callable[..., Settings],
) -> None:
    extra = [Route("/api/planted/{thing}", ("GET", "POST"), planted, Session.HANDOUT)]
    app = create_app(make_settings(), extra_routes=extra)
    async with app.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as client:
            answer = await client.get("/api/openapi.json")
    assert answer.status_code == 200
    routes = app.router.routes
    document: dict[str, Any] = answer.json()
    served = {
        (method, route.path)
        for route in routes
        for method in route.methods
        if route.path.startswith(("/api/", "/healthz", "/readyz"))
    }
    documented_operations = {
        (method.upper(), path) for path, methods in document["paths"].items() for method in methods
    }
    assert documented_operations == served - UNDOCUMENTED
    planted_get = document["paths"]["/api/planted/{thing}"]["get"]
    assert planted_get["summary"] == "Planted" and "security" not in planted_get
    assert [p["name"] for p in planted_get["parameters"]] == ["X-Portal-Session"]
    admin = document["paths"]["/api/admin/polls"]["get"]
    assert admin["security"] == [{"admin": []}] and "parameters" not in admin
    assert "parameters" not in document["paths"]["/api/stats"]["get"]
