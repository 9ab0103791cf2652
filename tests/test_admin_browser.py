"""The console in real Chromium: sign in (wrong token first), live counts on the overview,
the void form's confirmation, no CSP violation or page error, and axe-core finds no serious
or critical violation on any console page. Screenshots (desktop and 390 px) go to
$PORTAL_SCREENSHOT_DIR when set."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterator
from ipaddress import ip_network
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import redis
from playwright.sync_api import expect

from server.settings import Settings
from server.timebuckets import Moment
from tests.admin_helpers import build_site, served
from tests.conftest import ADMIN_TOKEN
from tests.widget_fixtures import Problems, axe_violations, problems  # noqa: F401

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


def seed_history(redis_url: str, prefix: str) -> None:
    """Past days of traffic, as the heartbeats of earlier days would have left them."""
    rng = random.Random(7)
    client = redis.Redis.from_url(redis_url)
    now = Moment(time.time(), ZONE)
    tag = f"{prefix}{{traffic}}:"
    days = {}
    for day in range(now.day - 89, now.day):
        visitors = int(300 + 120 * rng.random() + (80 if (day + 3) % 7 < 5 else 0))
        days[f"u{day}"] = visitors
        days[f"v{day}"] = int(visitors * (2.2 + rng.random()))
        days[f"o{day}"] = int(visitors / 9)
    client.hset(f"{tag}days", mapping=days)
    for minute in range(now.minute - 48 * 60 + 1, now.minute):
        level = 20 + 15 * abs(((minute // 60) % 24) - 12) / 12 + rng.random() * 6
        client.hset(f"{tag}m:{minute // 60}", str(minute % 60), int(40 - level))
    client.close()


@pytest.fixture
def console(
    make_settings: Callable[..., Settings], tmp_path: Path, redis_url: str, key_prefix: str
) -> Iterator[str]:
    settings = make_settings(
        static_dir=build_site(tmp_path), trusted_proxies=(ip_network("127.0.0.1/32"),)
    )
    seed_history(redis_url, key_prefix)
    with served(settings) as (base, _), httpx.Client(base_url=base, timeout=10) as http:
        for index, option in enumerate(["tot"] * 6 + ["chua-tot", "khac", "tot"]):
            peer = "203.0.113.9" if index < 6 else f"198.51.100.{index}"
            http.cookies.clear()
            http.post(
                "/api/polls/rating/votes",
                json={"option": option},
                headers={"x-forwarded-for": peer},
            )
        for page in ["/index.html", "/tin-tuc/a.html", "/tin-tuc/a.html"]:
            http.cookies.clear()
            http.post("/api/presence", json={"page": page, "view": True})
        yield base


def shoot(page: Any, name: str) -> None:
    directory = os.environ.get("PORTAL_SCREENSHOT_DIR")
    if not directory:
        return
    Path(directory).mkdir(parents=True, exist_ok=True)
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(Path(directory) / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_console_in_chromium(chromium: Any, console: str, problems: Problems) -> None:  # noqa: F811
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    page = problems.watch(context.new_page())
    problems.allow("status of 401 (Unauthorized)")  # the wrong token, on purpose
    violations: dict[str, list[dict[str, Any]]] = {}

    def check(name: str) -> None:
        violations[name] = axe_violations(page, "html")

    page.goto(f"{console}/admin/")
    assert page.url.endswith("/admin/login")
    check("login")
    page.fill("#token", "wrong-token-wrong-token")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").count() == 1
    check("login-error")
    page.fill("#token", ADMIN_TOKEN)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{console}/admin/")
    online = page.locator("[data-count=online]")
    assert online.inner_text() == "3"
    check("overview")
    shoot(page, "overview")
    # A new visitor: the overview shows it without a reload.
    httpx.post(f"{console}/api/presence", json={"page": "/index.html", "view": True})
    expect(online).to_have_text("4", timeout=5000)

    page.goto(f"{console}/admin/polls/rating")
    assert page.locator("svg.chart").count() == 2
    check("poll")
    shoot(page, "poll")
    page.locator("form.void button").first.click()
    assert page.locator("form.confirm").count() == 1
    check("void-confirm")
    page.click("form.confirm button")
    assert page.locator("[role=status]").inner_text() == "Đã hủy 6 phiếu."

    page.goto(f"{console}/admin/traffic")
    assert page.locator("svg.chart").count() == 3
    check("traffic")
    shoot(page, "traffic")
    page.goto(f"{console}/admin/audit")
    check("audit")
    page.goto(f"{console}/admin/traffic?lang=en")
    assert page.locator("h1").inner_text() == "Traffic"
    check("traffic-en")
    page.click("text=Sign out")
    page.wait_for_url(f"{console}/admin/login?lang=en")
    context.close()
    assert {name: found for name, found in violations.items() if found} == {}
