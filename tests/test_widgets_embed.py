"""Cross-site embeds (a page on `localhost:B` using the API on `127.0.0.1:A`) and axe-core."""

# The fixtures are imported from tests.widget_fixtures, so test arguments share their names.
# ruff: noqa: F811

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.widget_fixtures import (  # noqa: F401 - fixtures
    OtherSite,
    Problems,
    axe_violations,
    other_site,
    portal_factory,
    problems,
    render_page,
)

ITEMS = ".portal-presence__item"
STATUS = ".portal-poll__status"
MINE = ".portal-poll__result--mine"


def test_cross_site_embed_votes_without_any_cookie(
    chromium: Any, portal_factory: Any, other_site: OtherSite, problems: Problems
) -> None:
    portal = portal_factory(
        env={"PORTAL_ALLOWED_ORIGINS": other_site.origin, "PORTAL_PRESENCE_TTL": "60"}
    )
    host = other_site.page(
        "embed.html",
        render_page(api=portal.base, assets=portal.base, csp_connect=portal.base, page="/embed"),
    )
    portal.add_to_page_list("/embed")  # the service counts readers of its listed pages only
    context = chromium.new_context()
    page = problems.watch(context.new_page())
    api_requests: list[Any] = []
    page.on("request", lambda r: r.url.startswith(f"{portal.base}/api/") and api_requests.append(r))
    page.goto(host)
    expect(page.locator(ITEMS)).to_have_text(["1 người đang online", "1 người đang xem bài này"])
    expect(page.locator(STATUS)).to_have_text("0 người đã bình chọn")
    page.get_by_label("Tốt", exact=True).check()
    page.get_by_role("button", name="Bình chọn").click()
    expect(page.locator(MINE)).to_contain_text("Tốt")
    assert portal.tally()["total"] == 1

    # The session rode in X-Portal-Session: no cookie was sent, and none was even stored, so
    # this works the same where third-party cookies are blocked.
    fetches = [r for r in api_requests if r.resource_type == "fetch"]
    headers = [r.all_headers() for r in fetches]
    assert all("cookie" not in h for h in headers), headers
    assert all("x-portal-session" in h for h in headers[1:]), headers
    assert len({h.get("x-portal-session") for h in headers[1:]}) == 1, "one session, not many"
    assert context.cookies(portal.base) == []
    stored = sorted(page.evaluate("Object.keys(localStorage)"))
    # The session, and this tab's liveness stamp (what the site's other tabs read on leaving).
    assert stored[0] == f"portal_session@{portal.base}", stored
    assert [key.split("#")[0] for key in stored[1:]] == [f"portal_tab@{portal.base}"], stored

    # A reload keeps the session (localStorage) and shows this visitor's results.
    page.reload()
    expect(page.locator(MINE)).to_contain_text("Tốt")
    expect(page.locator(".portal-poll__form")).to_have_count(0)

    # Leaving sends a text/plain beacon (no preflight) with the session in its body.
    beacon: list[Any] = []
    page.on("request", lambda r: r.url.endswith("/api/presence/leave") and beacon.append(r))
    page.goto("about:blank")
    deadline = time.monotonic() + 5
    while portal.presence("/embed")["online"] != 0:
        assert time.monotonic() < deadline, portal.presence("/embed")
        time.sleep(0.1)
    if beacon:  # Chromium may not report requests of a document that is going away
        body = json.loads(beacon[0].post_data or "{}")
        assert body["session"] == headers[-1]["x-portal-session"]


def test_cross_site_embed_from_an_origin_not_allowed_fails_quietly(
    chromium: Any, portal_factory: Any, other_site: OtherSite, problems: Problems
) -> None:
    portal = portal_factory()  # PORTAL_ALLOWED_ORIGINS unset: same origin only
    host = other_site.page(
        "embed.html", render_page(api=portal.base, assets=portal.base, csp_connect=portal.base)
    )
    page = problems.watch(chromium.new_context().new_page())
    problems.allow("CORS")
    problems.allow("Failed to load resource")
    page.goto(host)
    expect(page.locator(ITEMS).first).to_have_text("— người đang online")
    expect(page.locator(STATUS)).to_have_text("— người đã bình chọn")
    assert [p for p in problems.seen if "pageerror" in p] == []


def test_an_empty_mount_point_gets_a_ballot_built_by_the_script(
    chromium: Any, portal_factory: Any, other_site: OtherSite, problems: Problems
) -> None:
    """The embed snippet from the docs: bare mount points, the API named on the script tag."""
    portal = portal_factory(env={"PORTAL_ALLOWED_ORIGINS": other_site.origin})
    csp = (
        f"default-src 'none'; script-src {portal.base}; style-src {portal.base}; "
        f"connect-src {portal.base}"
    )
    host = other_site.page(
        "snippet.html",
        f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<title>Another site</title>
<link rel="stylesheet" href="{portal.base}/widgets/portal.css">
<script src="{portal.base}/widgets/portal.js" data-portal-api="{portal.base}" defer></script>
</head><body><main><h1>Another site</h1>
<div data-portal-presence></div>
<div data-portal-poll="portal-rating"></div>
</main></body></html>""",
    )
    page = problems.watch(chromium.new_context().new_page())
    page.goto(host)
    expect(page.locator(ITEMS)).to_have_text(["1 person online"])
    # An English page: the script asks the API for the poll's English texts.
    expect(
        page.get_by_role("group", name="How do you rate this electronic portal?")
    ).to_be_visible()
    page.get_by_label("Very good", exact=True).check()
    page.get_by_role("button", name="Vote").click()
    expect(page.locator(MINE)).to_contain_text("Very good")
    expect(page.locator(STATUS)).to_have_text("1 person has voted")
    assert axe_violations(page, "main") == []


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_axe_finds_no_serious_violation(
    lang: str, chromium: Any, portal_factory: Any, problems: Problems
) -> None:
    portal = portal_factory()
    url = portal.page(f"article-{lang}.html", render_page(lang=lang))
    page = problems.watch(chromium.new_context().new_page())
    page.goto(url)
    expect(page.locator(STATUS)).not_to_be_empty()
    expect(page.locator(ITEMS).first).not_to_be_empty()
    assert axe_violations(page, "main") == []  # the ballot
    page.locator(".portal-poll__option input").first.check()
    page.locator(".portal-poll__submit").click()
    expect(page.locator(MINE)).to_be_visible()
    assert axe_violations(page, "main") == []  # the results
