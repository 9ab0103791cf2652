"""The app factory: `create_app(settings)` wires the API, widgets and the built site."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from server.admin.live import LiveHub
from server.admin.routes import ADMIN_ROUTES
from server.admin.tools import AdminTools
from server.catalog import SiteCatalog
from server.clients import ForwardedMiddleware
from server.cors import cors_middleware
from server.edge import Edge, EdgeMiddleware
from server.errors import EXCEPTION_HANDLERS
from server.history import TrafficHistory, TrafficRecorder, start_history
from server.hotpaths import HotPaths
from server.logs import AccessLog, configure_logging
from server.metrics import Metrics, RequestMetrics
from server.polls import PollStore
from server.presence import Presence
from server.ratelimit import VoteRateLimiter
from server.routes import ROUTES, Services
from server.security import SecurityHeaders
from server.sessions import SessionMiddleware, SessionSigner
from server.settings import Settings
from server.stats import StatsCache
from server.store import connect

_SESSION_PATHS = ("/api/presence", "/api/polls")


class SiteFiles(StaticFiles):
    """The built site; unknown API paths stay JSON errors instead of the site's HTML 404."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path == "api" or path.startswith("api/"):
            raise HTTPException(404)
        return await super().get_response(path, scope)


class WidgetFiles(StaticFiles):
    """Widget assets: cached for a year when asked for by version (`?v=`), briefly otherwise."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            versioned = b"v=" in scope.get("query_string", b"")
            response.headers["Cache-Control"] = (
                "public, max-age=31536000, immutable" if versioned else "public, max-age=300"
            )
            response.headers["Access-Control-Allow-Origin"] = "*"
        return response


class PortalApp(Starlette):
    """Starlette, with the hottest API calls answered before its middleware (`server.hotpaths`)."""

    hot_paths: HotPaths | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.hot_paths is not None:
            hot = self.hot_paths.match(scope)
            services: Services | None = getattr(self.state, "services", None)
            if hot is not None and services is not None:
                await self.hot_paths.serve(self, services, hot, scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings) -> PortalApp:
    """The service for `settings`; connects to Redis when it starts, not before."""
    catalog = SiteCatalog(settings.site_manifest, settings.site_dir / "site.toml")
    signer = SessionSigner(settings.secret_keys, settings.session_max_age)
    metrics = Metrics()
    edge = Edge(
        SecurityHeaders(settings.allowed_origins),
        RequestMetrics(metrics),
        AccessLog() if settings.access_log else None,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        redis = await connect(settings)
        polls = PollStore(redis, settings.redis_prefix, catalog)
        presence = Presence(redis, settings.redis_prefix, settings.presence_ttl)
        traffic = TrafficHistory(redis, settings.redis_prefix, settings.max_visitors_per_address)
        recorder = TrafficRecorder(traffic, catalog)
        presence.on_batch = recorder.on_batch
        await start_history(traffic)
        app.state.services = Services(
            settings=settings,
            redis=redis,
            catalog=catalog,
            presence=presence,
            polls=polls,
            signer=signer,
            metrics=metrics,
            limiter=(
                VoteRateLimiter(redis, settings, settings.vote_rate_limit)
                if settings.vote_rate_limit
                else None
            ),
            traffic=traffic,
            recorder=recorder,
        )
        app.state.admin = AdminTools(
            redis, settings.redis_prefix, catalog, presence, polls, traffic, recorder
        )
        app.state.live = LiveHub(app.state.admin)
        following = asyncio.create_task(_follow_site(catalog, polls))
        try:
            yield
        finally:
            following.cancel()
            await app.state.live.close()
            await recorder.flush()
            await redis.aclose()
            if edge.access_log is not None:
                edge.access_log.flush()

    routes: list[BaseRoute] = [*ROUTES, *ADMIN_ROUTES]
    if settings.widgets_dir.is_dir():
        routes.append(Mount("/widgets", WidgetFiles(directory=settings.widgets_dir)))
    if settings.static_dir is not None:
        routes.append(Mount("/", SiteFiles(directory=Path(settings.static_dir), html=True)))

    app = PortalApp(
        routes=routes,
        middleware=[
            # Outermost first: the edge (request id, security headers, metrics, access log)
            # covers everything, then the real client address and scheme (trusted proxies)
            # for all that follows.
            Middleware(EdgeMiddleware, edge=edge),
            *(
                [Middleware(ForwardedMiddleware, trusted_proxies=settings.trusted_proxies)]
                if settings.trusted_proxies
                else []
            ),
            *cors_middleware(settings),
            Middleware(SessionMiddleware, signer=signer, paths=_SESSION_PATHS),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    app.state.stats_cache = StatsCache()
    app.hot_paths = HotPaths(
        edge, signer, settings.trusted_proxies, cross_origin=bool(settings.allowed_origins)
    )
    return app


async def _follow_site(catalog: SiteCatalog, polls: PollStore) -> None:
    """Reload pages and polls within a second of a new build (see `server.catalog`)."""
    while True:
        await asyncio.sleep(CATALOG_REFRESH_SECONDS)
        before = catalog.polls
        if catalog.refresh():
            await polls.warn_retired(before)


CATALOG_REFRESH_SECONDS = 1.0


def create_app_from_env() -> PortalApp:
    """For `uvicorn --factory server.app:create_app_from_env` (what `portal serve` runs)."""
    configure_logging()
    return create_app(Settings.from_env())
