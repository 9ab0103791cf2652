"""Helpers for the admin and history tests: one running app, clients from any peer address,
each a fresh visitor session, and a built site's manifest with pages and polls."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from server.app import create_app
from server.catalog import write_manifest
from server.pipeline import Pipeline
from server.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.redis_process import free_port

AUTH = {"authorization": f"Bearer {ADMIN_TOKEN}"}
POLL = {
    "id": "rating",
    "question": "Bạn thấy cổng thông tin thế nào?",
    "options": [
        {"id": "tot", "label": "Tốt"},
        {"id": "chua-tot", "label": "Chưa tốt"},
        {"id": "khac", "label": "Khác"},
    ],
}
PAGES = {
    "/index.html": "Trang chủ",
    "/tin-tuc/a.html": "Tin A",
    "/tin-tuc/b.html": "=HYPERLINK(1)",  # a title a spreadsheet would run, if not escaped
}


def build_site(root: Path, polls: list[dict[str, Any]] | None = None) -> Path:
    """A built site (pages and polls in its manifest) the service follows."""
    out = root / "dist"
    out.mkdir(parents=True, exist_ok=True)
    (out / "index.html").write_text("<!doctype html><title>Trang chủ</title><p>Xin chào</p>")
    write_manifest(
        out / "_portal" / "site.json",
        {
            "format": 1,
            "timezone": "Asia/Ho_Chi_Minh",
            "pages": [{"path": p, "title": t} for p, t in PAGES.items()],
            "polls": [POLL] if polls is None else polls,
            "next_change": None,
        },
    )
    return out


class RunningApp:
    def __init__(self, app: Pipeline) -> None:
        self.app = app

    def client(self, peer: str = "127.0.0.1", **kwargs: Any) -> httpx.AsyncClient:
        """A client from `peer`; each one starts as a new visitor (its own cookies)."""
        transport = httpx.ASGITransport(app=self.app, client=(peer, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://portal.test", **kwargs)


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[RunningApp]:
    app = create_app(settings)
    async with app.lifespan_context(app):
        yield RunningApp(app)


def read_csv(response: httpx.Response) -> list[list[str]]:
    """A CSV answer checked for its type and BOM, as rows of cells."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    assert response.content.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(response.content.decode("utf-8")[1:])))


@contextlib.contextmanager
def served(settings: Settings) -> Iterator[tuple[str, Pipeline]]:
    """The app behind a real uvicorn on a loopback port (in a thread): its base URL, the app."""
    app = create_app(settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{config.port}"
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield base, app
    finally:
        server.should_exit = True
        thread.join(10)


def read_events(stream: Iterator[str], count: int) -> Iterator[dict[str, Any]]:
    """The `counts` events of an SSE text stream (lines), as they come."""
    event = None
    for line in stream:
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == "counts":
            yield json.loads(line[6:])
            count -= 1
            if count == 0:
                return
