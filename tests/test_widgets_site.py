"""The widgets on the built demo site that `portal serve` serves (home page and an article)."""

# The fixtures are imported from tests.widget_fixtures, so test arguments share their names.
# ruff: noqa: F811

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.widget_fixtures import (  # noqa: F401 - fixtures
    FITS_RESERVED_SPACE,
    Problems,
    axe_violations,
    portal_factory,
    problems,
    screenshot,
)

WIDGETS = {"include": [["[data-portal-poll]"], ["[data-portal-presence]"], ["[data-portal-stats]"]]}
STATS_LABELS = ["Đang online", "Hôm nay", "Tháng này", "Tổng lượt truy cập"]


def test_home_page_and_an_article_run_both_widgets(
    chromium: Any, portal_factory: Any, problems: Problems
) -> None:
    portal = portal_factory()
    page = problems.watch(chromium.new_context().new_page())
    page.goto(portal.base + "/")
    # The page loads the versioned widget files (long-cached) from the same origin.
    assert page.locator('script[src^="/widgets/portal.js?v="]').count() == 1
    assert page.locator('link[href^="/widgets/portal.css?v="]').count() == 1
    expect(page.locator(".portal-presence__item").first).to_have_text("1 người đang online")
    expect(page.locator(".portal-poll__status")).to_have_text("0 người đã bình chọn")
    # The sidebar's "Thống kê truy cập" box: its heading is the box title, so the widget's own
    # title is not shown; the online count agrees with the presence counter.
    box = page.locator(".box--stats")
    expect(box.get_by_role("heading", name="Thống kê truy cập")).to_be_visible()
    expect(box.locator(".portal-stats__title")).to_be_hidden()
    expect(box.locator(".portal-stats__list dt")).to_have_text(STATS_LABELS)
    expect(box.locator(".portal-stats__list dd").first).to_have_text("1")
    # Filled in, the box is no taller than the space reserved for it: nothing below it moved.
    assert box.locator("[data-portal-stats]").evaluate(FITS_RESERVED_SPACE), "stats box grew"
    assert axe_violations(page, WIDGETS) == []
    screenshot(page, "body", "site-home")
    screenshot(page, "aside", "site-home-sidebar")

    article = page.locator('a[href*="/bai-viet/"]').first.get_attribute("href")
    assert article
    page.goto(portal.base + article if article.startswith("/") else article)
    mount = page.locator("[data-portal-presence][data-portal-page]")
    assert mount.count() >= 1, "article pages count their own readers"
    expect(mount.first.locator(".portal-presence__item")).to_have_text(
        [re.compile(r"^\d+ người đang online$"), "1 người đang xem bài này"]
    )
    page.locator("[data-portal-poll] input[type=radio]").first.check()
    page.locator(".portal-poll__submit").click()
    expect(page.locator(".portal-poll__result--mine")).to_be_visible()
    expect(page.locator(".portal-poll__status")).to_have_text("1 người đã bình chọn")
    assert axe_violations(page, WIDGETS) == []
    screenshot(page, "aside", "site-article-voted")

    # The home page now shows the results too: same visitor, same session.
    page.goto(portal.base + "/")
    expect(page.locator(".portal-poll__result--mine")).to_be_visible()


def test_the_embed_demo_page_runs(chromium: Any, portal_factory: Any, problems: Problems) -> None:
    portal = portal_factory()
    page = problems.watch(chromium.new_context().new_page())
    problems.allow("/favicon.ico")  # a bare demo page: the browser's own favicon request
    page.goto(portal.base + "/widgets/embed.html")
    expect(page.locator(".portal-presence__item")).to_have_text(
        ["1 người đang online", "1 person online"]
    )
    expect(page.locator(".portal-poll__status")).to_have_text(
        ["0 người đã bình chọn", "0 people have voted"]
    )
    expect(page.locator(".portal-stats__list dt")).to_have_text(
        [*STATS_LABELS, "Online now", "Today", "This month", "Total visits"]
    )
    # Both mount points were empty: the script built the ballots, in each one's language.
    expect(page.get_by_role("button", name="Bình chọn")).to_have_count(1)
    expect(page.get_by_role("button", name="Vote")).to_have_count(1)
    assert axe_violations(page, "main") == []
    screenshot(page, "main", "embed-demo")
