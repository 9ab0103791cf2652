"""Every admin route, and the public statistics, in the order the router tries them."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from server.admin.api import ADMIN_API_ROUTES
from server.admin.console import CONSOLE_ROUTES
from server.admin.live import live
from server.stats import stats

ADMIN_ROUTES: list[BaseRoute] = [
    Route("/api/stats", stats, methods=["GET"]),
    Route("/api/admin/live", live, methods=["GET"]),
    *ADMIN_API_ROUTES,
    *CONSOLE_ROUTES,
]
