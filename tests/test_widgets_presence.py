"""The presence counter in real Chromium against a real `portal serve` on real Redis."""

# The fixtures are imported from tests.widget_fixtures, so test arguments share their names.
# ruff: noqa: F811

from __future__ import annotations

import itertools
import time
from typing import Any

from playwright.sync_api import expect

from tests.widget_fixtures import (  # noqa: F401 - fixtures
    ARTICLE,
    Portal,
    Problems,
    other_site,
    portal_factory,
    problems,
    render_page,
)

ITEMS = ".portal-presence__item"
SHOW = "document.dispatchEvent(new Event('visibilitychange'))"


def _set_visibility(page: Any, state: str) -> None:
    page.evaluate(
        """(state) => {
            Object.defineProperty(document, "visibilityState", {value: state, configurable: true});
            document.dispatchEvent(new Event("visibilitychange"));
        }""",
        state,
    )


def _wait_for_presence(portal: Portal, online: int, page_online: int, within: float) -> None:
    deadline = time.monotonic() + within
    while True:
        counts = portal.presence(ARTICLE)
        if (counts["online"], counts["page_online"]) == (online, page_online):
            return
        assert time.monotonic() < deadline, counts
        time.sleep(0.1)


def test_two_visitors_are_online_and_one_leaves_on_pagehide(
    chromium: Any, portal_factory: Any, problems: Problems
) -> None:
    # A long TTL: the count can only drop this fast because the leave beacon arrived.
    portal = portal_factory(env={"PORTAL_PRESENCE_TTL": "60"})
    url = portal.page("article.html", render_page())
    first = problems.watch(chromium.new_context().new_page())
    first.goto(url)
    expect(first.locator(ITEMS)).to_have_text(["1 người đang online", "1 người đang xem bài này"])
    second_context = chromium.new_context()
    second = problems.watch(second_context.new_page())
    second.goto(url)
    expect(second.locator(ITEMS)).to_have_text(["2 người đang online", "2 người đang xem bài này"])
    # Coming back to a tab sends a heartbeat at once, and the counter follows.
    first.evaluate(SHOW)
    expect(first.locator(ITEMS)).to_have_text(["2 người đang online", "2 người đang xem bài này"])
    assert first.locator("[data-portal-presence]").get_attribute("aria-live") == "polite"

    second.close(run_before_unload=True)  # pagehide -> navigator.sendBeacon(leave)
    _wait_for_presence(portal, online=1, page_online=1, within=5)
    first.evaluate(SHOW)
    expect(first.locator(ITEMS)).to_have_text(["1 người đang online", "1 người đang xem bài này"])
    second_context.close()


def test_heartbeats_every_half_ttl_and_only_while_visible(
    chromium: Any, portal_factory: Any, problems: Problems
) -> None:
    portal = portal_factory(env={"PORTAL_PRESENCE_TTL": "2"})  # a heartbeat about every second
    url = portal.page("article.html", render_page())
    page = problems.watch(chromium.new_context().new_page())
    beats: list[float] = []
    page.on(
        "request",
        lambda r: (
            r.method == "POST"
            and r.url.endswith("/api/presence")
            and beats.append(time.monotonic())
        ),
    )
    page.goto(url)
    expect(page.locator(ITEMS).first).to_have_text("1 người đang online")
    page.wait_for_timeout(3500)
    assert 3 <= len(beats) <= 6, beats
    gaps = [b - a for a, b in itertools.pairwise(beats)]
    assert all(0.6 <= gap <= 1.5 for gap in gaps), gaps  # ttl/2 = 1 s, with jitter

    _set_visibility(page, "hidden")
    page.wait_for_timeout(300)
    hidden_at = len(beats)
    page.wait_for_timeout(2500)
    assert len(beats) == hidden_at, "no heartbeat while the page is hidden"

    _set_visibility(page, "visible")
    page.wait_for_timeout(500)
    assert len(beats) == hidden_at + 1, "a heartbeat as soon as the page is visible again"


def test_english_counter_and_plural_forms(
    chromium: Any, portal_factory: Any, problems: Problems
) -> None:
    portal = portal_factory()
    url = portal.page("article-en.html", render_page(lang="en"))
    first = problems.watch(chromium.new_context().new_page())
    first.goto(url)
    expect(first.locator(ITEMS)).to_have_text(["1 person online", "1 person reading this page"])
    second = problems.watch(chromium.new_context().new_page())
    second.goto(url)
    expect(second.locator(ITEMS)).to_have_text(["2 people online", "2 people reading this page"])


def test_a_failing_api_shows_a_quiet_dash(
    chromium: Any, portal_factory: Any, problems: Problems
) -> None:
    portal = portal_factory()
    url = portal.page("article.html", render_page())
    context = chromium.new_context()
    context.route("**/api/**", lambda route: route.abort())
    page = problems.watch(context.new_page())
    problems.allow("Failed to load resource")
    page.goto(url)
    expect(page.locator(ITEMS)).to_have_text(["— người đang online", "— người đang xem bài này"])
    expect(page.locator(".portal-poll__status")).to_have_text("— người đã bình chọn")
    # The server-rendered ballot stays: it still posts without JavaScript's help.
    expect(page.locator(".portal-poll__form input[type=radio]")).to_have_count(4)
    assert [p for p in problems.seen if "pageerror" in p] == []


def test_numbers_follow_the_visitor_language(
    chromium: Any, portal_factory: Any, problems: Problems
) -> None:
    portal = portal_factory()
    answer = '{"online": 1234, "page_online": 1, "ttl": 60}'
    for lang, expected in (
        ("vi", ["1.234 người đang online", "1 người đang xem bài này"]),
        ("en", ["1,234 people online", "1 person reading this page"]),
    ):
        url = portal.page(f"big-{lang}.html", render_page(lang=lang))
        context = chromium.new_context()
        # Only the heartbeat's answer is made up here: 1234 visitors are hard to come by.
        context.route(
            "**/api/presence",
            lambda route: route.fulfill(content_type="application/json", body=answer),
        )
        page = problems.watch(context.new_page())
        page.goto(url)
        expect(page.locator(ITEMS)).to_have_text(expected)
        context.close()
