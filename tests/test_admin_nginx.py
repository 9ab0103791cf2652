"""The live stream and the console through nginx (deploy/nginx.conf, with the admin
locations of docs/operations.md): an event within 2 s of a change, the console proxied."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

import tests.test_nginx as nginx_test
from server.settings import Settings
from tests.admin_helpers import AUTH, build_site, read_events, served
from tests.test_nginx import nginx_binary, run_nginx

OPERATIONS = Path(__file__).resolve().parent.parent / "docs" / "operations.md"
CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "nginx.conf"


def admin_locations() -> str:
    """The nginx locations the operations guide gives for the console and the live stream."""
    text = OPERATIONS.read_text(encoding="utf-8")
    found = re.search(r"```nginx\n(.*?location = /api/admin/live.*?)```", text, re.S)
    assert found, "docs/operations.md lost its admin nginx locations"
    return found.group(1)


def test_live_events_through_nginx(
    make_settings: Callable[..., Settings], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nginx = nginx_binary()
    template = CONFIG.read_text(encoding="utf-8")
    if "/api/admin/live" not in template:
        # Until deploy/nginx.conf carries them: the guide's locations, before /api/'s.
        patched = template.replace(
            "    location /api/ {", admin_locations() + "\n    location /api/ {", 1
        )
        config = tmp_path / "nginx.conf.template"
        config.write_text(patched, encoding="utf-8")
        monkeypatch.setattr(nginx_test, "TEMPLATE", config)
    dist = build_site(tmp_path)
    settings = make_settings(static_dir=dist)
    with served(settings) as (base, _):
        process, front = run_nginx(nginx, tmp_path / "nginx", base.removeprefix("http://"), dist)
        try:
            with httpx.Client(base_url=front, timeout=20) as http:
                assert http.get("/admin/login").status_code == 200
                with http.stream("GET", "/api/admin/live", headers=AUTH) as stream:
                    assert stream.status_code == 200
                    lines = stream.iter_lines()
                    assert next(read_events(lines, 1))["online"] == 0
                    sent = time.monotonic()
                    http.post("/api/presence", json={"page": "/index.html"})
                    assert next(read_events(lines, 1))["online"] == 1
                    assert time.monotonic() - sent < 2.0
        finally:
            process.terminate()
            process.wait(10)
