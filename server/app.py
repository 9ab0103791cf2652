"""The app factory: `create_app(settings)` wires the API, widgets and the built site."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from server.admin.live import LiveHub
from server.admin.routes import ADMIN_ROUTES
from server.admin.tools import AdminTools
from server.catalog import SiteCatalog
from server.cors import CrossOrigin
from server.edge import Edge
from server.history import TrafficHistory, TrafficRecorder, start_history
from server.logs import AccessLog, configure_logging
from server.metrics import Metrics, RequestMetrics
from server.pipeline import Mounts, Pipeline
from server.polls import PollStore
from server.presence import BatchHook, Beat, Presence, PresenceCounts
from server.ratelimit import ADMIN_FAILURE_LIMIT, AddressLimiter, AdminGuard
from server.router import Route, Router, from_starlette
from server.routes import ROUTES, SUMMARISED, Services
from server.security import SecurityHeaders
from server.sessions import SessionSigner
from server.settings import Settings
from server.stats import StatsCache
from server.store import connect


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


def create_app(settings: Settings, extra_routes: Iterable[Route] = ()) -> Pipeline:
    """The service for `settings`: `server.routes.ROUTES`, the admin API's and console's
    routes, and `extra_routes`; connects to Redis when it starts, not before."""
    catalog = SiteCatalog(settings.site_manifest, settings.site_dir / "site.toml")
    signer = SessionSigner(settings.secret_keys, settings.session_max_age)
    metrics = Metrics()
    origins = CrossOrigin(settings.allowed_origins)
    access_log = (
        AccessLog(mode=settings.access_log, summarised=SUMMARISED)
        if settings.access_log != "off"
        else None
    )
    edge = Edge(RequestMetrics(metrics), access_log)

    @contextlib.asynccontextmanager
    async def lifespan(app: Pipeline) -> AsyncIterator[None]:
        redis = await connect(settings)
        polls = PollStore(redis, settings.redis_prefix, catalog)
        presence = Presence(
            redis,
            settings.redis_prefix,
            settings.presence_ttl,
            catalog=catalog,
            max_pages=settings.max_pages,
            max_online_per_address=settings.max_online_per_address,
        )
        traffic = TrafficHistory(redis, settings.redis_prefix, settings.max_visitors_per_address)
        recorder = TrafficRecorder(traffic, catalog)
        presence.on_batch = _after_heartbeats(metrics, recorder)
        await start_history(traffic)

        def limiter(limit: str | None, namespace: str) -> AddressLimiter | None:
            return AddressLimiter(redis, settings, limit, namespace) if limit else None

        failures = AddressLimiter(redis, settings, ADMIN_FAILURE_LIMIT, "admin-failure")
        app.services = app.state.services = Services(
            settings=settings,
            redis=redis,
            catalog=catalog,
            presence=presence,
            polls=polls,
            signer=signer,
            metrics=metrics,
            origins=origins,
            admin=AdminGuard(settings.admin_token, failures, metrics),
            vote_limiter=limiter(settings.vote_rate_limit, "vote"),
            visitor_limiter=limiter(settings.new_visitor_limit, "visitor"),
            traffic=traffic,
            recorder=recorder,
        )
        # The console's sign-in counts its failures against the admin failure limit.
        app.state.admin_auth_limiter = app.services.admin
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
                edge.access_log.close()

    mounts = Mounts()
    if settings.widgets_dir.is_dir():
        mounts.prefixed.append(("/widgets", WidgetFiles(directory=settings.widgets_dir)))
    if settings.static_dir is not None:
        mounts.site = StaticFiles(directory=Path(settings.static_dir), html=True)
    routes = [*ROUTES, *from_starlette(ADMIN_ROUTES, mounts), *extra_routes]
    app = Pipeline(
        Router(routes),
        mounts,
        edge=edge,
        security=SecurityHeaders(settings.allowed_origins),
        origins=origins,
        signer=signer,
        trusted_proxies=settings.trusted_proxies,
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    app.state.stats_cache = StatsCache()
    return app


def _after_heartbeats(metrics: Metrics, recorder: TrafficRecorder) -> BatchHook:
    """Counted once per batch, not per request: a metric costs a lock per update."""

    async def after(beats: list[Beat], counts: list[PresenceCounts]) -> None:
        metrics.count_heartbeats(len(beats), counts[-1].online)
        await recorder.on_batch(beats, counts)

    return after


async def _follow_site(catalog: SiteCatalog, polls: PollStore) -> None:
    """Reload pages and polls within a second of a new build (see `server.catalog`)."""
    while True:
        await asyncio.sleep(CATALOG_REFRESH_SECONDS)
        before = catalog.polls
        if catalog.refresh():
            await polls.warn_retired(before)


CATALOG_REFRESH_SECONDS = 1.0


def create_app_from_env() -> Pipeline:
    """For `uvicorn --factory server.app:create_app_from_env` (what `portal serve` runs)."""
    configure_logging()
    return create_app(Settings.from_env())
