"""Tabs of one session (one browser context) in real Chromium against a real `portal serve`.

Closing a tab never takes the session off the site, nor off a page another tab still shows;
closing the last tab takes it off at once. A long TTL everywhere: a count can only drop this
fast because a leave beacon arrived.
"""

# The fixtures are imported from tests.widget_fixtures, so test arguments share their names.
# ruff: noqa: F811

from __future__ import annotations

import json
import time
from typing import Any

from playwright.sync_api import expect

from tests.widget_fixtures import (  # noqa: F401 - fixtures
    ARTICLE,
    Portal,
    Problems,
    portal_factory,
    problems,
    render_page,
)

ITEMS = ".portal-presence__item"
OTHER = "/widget-test/other.html"
BOTH_LINES = ["1 người đang online", "1 người đang xem bài này"]
TAB_STAMPS = "Object.keys(localStorage).filter(key => key.startsWith('portal_tab@'))"


def _wait_for(portal: Portal, page: str, online: int, page_online: int) -> None:
    deadline = time.monotonic() + 5
    while True:
        counts = portal.presence(page)
        if (counts["online"], counts["page_online"]) == (online, page_online):
            return
        assert time.monotonic() < deadline, (page, counts)
        time.sleep(0.1)


def _open(context: Any, problems: Problems, url: str, lines: list[str]) -> Any:
    tab = problems.watch(context.new_page())
    tab.goto(url)
    expect(tab.locator(ITEMS)).to_have_text(lines)
    return tab


def test_closing_a_tab_keeps_the_session_where_other_tabs_are(
    chromium: Any, portal_factory: Any, problems: Problems
) -> None:
    portal = portal_factory(env={"PORTAL_PRESENCE_TTL": "60"})
    article = portal.page("article.html", render_page())
    other = portal.page("other.html", render_page(page=OTHER))
    context = chromium.new_context()  # one context: one cookie, one session, many tabs
    on_other = _open(context, problems, other, BOTH_LINES)
    also_on_other = _open(context, problems, other, BOTH_LINES)
    on_article = _open(context, problems, article, BOTH_LINES)
    _wait_for(portal, OTHER, online=1, page_online=1)
    assert len(on_other.evaluate(TAB_STAMPS)) == 3, "each tab stamps its liveness"

    # Another tab shows the same page: closing this one sends no leave at all.
    also_on_other.close(run_before_unload=True)
    # Other tabs are live, none on the article: the session leaves the article only.
    on_article.close(run_before_unload=True)
    _wait_for(portal, ARTICLE, online=1, page_online=0)
    # Beacons of one browser go out in order: had the first close sent a leave, it is in by now.
    _wait_for(portal, OTHER, online=1, page_online=1)
    assert len(on_other.evaluate(TAB_STAMPS)) == 1, "closed tabs take their stamps away"

    # The last tab: the session leaves the site and every page, at once.
    on_other.close(run_before_unload=True)
    _wait_for(portal, OTHER, online=0, page_online=0)
    _wait_for(portal, ARTICLE, online=0, page_online=0)
    context.close()


def test_a_tab_whose_stamp_is_stale_does_not_hold_the_session(
    chromium: Any, portal_factory: Any, problems: Problems
) -> None:
    portal = portal_factory(env={"PORTAL_PRESENCE_TTL": "60"})
    article = portal.page("article.html", render_page())
    context = chromium.new_context()
    tab = _open(context, problems, article, BOTH_LINES)
    # A tab that crashed long ago (its stamp ran out) on the same page.
    tab.evaluate(
        """(page) => localStorage.setItem(
            "portal_tab@#crashed", JSON.stringify([Date.now() - 1000, page]))""",
        ARTICLE,
    )
    beacons: list[Any] = []
    context.on("request", lambda r: r.url.endswith("/api/presence/leave") and beacons.append(r))
    plain = portal.page(
        "plain.html", '<!doctype html><link rel="icon" href="data:,"><title>Không tiện ích</title>'
    )
    tab.goto(plain)  # pagehide: the only live tab leaves the site
    _wait_for(portal, ARTICLE, online=0, page_online=0)
    assert tab.evaluate(TAB_STAMPS) == [], "the stale stamp was dropped"
    if beacons:  # Chromium may not report requests of a document that is going away
        assert "page" not in json.loads(beacons[0].post_data or "{}")
    context.close()


def test_views_are_marked_on_the_first_heartbeat_of_a_load_and_a_bfcache_restore(
    chromium: Any, portal_factory: Any, problems: Problems
) -> None:
    # A long TTL: no timed heartbeat comes between the ones this test triggers.
    portal = portal_factory(env={"PORTAL_PRESENCE_TTL": "60"})
    url = portal.page("home.html", render_page(page=None))  # no data-portal-page: still a page
    tab = problems.watch(chromium.new_context().new_page())

    def heartbeat_after(script: str) -> dict[str, Any]:
        with tab.expect_request(lambda r: r.url.endswith("/api/presence")) as request:
            tab.evaluate(script)
        body: dict[str, Any] = json.loads(request.value.post_data or "{}")
        return body

    with tab.expect_request(lambda r: r.url.endswith("/api/presence")) as first:
        tab.goto(url)
    assert json.loads(first.value.post_data or "{}") == {
        "page": "/widget-test/home.html",
        "view": True,
    }
    expect(tab.locator(ITEMS)).to_have_text(["1 người đang online"])
    # A tab coming back into view is the same view.
    show = "document.dispatchEvent(new Event('visibilitychange'))"
    assert heartbeat_after(show) == {"page": "/widget-test/home.html", "view": False}
    # Back from the back/forward cache: a new view. (Playwright's Chromium runs without the
    # cache, so the event the browser fires on a restore is dispatched here.)
    restore = "dispatchEvent(new PageTransitionEvent('pageshow', {persisted: true}))"
    assert heartbeat_after(restore)["view"] is True
    assert heartbeat_after(show)["view"] is False
