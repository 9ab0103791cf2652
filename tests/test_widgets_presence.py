"""The presence counter in real Chromium against a real `portal serve` on real Redis."""

# The fixtures are imported from tests.widget_fixtures, so test arguments share their names.
# ruff: noqa: F811

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.widget_fixtures import (  # noqa: F401 - fixtures
    ARTICLE,
    Portal,
    Problems,
    other_site,
    portal_factory,
    problems,
    render_page,
    set_visibility,
)

ITEMS = ".portal-presence__item"
SHOW = "document.dispatchEvent(new Event('visibilitychange'))"
# Every text the first counter line shows, in order, kept in window.__shown.
RECORD_SHOWN = """addEventListener("DOMContentLoaded", () => {
    window.__shown = [];
    const mount = document.querySelector("[data-portal-presence]");
    new MutationObserver(() => {
        const text = mount.firstElementChild && mount.firstElementChild.textContent;
        if (text && text !== window.__shown[window.__shown.length - 1]) window.__shown.push(text);
    }).observe(mount, {subtree: true, childList: true, characterData: true});
});"""


def _is_heartbeat(request: Any) -> bool:
    return bool(request.method == "POST" and request.url.endswith("/api/presence"))


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

    set_visibility(page, "hidden")
    page.wait_for_timeout(300)
    hidden_at = len(beats)
    page.wait_for_timeout(2500)
    assert len(beats) == hidden_at, "no heartbeat while the page is hidden"

    set_visibility(page, "visible")
    page.wait_for_timeout(500)
    assert len(beats) == hidden_at + 1, "a heartbeat as soon as the page is visible again"


def test_english_counter_and_plural_forms(
    chromium: Any, portal_factory: Any, problems: Problems
) -> None:
    portal = portal_factory()
    url = portal.page("article-en.html", render_page(lang="en"))
    portal.add_to_page_list(ARTICLE)  # the page its counter names
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


def test_a_page_the_service_does_not_count_shows_a_dash_for_its_readers(
    chromium: Any, portal_factory: Any, problems: Problems
) -> None:
    portal = portal_factory()
    url = portal.page("article.html", render_page())
    context = chromium.new_context()
    # The answer for a page off the site's list, made up: the test pages are on it.
    answer = '{"online": 3, "page_online": null, "ttl": 2}'
    context.route(
        "**/api/presence",
        lambda route: route.fulfill(content_type="application/json", body=answer),
    )
    page = problems.watch(context.new_page())
    page.goto(url)
    expect(page.locator(ITEMS)).to_have_text(["3 người đang online", "— người đang xem bài này"])
    with page.expect_request(_is_heartbeat, timeout=5000):
        pass  # and it keeps beating (every ttl/2 = 1 s)


def test_over_the_new_visitor_limit_the_last_count_stays_until_retry_after(
    chromium: Any, portal_factory: Any, problems: Problems
) -> None:
    portal = portal_factory(
        env={"PORTAL_NEW_VISITOR_LIMIT": "3/10seconds", "PORTAL_PRESENCE_TTL": "60"}
    )
    url = portal.page("home.html", render_page(page=None))
    context = chromium.new_context()
    context.add_init_script(RECORD_SHOWN)
    page = problems.watch(context.new_page())
    problems.allow("429")  # Chromium logs the refused heartbeat
    page.goto(url)  # new visitor 1 of 3 from this address
    expect(page.locator(ITEMS)).to_have_text(["1 người đang online"])
    for _ in range(2):  # new visitors 2 and 3, from the same address
        httpx.post(f"{portal.base}/api/presence", json={}, timeout=5).raise_for_status()
    page.evaluate(SHOW)
    expect(page.locator(ITEMS)).to_have_text(["3 người đang online"])

    context.clear_cookies()  # the tab is a new visitor again: the fourth within 10 s
    with page.expect_response(lambda r: _is_heartbeat(r.request)) as refused:
        page.evaluate(SHOW)
    assert refused.value.status == 429
    retry_after = int(refused.value.headers["retry-after"])
    assert 1 <= retry_after <= 10
    refused_at = time.monotonic()
    with page.expect_request(_is_heartbeat, timeout=(retry_after + 10) * 1000):
        pass  # the next heartbeat: not before Retry-After
    assert time.monotonic() - refused_at >= retry_after - 0.5
    expect(page.locator(ITEMS)).to_have_text(["4 người đang online"], timeout=15_000)
    # The refused heartbeat never blanked the count: 3 stayed until the retry's answer.
    assert page.evaluate("window.__shown") == [
        "1 người đang online",
        "3 người đang online",
        "4 người đang online",
    ]


def test_a_refused_origin_stops_the_heartbeats_and_shows_a_dash(
    chromium: Any, portal_factory: Any, problems: Problems
) -> None:
    portal = portal_factory(env={"PORTAL_PRESENCE_TTL": "2"})  # a heartbeat about every second
    url = portal.page("article.html", render_page())
    context = chromium.new_context()
    # The service's 403 is made up here: a browser reads one only when the page and the API
    # share an origin the service does not take for its own (a proxy that rewrites Host), and
    # Chromium does not let a test change a request's Origin. A cross-site page that is not
    # allowed cannot read the answer at all (CORS): the widget sees a network failure.
    forbidden = {"error": {"code": "forbidden_origin", "message": "origin not allowed"}}
    context.route(
        "**/api/presence",
        lambda route: route.fulfill(
            status=403, content_type="application/json", body=json.dumps(forbidden)
        ),
    )
    page = problems.watch(context.new_page())
    problems.allow("403")
    answers: list[int] = []
    page.on("response", lambda r: _is_heartbeat(r.request) and answers.append(r.status))
    page.goto(url)
    expect(page.locator(ITEMS)).to_have_text(["— người đang online", "— người đang xem bài này"])
    page.wait_for_timeout(2500)  # more than a ttl: a working counter would have beaten again
    page.evaluate(SHOW)  # not even when the page is shown again
    page.wait_for_timeout(300)
    assert answers == [403]
    # The poll, on the same service, still works.
    expect(page.locator(".portal-poll__status")).to_have_text("0 người đã bình chọn")
