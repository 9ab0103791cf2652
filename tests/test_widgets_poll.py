"""The poll widget in real Chromium against a real `portal serve` on real Redis."""

# The fixtures are imported from tests.widget_fixtures, so test arguments share their names.
# ruff: noqa: F811

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import SITE_DIR
from tests.widget_fixtures import (  # noqa: F401 - fixtures
    POLL_ID,
    Problems,
    portal_factory,
    problems,
    render_page,
    screenshot,
    site_polls,
)

POLL = "[data-portal-poll]"
STATUS = ".portal-poll__status"
RESULTS = ".portal-poll__results"
MINE = ".portal-poll__result--mine"
SIDEBAR = {"width": 400, "height": 800}  # the widgets usually sit in a narrow column
OPENS_LATER = "opens = 2099-01-01T08:00:00+07:00"  # site.toml times, with their offset
CLOSED_BEFORE = "closes = 2020-01-01T08:00:00+07:00"


def _main_frame_navigations(page: Any) -> list[str]:
    seen: list[str] = []
    page.on("framenavigated", lambda frame: frame == page.main_frame and seen.append(frame.url))
    return seen


def test_vote_with_javascript_shows_results_in_place_and_after_reload(
    chromium: Any, portal_factory: Any, problems: Problems
) -> None:
    portal = portal_factory()
    url = portal.page("article.html", render_page())
    page = problems.watch(chromium.new_context(viewport=SIDEBAR).new_page())
    navigations = _main_frame_navigations(page)
    page.goto(url)
    expect(page.locator(STATUS)).to_have_text("0 người đã bình chọn")
    screenshot(page, POLL, "poll-vi-before")

    page.get_by_label("Tốt", exact=True).check()
    page.get_by_role("button", name="Bình chọn").click()
    expect(page.locator(RESULTS)).to_be_visible()
    expect(page.locator(STATUS)).to_have_text("1 người đã bình chọn")
    expect(page.locator(MINE)).to_contain_text("Tốt")
    expect(page.locator(MINE)).to_contain_text("Lựa chọn của bạn")
    expect(page.locator(f"{MINE} .portal-poll__pct")).to_have_text("100%")
    expect(page.locator(".portal-poll__pct")).to_have_text(["0%", "100%", "0%", "0%"])
    expect(page.locator(f"{POLL} form")).to_have_count(0)
    assert navigations == [url], "voting must not navigate"
    screenshot(page, POLL, "poll-vi-after")

    tally = portal.tally()
    assert tally["total"] == 1
    assert {o["id"]: o["votes"] for o in tally["options"]}["tot"] == 1

    # A reload shows the results, not a ballot that would answer 409.
    page.reload()
    expect(page.locator(RESULTS)).to_be_visible()
    expect(page.locator(MINE)).to_contain_text("Tốt")
    expect(page.locator(f"{POLL} form")).to_have_count(0)


def test_second_visitor_sees_both_votes_and_percentages(
    chromium: Any, portal_factory: Any, problems: Problems
) -> None:
    portal = portal_factory()
    url = portal.page("article.html", render_page())
    for label in ("Rất tốt", "Bình thường"):
        page = problems.watch(chromium.new_context().new_page())
        page.goto(url)
        expect(page.locator(STATUS)).not_to_be_empty()
        page.get_by_label(label, exact=True).check()
        page.get_by_role("button", name="Bình chọn").click()
        expect(page.locator(MINE)).to_contain_text(label)
    expect(page.locator(STATUS)).to_have_text("2 người đã bình chọn")
    expect(page.locator(".portal-poll__pct")).to_have_text(["50%", "0%", "50%", "0%"])
    widths = page.locator(".portal-poll__fill").evaluate_all(
        "els => els.map(e => e.getBoundingClientRect().width / e.parentElement.clientWidth)"
    )
    assert [round(w, 2) for w in widths] == [0.5, 0.0, 0.5, 0.0] or widths[1] < 0.02, widths


def test_vote_without_javascript_goes_through_the_form(
    chromium: Any, portal_factory: Any, problems: Problems
) -> None:
    portal = portal_factory()
    url = portal.page("article.html", render_page())
    context = chromium.new_context(java_script_enabled=False)
    page = problems.watch(context.new_page())
    page.goto(url)
    page.get_by_label("Rất tốt", exact=True).check()
    with page.expect_navigation():
        page.get_by_role("button", name="Bình chọn").click()
    assert page.url == url, "the API answers 303 back to the page"
    tally = portal.tally()
    assert tally["total"] == 1
    assert {o["id"]: o["votes"] for o in tally["options"]}["rat-tot"] == 1

    # The same visitor (same cookie) with JavaScript on sees its vote counted and marked.
    js_page = problems.watch(chromium.new_context(storage_state=context.storage_state()).new_page())
    js_page.goto(url)
    expect(js_page.locator(MINE)).to_contain_text("Rất tốt")
    expect(js_page.locator(STATUS)).to_have_text("1 người đã bình chọn")


def test_already_voted_elsewhere_shows_results_not_an_error(
    chromium: Any, portal_factory: Any, problems: Problems
) -> None:
    portal = portal_factory()
    url = portal.page("article.html", render_page())
    context = chromium.new_context()
    stale = problems.watch(context.new_page())
    stale.goto(url)  # a ballot, open in one tab
    expect(stale.locator(STATUS)).to_have_text("0 người đã bình chọn")
    fresh = problems.watch(context.new_page())
    fresh.goto(url)
    fresh.get_by_label("Chưa tốt", exact=True).check()
    fresh.get_by_role("button", name="Bình chọn").click()
    expect(fresh.locator(MINE)).to_contain_text("Chưa tốt")

    problems.allow("409")  # Chromium logs the 409 answer to the console
    stale.get_by_label("Rất tốt", exact=True).check()
    stale.get_by_role("button", name="Bình chọn").click()
    expect(stale.locator(MINE)).to_contain_text("Chưa tốt")  # the first choice counts
    expect(stale.locator(STATUS)).to_have_text("1 người đã bình chọn")


def test_english_poll(chromium: Any, portal_factory: Any, problems: Problems) -> None:
    """An English page: the ballot the builder renders in English (`question_en`,
    `label_en`), and the results the widget builds from the API's English answer."""
    portal = portal_factory()
    raw = site_polls()[POLL_ID]
    english = {
        **raw,
        "question": raw["question_en"],
        "options": [{**o, "label": o["label_en"]} for o in raw["options"]],
    }
    url = portal.page("article-en.html", render_page(lang="en", poll=english))
    page = problems.watch(chromium.new_context(viewport=SIDEBAR).new_page())
    page.goto(url)
    expect(page.locator(STATUS)).to_have_text("0 people have voted")
    screenshot(page, POLL, "poll-en-before")
    page.get_by_label("Average", exact=True).check()
    page.get_by_role("button", name="Vote").click()
    expect(page.locator(STATUS)).to_have_text("1 person has voted")
    expect(page.locator(MINE)).to_contain_text("Your choice")
    results = page.locator(RESULTS)
    expect(results.locator(".portal-poll__question")).to_have_text(raw["question_en"])
    expect(results.locator(".portal-poll__label")).to_have_text(
        ["Very good", "Good", "Average ✓ Your choice", "Not good yet"]
    )
    screenshot(page, POLL, "poll-en-after")
    # The same poll on a Vietnamese page, whatever the browser prefers: one tally.
    vietnamese = chromium.new_context(viewport=SIDEBAR, locale="en-US").new_page()
    vietnamese.goto(portal.page("article-vi.html", render_page(lang="vi")))
    expect(vietnamese.locator(STATUS)).to_have_text("1 người đã bình chọn")
    vietnamese.get_by_label("Tốt", exact=True).check()
    vietnamese.get_by_role("button", name="Bình chọn").click()
    expect(vietnamese.locator(STATUS)).to_have_text("2 người đã bình chọn")
    expect(vietnamese.locator(f"{RESULTS} .portal-poll__label").first).to_have_text("Rất tốt")


def test_a_closed_poll_shows_results_only(
    chromium: Any, portal_factory: Any, problems: Problems, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    shutil.copytree(SITE_DIR, site)
    toml = site / "site.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("open = true", "open = false"))
    portal = portal_factory(site_dir=site)
    poll = site_polls(site)[POLL_ID]
    assert poll["open"] is False
    url = portal.page("closed.html", render_page(poll=poll))
    page = problems.watch(chromium.new_context().new_page())
    page.goto(url)
    expect(page.locator(RESULTS)).to_be_visible()
    expect(page.locator(".portal-poll__closed")).to_have_text("Cuộc bình chọn đã kết thúc.")
    expect(page.locator(f"{POLL} input")).to_have_count(0)
    expect(page.locator(STATUS)).to_have_text("0 người đã bình chọn")


@pytest.mark.parametrize(
    ("schedule", "lang", "note"),
    [
        pytest.param(OPENS_LATER, "vi", "Cuộc bình chọn chưa bắt đầu.", id="upcoming-vi"),
        pytest.param(OPENS_LATER, "en", "This poll is not open yet.", id="upcoming-en"),
        pytest.param(CLOSED_BEFORE, "vi", "Cuộc bình chọn đã kết thúc.", id="closed-vi"),
        pytest.param(CLOSED_BEFORE, "en", "This poll is closed.", id="closed-en"),
    ],
)
def test_a_scheduled_poll_says_whether_it_opens_later_or_has_closed(
    chromium: Any,
    portal_factory: Any,
    problems: Problems,
    tmp_path: Path,
    schedule: str,
    lang: str,
    note: str,
) -> None:
    site = tmp_path / "site"
    shutil.copytree(SITE_DIR, site)
    toml = site / "site.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("open = true", schedule))
    portal = portal_factory(site_dir=site)
    # The page may carry an open ballot (built before the schedule moved); the API's `open`
    # follows the clock, and the widget shows the results with the schedule's state.
    url = portal.page("scheduled.html", render_page(lang=lang, poll=site_polls(site)[POLL_ID]))
    page = problems.watch(chromium.new_context().new_page())
    page.goto(url)
    expect(page.locator(RESULTS)).to_be_visible()
    expect(page.locator(".portal-poll__closed")).to_have_text(note)
    expect(page.locator(f"{POLL} input")).to_have_count(0)


def test_keyboard_only_voting_with_visible_focus(
    chromium: Any, portal_factory: Any, problems: Problems
) -> None:
    portal = portal_factory()
    url = portal.page("article.html", render_page())
    page = problems.watch(chromium.new_context().new_page())
    page.goto(url)
    expect(page.locator(STATUS)).to_have_text("0 người đã bình chọn")
    outline = "() => getComputedStyle(document.activeElement).outlineStyle"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.value") == "rat-tot"
    assert page.evaluate(outline) != "none"
    page.keyboard.press("ArrowDown")  # moves to and checks the next radio
    assert page.evaluate("document.activeElement.value") == "tot"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "portal-poll__submit"
    assert page.evaluate(outline) != "none"
    page.keyboard.press("Enter")
    expect(page.locator(MINE)).to_contain_text("Tốt")
    # Focus follows the ballot into the results, so keyboard users are not dropped at the top.
    assert page.evaluate("document.activeElement.className") == "portal-poll__results"
    assert page.evaluate(outline) != "none"


def test_no_layout_shift_when_the_widgets_fill_in(
    chromium: Any, portal_factory: Any, problems: Problems
) -> None:
    portal = portal_factory()
    url = portal.page("article.html", render_page())
    context = chromium.new_context()
    context.add_init_script(
        """window.__shift = 0;
        new PerformanceObserver(list => list.getEntries().forEach(e => {
            if (!e.hadRecentInput) window.__shift += e.value;
        })).observe({type: "layout-shift", buffered: true});"""
    )
    page = problems.watch(context.new_page())
    page.goto(url)
    expect(page.locator(STATUS)).to_have_text("0 người đã bình chọn")
    expect(page.locator(".portal-presence__item").first).to_be_visible()
    page.wait_for_timeout(300)
    assert page.evaluate("window.__shift") < 0.01
    page.get_by_label("Tốt", exact=True).check()
    page.get_by_role("button", name="Bình chọn").click()
    expect(page.locator(RESULTS)).to_be_visible()
    # A reload swaps the server-rendered ballot for the results: that must not move the page.
    page.reload()
    expect(page.locator(RESULTS)).to_be_visible()
    page.wait_for_timeout(300)
    assert page.evaluate("window.__shift") < 0.01
