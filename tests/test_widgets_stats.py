"""The visit statistics box ("Thống kê truy cập") in real Chromium against a real
`portal serve` on real Redis: GET /api/stats rendered, refreshed while visible, no layout shift."""

# The fixtures are imported from tests.widget_fixtures, so test arguments share their names.
# ruff: noqa: F811

from __future__ import annotations

import json
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.widget_fixtures import (  # noqa: F401 - fixtures
    FITS_RESERVED_SPACE,
    OtherSite,
    Problems,
    axe_violations,
    other_site,
    portal_factory,
    problems,
    render_page,
    screenshot,
    set_visibility,
)

BOX = "[data-portal-stats]"
LABELS = ".portal-stats__list dt"
VALUES = ".portal-stats__list dd"
SIDEBAR = {"width": 400, "height": 800}
LAYOUT_SHIFT = """window.__shift = 0;
new PerformanceObserver(list => list.getEntries().forEach(e => {
    if (!e.hadRecentInput) window.__shift += e.value;
})).observe({type: "layout-shift", buffered: true});"""


def _is_stats(request: Any) -> bool:
    return bool(request.url.endswith("/api/stats"))


def test_the_box_shows_the_service_numbers_without_moving_the_page(
    chromium: Any, portal_factory: Any, problems: Problems
) -> None:
    portal = portal_factory()
    url = portal.page("stats.html", render_page(stats=True))
    context = chromium.new_context(viewport=SIDEBAR)
    context.add_init_script(LAYOUT_SHIFT)
    page = problems.watch(context.new_page())
    page.goto(url)
    expect(page.locator(".portal-stats__title")).to_have_text("Thống kê truy cập")
    expect(page.locator(LABELS)).to_have_text(
        ["Đang online", "Hôm nay", "Tháng này", "Tổng lượt truy cập"]
    )
    # Read after the first heartbeat: this visitor is online, as the presence counter says.
    expect(page.locator(VALUES).first).to_have_text("1")
    expect(page.locator(".portal-presence__item").first).to_have_text("1 người đang online")
    answer = httpx.get(f"{portal.base}/api/stats", timeout=5).json()
    assert answer["online"] == 1 and answer["today"] >= 1, answer
    expect(page.locator(VALUES)).to_have_text(
        [f"{answer[key]:,}".replace(",", ".") for key in ("online", "today", "month", "total")]
    )
    page.wait_for_timeout(300)
    assert page.evaluate("window.__shift") < 0.01
    # Filled in, the box is no taller than the space its stylesheet reserves.
    assert page.locator(BOX).evaluate(FITS_RESERVED_SPACE)
    assert axe_violations(page, BOX) == []
    screenshot(page, BOX, "stats-vi")


def test_numbers_are_grouped_in_the_visitor_language(
    chromium: Any, portal_factory: Any, problems: Problems
) -> None:
    portal = portal_factory()
    # Only the statistics are made up here: a million visitors are hard to come by.
    numbers = {"online": 1234, "today": 56789, "month": 1234567, "total": 98765432}
    for lang, labels, values in (
        (
            "vi",
            ["Đang online", "Hôm nay", "Tháng này", "Tổng lượt truy cập"],
            ["1.234", "56.789", "1.234.567", "98.765.432"],
        ),
        (
            "en",
            ["Online now", "Today", "This month", "Total visits"],
            ["1,234", "56,789", "1,234,567", "98,765,432"],
        ),
    ):
        url = portal.page(f"stats-{lang}.html", render_page(lang=lang, stats=True))
        context = chromium.new_context(viewport=SIDEBAR)
        context.route(
            "**/api/stats",
            lambda route: route.fulfill(content_type="application/json", body=json.dumps(numbers)),
        )
        page = problems.watch(context.new_page())
        page.goto(url)
        expect(page.locator(".portal-stats__title")).to_have_text(
            "Visitor statistics" if lang == "en" else "Thống kê truy cập"
        )
        expect(page.locator(LABELS)).to_have_text(labels)
        expect(page.locator(VALUES)).to_have_text(values)
        screenshot(page, BOX, f"stats-{lang}-big")
        context.close()


def test_the_box_refreshes_every_30_seconds_only_while_visible(
    chromium: Any, portal_factory: Any, problems: Problems
) -> None:
    portal = portal_factory()
    url = portal.page("stats.html", render_page(stats=True))
    context = chromium.new_context()
    context.clock.install()
    page = problems.watch(context.new_page())
    reads: list[str] = []
    page.on("request", lambda r: _is_stats(r) and reads.append(r.url))
    page.goto(url)
    expect(page.locator(VALUES).first).to_have_text("1")
    assert len(reads) == 1
    with page.expect_request(_is_stats):
        page.clock.fast_forward(30_000)
    assert len(reads) == 2

    set_visibility(page, "hidden")
    page.clock.fast_forward(95_000)
    page.evaluate("() => new Promise(requestAnimationFrame)")  # let the page run its timers
    assert len(reads) == 2, "no reads while the page is hidden"
    with page.expect_request(_is_stats):  # shown again: fresh numbers at once
        set_visibility(page, "visible")


def test_the_box_on_another_site(
    chromium: Any, portal_factory: Any, other_site: OtherSite, problems: Problems
) -> None:
    portal = portal_factory(env={"PORTAL_ALLOWED_ORIGINS": other_site.origin})
    host = other_site.page(
        "stats.html",
        render_page(
            api=portal.base, assets=portal.base, csp_connect=portal.base, page=None, stats=True
        ),
    )
    page = problems.watch(chromium.new_context().new_page())
    page.goto(host)
    expect(page.locator(".portal-presence__item")).to_have_text(["1 người đang online"])
    expect(page.locator(VALUES).first).to_have_text("1")
    assert "—" not in "".join(page.locator(VALUES).all_text_contents())
