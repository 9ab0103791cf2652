"""In Chromium against a real `portal serve`: tag pages and related articles, responsive
images, no layout shift on a phone, the print and share buttons, and axe on an article and
a tag page.

The site is the demo site plus photos (tests/test_build_images.py makes them)."""

# The fixtures are imported from tests.widget_fixtures, so test arguments share their names.
# ruff: noqa: F811

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.test_build_images import ARTICLE, photo_site
from tests.widget_fixtures import (  # noqa: F401 - fixtures
    Portal,
    Problems,
    axe_violations,
    portal_factory,
    problems,
)

PHOTO_ARTICLE = "/" + ARTICLE
TAG_PAGE = "/the/le-hoi/"
CANONICAL = "https://songmay.example.gov.vn" + PHOTO_ARTICLE
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
    "locale": "vi-VN",
}

# Sums the layout shifts of the page (as Lighthouse's CLS does for a page load: every
# shift not caused by the reader's input), from before the first script runs.
CLS_OBSERVER = """
window.__layoutShift = 0;
window.__shifts = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if (entry.hadRecentInput) continue;
    window.__layoutShift += entry.value;
    window.__shifts.push(entry.sources.map(s => s.node ? s.node.nodeName + "." +
      s.node.className : "?").join(", ") + " " + entry.value.toFixed(4));
  }
}).observe({type: "layout-shift", buffered: true});
"""


@pytest.fixture
def portal(portal_factory: Any, tmp_path_factory: pytest.TempPathFactory) -> Portal:
    site = photo_site(tmp_path_factory.mktemp("photo-site"))
    result: Portal = portal_factory(site_dir=site)
    return result


def _slow(delay: float) -> Any:
    """A route handler that answers late, like a phone's network: the page paints before
    scripts, API answers and images arrive, so whatever they add would move the page."""

    def handle(route: Any) -> None:
        time.sleep(delay)
        route.continue_()

    return handle


def layout_shift(chromium: Any, url: str) -> tuple[float, list[str], Any]:
    context = chromium.new_context(**PHONE)
    page = context.new_page()
    page.add_init_script(CLS_OBSERVER)
    page.route(re.compile(r"\.js(\?|$)|/api/"), _slow(0.5))
    page.route(re.compile(r"\.(jpg|png|webp|svg)(\?|$)"), _slow(0.1))
    page.goto(url, wait_until="networkidle")
    page.wait_for_timeout(300)  # let anything the last answers start settle
    return page.evaluate("window.__layoutShift"), page.evaluate("window.__shifts"), page


def test_no_layout_shift_on_a_phone(chromium: Any, portal: Portal) -> None:
    for path in ("/", PHOTO_ARTICLE, TAG_PAGE):
        shift, shifts, page = layout_shift(chromium, portal.base + path)
        assert shift <= 0.01, (path, shifts)
        # What scripts add is there: the text-size control and the widgets.
        expect(page.locator("[data-text-size-control]")).to_be_visible()
        expect(page.locator(".portal-presence__item").first).to_be_visible()
        if path == PHOTO_ARTICLE:
            expect(page.get_by_role("button", name="In bài viết")).to_be_visible()
        # The observer does see shifts: content pushed in above the layout counts.
        page.evaluate(
            "document.querySelector('.masthead').insertAdjacentHTML("
            "'beforeend', '<p style=\"height:120px;margin:0\">x</p>')"
        )
        page.wait_for_timeout(200)
        assert page.evaluate("window.__layoutShift") > shift + 0.01
        page.context.close()


def test_tag_pages_related_articles_and_images(chromium: Any, portal: Portal) -> None:
    page = chromium.new_context(**PHONE).new_page()
    page.goto(portal.base + "/bai-viet/ron-rang-le-hoi-dua-thuyen-truyen-thong-tren-song-may.html")
    page.get_by_role("list", name="Từ khóa").get_by_role("link", name="lễ hội").click()
    page.wait_for_url("**/the/le-hoi/")
    expect(page.locator("h1")).to_have_text("lễ hội")
    expect(page.get_by_role("link", name="Rộn ràng lễ hội đua thuyền", exact=False)).to_be_visible()
    assert page.locator('link[rel="alternate"][href="/the/le-hoi/atom.xml"]').count() == 1

    page.goto(portal.base + PHOTO_ARTICLE)
    related = page.locator(".related__list a")
    assert 1 <= related.count() <= 5
    first = related.first.get_attribute("href")
    related.first.click()
    page.wait_for_url("**" + (first or "?"))

    # Images: the browser picks a WebP variant of the right size, and the box it reserved
    # (from width and height) is the image's shape.
    page.goto(portal.base + PHOTO_ARTICLE)
    images = page.locator(".article img")
    assert images.count() == 4
    for i in range(images.count()):
        img = images.nth(i)
        img.scroll_into_view_if_needed()
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=img.element_handle()
        )
        facts = img.evaluate(
            """img => ({src: img.currentSrc, w: img.width, h: img.height,
                attrW: +img.getAttribute('width'), attrH: +img.getAttribute('height')})"""
        )
        assert (
            facts["w"] > 0 and abs(facts["w"] / facts["h"] - facts["attrW"] / facts["attrH"]) < 0.02
        )
        if not facts["src"].endswith(".svg"):
            assert re.search(
                r"/static/_anh/img/anh/[a-z-]+-\d+w\.[0-9a-f]{10}\.webp$", facts["src"]
            )
    lead = page.locator(".figure--lead img").evaluate("img => img.currentSrc")
    # A 3x phone, 310 CSS px of column (sizes): the 960 px variant, not the 2,000 px file.
    assert re.search(r"/cho-phien-960w\.[0-9a-f]{10}\.webp$", lead), lead


def test_print_and_share(chromium: Any, portal: Portal, problems: Problems) -> None:
    context = chromium.new_context(**PHONE)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=portal.base)
    # The browser's own share sheet and print dialog can't be driven headless: record calls.
    context.add_init_script(
        "window.__printed = 0; window.print = () => { window.__printed += 1; };"
        "window.__shared = null;"
        "navigator.share = (data) => { window.__shared = data; return Promise.resolve(); };"
    )
    page = problems.watch(context.new_page())
    page.goto(portal.base + PHOTO_ARTICLE)
    tools = page.get_by_role("group", name="In và chia sẻ bài viết")

    tools.get_by_role("button", name="In bài viết").click()
    assert page.evaluate("window.__printed") == 1
    tools.get_by_role("button", name="Chia sẻ").click()
    assert page.evaluate("window.__shared") == {"title": "Ảnh mới của Sông Mây", "url": CANONICAL}
    tools.get_by_role("button", name="Sao chép liên kết").click()
    expect(tools.get_by_role("status")).to_have_text("Đã sao chép liên kết.")
    assert page.evaluate("navigator.clipboard.readText()") == CANONICAL

    facebook = tools.get_by_role("link", name="Facebook (chia sẻ bài viết)")
    assert facebook.get_attribute("href") == (
        "https://www.facebook.com/sharer/sharer.php?u=https%3A//songmay.example.gov.vn"
        + PHOTO_ARTICLE
    )
    mail = tools.get_by_role("link", name="E-mail (gửi bài viết)").get_attribute("href") or ""
    assert mail.startswith("mailto:?subject=%E1%BA%A2nh%20m%E1%BB%9Bi")
    assert mail.endswith("&body=https%3A//songmay.example.gov.vn" + PHOTO_ARTICLE)

    # Nothing is loaded from another origin.
    origins = page.evaluate(
        "[...new Set(performance.getEntriesByType('resource').map(e => new URL(e.name).origin))]"
    )
    assert origins == [portal.base]

    # Printed: the buttons and the related list are not on paper.
    page.emulate_media(media="print")
    expect(tools).to_be_hidden()
    expect(page.locator(".related")).to_be_hidden()
    expect(page.locator(".article__title")).to_be_visible()


def test_without_javascript_only_links_show(chromium: Any, portal: Portal) -> None:
    page = chromium.new_context(java_script_enabled=False, **PHONE).new_page()
    page.goto(portal.base + PHOTO_ARTICLE)
    tools = page.get_by_role("group", name="In và chia sẻ bài viết")
    for name in ("In bài viết", "Chia sẻ", "Sao chép liên kết"):
        expect(tools.get_by_role("button", name=name)).to_be_hidden()
    expect(tools.get_by_role("link", name="Facebook (chia sẻ bài viết)")).to_be_visible()
    expect(tools.get_by_role("link", name="E-mail (gửi bài viết)")).to_be_visible()
    expect(page.locator("[data-text-size-control]")).to_be_hidden()
    # Headless Chromium has no share sheet: without one, "Chia sẻ" is hidden with JS too.
    page = chromium.new_context(**PHONE).new_page()
    page.goto(portal.base + PHOTO_ARTICLE)
    if page.evaluate("typeof navigator.share !== 'function'"):
        expect(page.get_by_role("button", name="Chia sẻ")).to_be_hidden()
    expect(page.get_by_role("button", name="Sao chép liên kết")).to_be_visible()


@pytest.mark.parametrize("path", [PHOTO_ARTICLE, TAG_PAGE])
def test_axe_article_and_tag_page(
    chromium: Any, portal: Portal, problems: Problems, path: str
) -> None:
    page = problems.watch(chromium.new_context(**PHONE).new_page())
    page.goto(portal.base + path)
    expect(page.locator(".portal-presence__item").first).to_be_visible()
    assert axe_violations(page, "body") == []
