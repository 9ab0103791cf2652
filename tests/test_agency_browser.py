"""In Chromium against a real `portal serve` of the demo site: axe on the Vietnamese and
English directory and introduction, the unit filter without JavaScript, and the
downloaded article opened with no network. Screenshots go to $PORTAL_SCREENSHOT_DIR."""

# The fixtures are imported from tests.widget_fixtures, so test arguments share their names.
# ruff: noqa: F811

from __future__ import annotations

from typing import Any

import pytest

from tests.test_build_features_browser import layout_shift
from tests.widget_fixtures import (  # noqa: F401 - fixtures
    Portal,
    axe_violations,
    portal_factory,
    problems,
    screenshot,
)

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}


@pytest.fixture
def portal(portal_factory: Any) -> Portal:
    result: Portal = portal_factory()
    return result


@pytest.mark.parametrize(
    "path",
    ["/gioi-thieu.html", "/danh-ba.html", "/en/", "/en/directory.html", "/co-cau-to-chuc.html"],
)
def test_axe_clean_in_both_languages(chromium: Any, portal: Portal, path: str) -> None:
    for name, options in (("desktop", DESKTOP), ("phone", PHONE)):
        page = chromium.new_context(**options).new_page()
        page.goto(portal.base + path, wait_until="networkidle")
        assert axe_violations(page, "html") == [], (path, name)
        slug = path.strip("/").replace("/", "-").removesuffix(".html") or "home"
        screenshot(page, "body", f"agency-{slug}-{name}")
        page.context.close()


def test_unit_filter_without_javascript(chromium: Any, portal: Portal) -> None:
    page = chromium.new_context(java_script_enabled=False, **DESKTOP).new_page()
    page.goto(portal.base + "/danh-ba.html")
    assert page.locator(".directory__unit:visible").count() == 8
    page.click("a[href='#phong-y-te']")
    assert page.locator(".directory__unit:visible").count() == 1
    assert page.locator("#phong-y-te caption").inner_text() == "Phòng Y tế"
    page.click("a[href='#danh-ba']")  # "Xem tất cả đơn vị"
    assert page.locator(".directory__unit:visible").count() == 8
    # An archive month, for the screenshots.
    page.goto(portal.base + "/luu-tru/2023/06/")
    screenshot(page, "body", "agency-archive-2023-06-desktop")
    phone = chromium.new_context(java_script_enabled=False, **PHONE).new_page()
    phone.goto(portal.base + "/luu-tru/2023/06/")
    assert phone.locator(".archive-list li").count() == 3
    screenshot(phone, "body", "agency-archive-2023-06-phone")


def test_download_opens_offline_without_scripts(
    chromium: Any, portal: Portal, tmp_path: Any
) -> None:
    page = chromium.new_context(**DESKTOP).new_page()
    page.goto(portal.base + "/")
    href = page.locator(".card__title a").first.get_attribute("href")
    page.goto(portal.base + str(href))
    with page.expect_download() as info:
        page.click(".article__download a")
    assert info.value.suggested_filename == str(href).rsplit("/", 1)[1]
    # The file as built (`portal serve` adds its live-reload script to every page it serves).
    saved = tmp_path / "bai.html"
    saved.write_bytes((portal.out / str(href).replace("/bai-viet/", "tai-ve/", 1)).read_bytes())
    offline = chromium.new_context(offline=True, java_script_enabled=True).new_page()
    requests: list[str] = []
    offline.on("request", lambda r: requests.append(r.url))
    offline.goto(saved.as_uri())
    assert offline.locator("h1").inner_text()
    assert offline.locator("script").count() == 0
    assert requests == [saved.as_uri()]  # nothing else fetched
    color = offline.locator("h1").evaluate("e => getComputedStyle(e).color")
    assert color == "rgb(143, 26, 26)"  # its own <style> applies


@pytest.mark.parametrize("path", ["/danh-ba.html", "/en/directory.html", "/luu-tru/2023/06/"])
def test_no_layout_shift_on_a_phone(chromium: Any, portal: Portal, path: str) -> None:
    shift, shifts, page = layout_shift(chromium, portal.base + path)
    assert shift <= 0.01, (path, shifts)
    page.context.close()
