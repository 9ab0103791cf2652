"""`portal.devserver.app.DevPages` in front of a plain static site: what `portal serve` adds
to pages (and only to pages), and the problem page while no build exists."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from portal.devserver.app import DevPages, StatusFollower, script_version

PAGE = "<!doctype html><html><head><title>x</title></head><body>Xin chào</body></html>"


def dev_site(
    tmp_path: Path, status: dict[str, object], *, live_reload: bool = True
) -> httpx.AsyncClient:
    dist = tmp_path / "dist"
    dist.mkdir(exist_ok=True)
    (dist / "index.html").write_text(PAGE, encoding="utf-8")
    (dist / "site.css").write_text("body { color: #222 }", encoding="utf-8")
    status_file = tmp_path / "build.json"
    status_file.write_text(json.dumps(status), encoding="utf-8")
    site = Starlette(routes=[Mount("/", StaticFiles(directory=dist, html=True))])
    app = DevPages(site, StatusFollower(status_file), live_reload=live_reload)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


GOOD = {"build": "run-7", "ok": True, "problems": [], "has_site": True}


async def test_pages_get_the_script_with_their_build_and_are_never_a_304(tmp_path: Path) -> None:
    async with dev_site(tmp_path, GOOD) as client:
        page = await client.get("/")
        tag = f'<script src="/_portal/live.js?v={script_version()}" data-build="run-7" defer>'
        assert tag in page.text and page.text.index(tag) < page.text.index("</head>")
        assert int(page.headers["content-length"]) == len(page.content)
        assert page.headers["cache-control"] == "no-store" and "etag" not in page.headers
        # A 304 would bring back a cached page naming an older build: always the full page.
        future = {"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}
        again = await client.get("/", headers=future)
        assert again.status_code == 200 and tag in again.text

        css = await client.get("/site.css")
        assert css.text == "body { color: #222 }" and "etag" in css.headers


async def test_no_script_without_live_reload(tmp_path: Path) -> None:
    async with dev_site(tmp_path, GOOD, live_reload=False) as client:
        assert (await client.get("/")).text == PAGE


async def test_without_a_good_build_pages_list_the_problems(tmp_path: Path) -> None:
    problem = {
        "file": "content/a.md",
        "line": 2,
        "field": "title",
        "message": "missing <b>",
        "hint": "add a title: line",
    }
    status = {"build": "run-1", "ok": False, "problems": [problem], "has_site": False}
    async with dev_site(tmp_path, status) as client:
        (tmp_path / "dist" / "index.html").unlink()
        page = await client.get("/")
        assert page.status_code == 503
        assert "content/a.md:2 (title)" in page.text and "missing &lt;b&gt;" in page.text
        assert 'data-build="run-1"' in page.text  # reloads itself once a build is good
