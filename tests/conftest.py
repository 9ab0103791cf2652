"""Fixtures: a real Redis (REDIS_URL or a throwaway redis-server), apps, a live `portal serve`,
and headless Chromium. Every test gets its own key prefix, deleted afterwards."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from server.app import create_app
from server.settings import Settings
from tests.redis_process import RedisProcess, free_port

REPO = Path(__file__).resolve().parent.parent
SITE_DIR = REPO / "site"
SECRET = "test-secret-key-0123456789"
ADMIN_TOKEN = "test-admin-token"
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """REDIS_URL when set, else a redis-server started for this test run."""
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    server = RedisProcess(tmp_path_factory.mktemp("redis")).start()
    yield server.url
    server.stop()


@pytest.fixture
def key_prefix(redis_url: str) -> Iterator[str]:
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        client.delete(key)
    client.close()


@pytest.fixture
def make_settings(redis_url: str, key_prefix: str) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "redis_url": redis_url,
            "secret_keys": (SECRET,),
            "admin_token": ADMIN_TOKEN,
            "redis_prefix": key_prefix,
            "site_dir": SITE_DIR,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@contextlib.asynccontextmanager
async def app_client(
    settings: Settings, peer: str = "127.0.0.1", **kwargs: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on a running app for `settings` (lifespan entered), whose requests
    arrive from `peer` (the TCP peer address)."""
    app = create_app(settings)
    async with app.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(peer, 40000))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://portal.test", **kwargs
        ) as client:
            yield client


@pytest.fixture
def client_for() -> Callable[..., Any]:
    """`async with client_for(settings) as client:` runs an app for that settings."""
    return app_client


@pytest.fixture
def static_site(tmp_path: Path) -> Path:
    """A minimal built site for apps that serve one."""
    site = tmp_path / "dist"
    site.mkdir()
    (site / "index.html").write_text("<!doctype html><title>Trang chủ</title><p>Xin chào</p>")
    return site


@pytest.fixture
async def client(
    client_for: Callable[..., Any], settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(settings) as client:
        yield client


PORTAL_PROCESSES: dict[str, subprocess.Popen[bytes]] = {}
"""The `portal serve` process behind each base URL `start_portal` returned (to measure it)."""


@pytest.fixture
def start_portal(
    redis_url: str, key_prefix: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., str]]:
    """Start a real `portal serve` subprocess; returns its base URL. Stopped at test end."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(
        env: dict[str, str] | None = None,
        site_dir: Path | None = None,
        port: int | None = None,
        extra_args: list[str] | None = None,
        watch: bool = False,
        log_path: Path | None = None,
    ) -> str:
        """`watch`: rebuild on changes (off by default: tests of the service need no
        rebuilds); `log_path`: where its stdout and stderr go (default: in its work dir)."""
        port = port or free_port()
        work = tmp_path_factory.mktemp("portal")
        log_path = log_path or work / "serve.log"
        full_env = {
            **os.environ,
            "PORTAL_REDIS_URL": redis_url,
            "PORTAL_REDIS_PREFIX": key_prefix,
            "PORTAL_SECRET_KEY": SECRET,
            "PORTAL_ADMIN_TOKEN": ADMIN_TOKEN,
            "PORTAL_DATA_DIR": str(work / "data"),
            **(env or {}),
        }
        args = [
            sys.executable, "-m", "portal", "serve",
            "--host", "127.0.0.1", "--port", str(port),
            "--site", str(site_dir or SITE_DIR), "--out", str(work / "dist"),
            *([] if watch else ["--no-watch"]), *(extra_args or []),
        ]  # fmt: skip
        log = open(log_path, "wb")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(args, env=full_env, cwd=REPO, stdout=log, stderr=log)
        processes.append(process)
        base = f"http://127.0.0.1:{port}"
        PORTAL_PROCESSES[base] = process
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=0.5).status_code == 200:
                    return base
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"portal serve did not start:\n{log_path.read_text()}")
            time.sleep(0.1)

    yield start
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Headless Debian Chromium driven by Playwright (sync API).

    Per module, not per session: while Playwright's sync API is started it keeps an event
    loop running in this thread, and every pytest-asyncio test after it would fail.
    """
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed (apt-get install chromium); .ci/run installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()
