"""In Chromium: the text-size control and the diacritics-insensitive search work, and the
pages pass axe-core's WCAG 2 AA checks (contrast included)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portal.builder import build_site

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
AXE = REPO / "node_modules/axe-core/axe.min.js"
ARTICLE = "/bai-viet/ron-rang-le-hoi-dua-thuyen-truyen-thong-tren-song-may.html"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium")


def _handler(root: Path, widgets: Path) -> type[http.server.SimpleHTTPRequestHandler]:
    class Handler(http.server.SimpleHTTPRequestHandler):
        def translate_path(self, path: str) -> str:
            path = path.split("?", 1)[0].split("#", 1)[0]
            if path.startswith("/widgets/"):
                return str(widgets / path.removeprefix("/widgets/"))
            rel = path.lstrip("/")
            if rel == "" or rel.endswith("/"):
                rel += "index.html"
            return str(root / rel)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the browser dropping a connection (navigation, page close) is no error here


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from server.assets import widgets_dir

    root = tmp_path_factory.mktemp("browser")
    build_site(REPO / "site", root / "dist", cache_dir=root / "cache")
    server = _QuietServer(("127.0.0.1", 0), _handler(root / "dist", widgets_dir()))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.errors = errors
    yield pg
    context.close()


def font_size(page: Any) -> float:
    return float(page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)"))


def test_text_size_control(page: Any, base_url: str) -> None:
    page.goto(base_url + ARTICLE)
    control = page.locator("[data-text-size-control]")
    assert control.is_visible()
    output = control.locator("output")
    assert output.text_content() == "100%"
    assert font_size(page) == 16
    larger = control.get_by_role("button", name="Tăng cỡ chữ")
    smaller = control.get_by_role("button", name="Giảm cỡ chữ")
    assert smaller.is_disabled()
    for expected in (125, 150, 175, 200):
        larger.click()
        assert output.text_content() == f"{expected}%"
        assert font_size(page) == 16 * expected / 100
    assert larger.is_disabled()  # 200 % is the maximum
    title_px = page.evaluate("parseFloat(getComputedStyle(document.querySelector('h1')).fontSize)")
    assert title_px >= 2 * 28  # headings scale too (rem based)
    # At 200 % nothing needs horizontal scrolling (WCAG 1.4.4 / 1.4.10).
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    # Remembered on the next page, applied before paint by the <head> script.
    page.goto(base_url + "/")
    assert font_size(page) == 32
    assert page.locator("[data-text-size-control] output").text_content() == "200%"
    page.get_by_role("button", name="Cỡ chữ mặc định").click()
    assert font_size(page) == 16
    page.reload()
    assert font_size(page) == 16
    smaller = page.get_by_role("button", name="Giảm cỡ chữ")
    assert smaller.is_disabled()
    assert not page.errors


def test_search_ignores_diacritics(page: Any, base_url: str) -> None:
    page.goto(base_url + "/tim-kiem.html?q=tin%20moi")
    results = page.locator("#search-results li")
    results.first.wait_for()
    titles = results.locator("a").all_text_contents()
    assert "Đẩy mạnh chuyển đổi số: 100% xã, thị trấn tiếp nhận hồ sơ trực tuyến" in titles
    assert "Tìm thấy" in (page.locator("#search-status").text_content() or "")

    box = page.locator("#q")
    assert box.input_value() == "tin moi"
    box.fill("dua thuyen")
    page.wait_for_function(
        "document.querySelector('#search-results a') && "
        "document.querySelector('#search-results a').textContent.includes('đua thuyền')"
    )
    assert "q=dua+thuyen" in page.url
    box.fill("ĐƯỜNG LIÊN XÃ")
    page.wait_for_function(
        "[...document.querySelectorAll('#search-results a')]"
        ".some(a => a.textContent.includes('đường liên xã'))"
    )
    box.fill("khongcobaivietnaoday")
    page.wait_for_function(
        "document.querySelector('#search-status').textContent.startsWith('Không tìm thấy')"
    )
    assert results.count() == 0

    # The header form on any page leads to the search page.
    page.goto(base_url + ARTICLE)
    page.fill("#q-top", "cau ben may")
    page.press("#q-top", "Enter")
    page.wait_for_url("**/tim-kiem.html?q=cau+ben+may")
    page.locator("#search-results li").first.wait_for()
    first = page.locator("#search-results a").first.text_content() or ""
    assert "cầu Bến Mây" in first
    page.locator("#search-results a").first.click()
    page.wait_for_url("**/bai-viet/khanh-thanh-cau-ben-may-noi-doi-bo-song-may.html")
    assert not page.errors


def test_english_pages_search_in_english(page: Any, base_url: str) -> None:
    """The header form of an English page leads to the English search page: the same index,
    English words, and a switch to its Vietnamese twin."""
    page.goto(base_url + "/en/")
    page.fill("#q-top", "organisation")
    page.press("#q-top", "Enter")
    page.wait_for_url("**/en/search.html?q=organisation")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("label[for=q]").text_content() == "Keywords (Vietnamese accents optional)"
    page.locator("#search-results li").first.wait_for()
    status = page.locator("#search-status").text_content() or ""
    assert status.startswith("Found ") and "“organisation”" in status
    assert "/en/organisation.html" in page.locator("#search-results a").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
    )
    page.locator("#q").fill("khongcobaivietnaoday")
    page.wait_for_function(
        "document.querySelector('#search-status').textContent == "
        "'No results for “khongcobaivietnaoday”.'"
    )
    page.get_by_role("link", name="Tiếng Việt").click()
    page.wait_for_url("**/tim-kiem.html")
    assert page.locator("#search-status").text_content() == "Nhập từ khóa để tìm bài viết."
    assert not page.errors


def test_skip_link_moves_focus_to_main(page: Any, base_url: str) -> None:
    page.goto(base_url + "/")
    page.keyboard.press("Tab")
    skip = page.locator(".skip-link")
    assert skip.evaluate("el => el === document.activeElement")
    assert skip.is_visible()  # shown when focused
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#noi-dung"


@pytest.mark.skipif(not AXE.exists(), reason="axe-core not installed (npm install axe-core)")
@pytest.mark.parametrize(
    "path",
    ["/", ARTICLE, "/chuyen-muc/thong-bao/", "/tim-kiem.html?q=cau", "/en/search.html?q=cau"],
)
def test_axe_wcag_aa(page: Any, base_url: str, path: str) -> None:
    page.goto(base_url + path)
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async () => {
            const r = await axe.run(
                {exclude: [[".portal-poll"], [".portal-presence"]]},
                {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
            );
            return r.violations.map(
                v => v.id + ": " + v.nodes.map(n => n.target.join(" ")).join(", ")
            );
        }"""
    )
    assert result == []
