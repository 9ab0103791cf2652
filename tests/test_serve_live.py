"""The editor's loop under a real `portal serve`, in Chromium: live reload, the problem
overlay, a service that survives bad builds, drafts and scheduled publication."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import SITE_DIR

ARTICLE = "content/tin-tuc/tiep-xuc-cu-tri.md"
ARTICLE_URL = "/bai-viet/dai-bieu-hdnd-tinh-tiep-xuc-cu-tri-huyen-song-may-truoc-ky-hop-thu-14.html"
ARTICLE_TITLE = "Đại biểu HĐND tỉnh tiếp xúc cử tri huyện Sông Mây trước kỳ họp thứ 14"
BROKEN = "---\ntitle:\ndate: 2024-05-01T08:00:00+07:00\ncategory: tin-tuc\n---\nBài hỏng.\n"
UNKNOWN_CATEGORY = (
    '---\ntitle: "Bài sai chuyên mục"\ndate: 2024-05-01T08:00:00+07:00\ncategory: khong-co\n'
    "---\nNội dung.\n"
)
OTHER = "content/tin-tuc/sai-chuyen-muc.md"
WAIT_MS = 30_000  # generous: the machine may be busy; nothing here is a timing assertion


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A copy of the demo site the test may edit."""
    copy = tmp_path / "site"
    shutil.copytree(SITE_DIR, copy, ignore=shutil.ignore_patterns(".portal-cache"))
    return copy


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    """A fresh page that records Content-Security-Policy violations in `page.csp`."""
    context = chromium.new_context()
    tab = context.new_page()
    tab.csp = []
    tab.on(
        "console",
        lambda m: tab.csp.append(m.text) if "Content Security Policy" in m.text else None,
    )
    yield tab
    context.close()


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def navigation_type(page: Any) -> str:
    return str(page.evaluate("performance.getEntriesByType('navigation')[0].type"))


def test_an_edit_shows_without_a_manual_reload(
    start_portal: Callable[..., str], site: Path, page: Any, tmp_path: Path
) -> None:
    dist = tmp_path / "dist"
    base = start_portal(site_dir=site, watch=True, extra_args=["--out", str(dist)])
    page.goto(base + ARTICLE_URL)
    assert page.locator('script[src^="/_portal/live.js?v="][data-build]').count() == 1
    assert navigation_type(page) == "navigate"

    append(site / ARTICLE, "\nĐoạn mới thêm khi đang xem trang.\n")
    page.get_by_text("Đoạn mới thêm khi đang xem trang.").wait_for(timeout=WAIT_MS)
    assert navigation_type(page) == "reload"  # the script reloaded it, nobody else did
    assert page.csp == []
    # What `portal serve` adds is never in the built files themselves.
    built = (dist / ARTICLE_URL.lstrip("/")).read_text(encoding="utf-8")
    assert "Đoạn mới thêm khi đang xem trang." in built and "/_portal/" not in built


def test_a_broken_file_shows_the_overlay_and_the_fix_clears_it(
    start_portal: Callable[..., str], site: Path, page: Any, tmp_path: Path
) -> None:
    log = tmp_path / "serve.log"
    base = start_portal(site_dir=site, watch=True, log_path=log)
    page.goto(base + ARTICLE_URL)
    good = (site / ARTICLE).read_text(encoding="utf-8")

    # Two files broken in one save (a build may well see them both at once, or not).
    (site / OTHER).write_text(UNKNOWN_CATEGORY, encoding="utf-8")
    (site / ARTICLE).write_text(BROKEN, encoding="utf-8")
    overlay = page.locator("#portal-build-problems")
    overlay.wait_for(timeout=WAIT_MS)
    page.wait_for_function(
        "document.querySelectorAll('.portal-build-problem').length >= 2", timeout=WAIT_MS
    )
    texts = overlay.locator(".portal-build-problem").all_inner_texts()
    assert any(text.startswith(f"{ARTICLE}:2 (title)") for text in texts), texts
    assert any(text.startswith(OTHER) and "khong-co" in text for text in texts), texts
    assert page.csp == []

    # The failed build changed nothing served: the API answers, the last good page is there.
    with httpx.Client(base_url=base, timeout=10) as client:
        assert client.get("/api/polls").status_code == 200
        assert client.get("/readyz").status_code == 200
        article = client.get(ARTICLE_URL)
        assert article.status_code == 200 and ARTICLE_TITLE in article.text
    lines = log.read_text(encoding="utf-8").splitlines()
    failed = [i for i, line in enumerate(lines) if line.startswith("portal serve: build failed")]
    last = lines[failed[-1]]
    assert re.fullmatch(r"portal serve: build failed after change to .+\.md: (\d+) problems", last)
    assert last.endswith(f": {len(texts)} problems")
    shown = lines[failed[-1] + 1 : failed[-1] + 1 + len(texts)]
    assert all(line.startswith("  content/tin-tuc/") for line in shown), shown
    assert not any(line.startswith("portal build:") for line in lines)

    (site / OTHER).unlink()
    (site / ARTICLE).write_text(good + "\nĐã sửa xong.\n", encoding="utf-8")
    page.get_by_text("Đã sửa xong.").wait_for(timeout=WAIT_MS)
    assert overlay.count() == 0


def test_a_failed_first_build_still_starts_the_service(
    start_portal: Callable[..., str], site: Path, page: Any, tmp_path: Path
) -> None:
    good = (site / ARTICLE).read_text(encoding="utf-8")
    (site / ARTICLE).write_text(BROKEN, encoding="utf-8")
    (site / OTHER).write_text(UNKNOWN_CATEGORY, encoding="utf-8")
    log = tmp_path / "serve.log"
    base = start_portal(site_dir=site, watch=True, log_path=log)
    assert log.read_text(encoding="utf-8").startswith("portal serve: build failed: ")

    with httpx.Client(base_url=base, timeout=10) as client:
        assert client.get("/api/polls").status_code == 200
        home = client.get("/")
        assert home.status_code == 503
        assert f"{ARTICLE}:2 (title)" in home.text
        assert OTHER in home.text and "khong-co" in home.text

    page.goto(base + "/")
    page.locator("#portal-build-problems").wait_for(timeout=WAIT_MS)
    (site / OTHER).unlink()
    (site / ARTICLE).write_text(good, encoding="utf-8")
    page.get_by_text(ARTICLE_TITLE).first.wait_for(timeout=WAIT_MS)
    assert page.locator("#portal-build-problems").count() == 0
    assert httpx.get(base + "/").status_code == 200


def draft_url(base: str) -> str:
    """The demo site's one draft, as the --drafts build lists it."""
    pages = httpx.get(base + "/_portal/site.json").json()["pages"]
    (url,) = (p["path"] for p in pages if "(bản nháp)" in p["title"])
    return str(url)


def test_drafts_only_with_the_drafts_flag(
    start_portal: Callable[..., str], page: Any, tmp_path: Path
) -> None:
    preview = start_portal(extra_args=["--drafts", "--out", str(tmp_path / "preview")])
    url = draft_url(preview)
    page.goto(preview + url)
    assert page.get_by_text("Bản nháp", exact=True).first.is_visible()

    plain = start_portal(extra_args=["--out", str(tmp_path / "plain")])
    response = page.goto(plain + url)
    assert response is not None and response.status == 404
    assert not (tmp_path / "plain" / url.lstrip("/")).exists()


def test_no_live_reload_flag(start_portal: Callable[..., str]) -> None:
    base = start_portal(extra_args=["--no-live-reload"])
    home = httpx.get(base + "/")
    assert home.status_code == 200 and "/_portal/live.js" not in home.text
    assert httpx.get(base + "/_portal/events").status_code == 404


def test_a_scheduled_article_appears_at_its_time(
    start_portal: Callable[..., str], site: Path, page: Any
) -> None:
    at = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=8)
    title = "Thông báo hẹn giờ đăng trong vài giây nữa"
    (site / "content/thong-bao/hen-gio.md").write_text(
        f'---\ntitle: "{title}"\ndate: {at.isoformat()}\ncategory: thong-bao\n---\n\nNội dung.\n',
        encoding="utf-8",
    )
    base = start_portal(site_dir=site, watch=True)
    page.goto(base + "/")
    early = dt.datetime.now(dt.UTC) < at - dt.timedelta(seconds=1)
    if not early:
        pytest.skip("portal serve took longer to start than the article's time")
    assert page.get_by_text(title).count() == 0
    # No edit, no restart: the rebuild at the article's time publishes it, the page reloads.
    page.get_by_text(title).first.wait_for(timeout=WAIT_MS + 60_000)
    assert navigation_type(page) == "reload"


def test_events_reach_every_worker(start_portal: Callable[..., str], site: Path) -> None:
    """With several uvicorn workers, each follows the rebuild loop's status file: a stream
    from any of them announces the next build."""
    base = start_portal(site_dir=site, watch=True, extra_args=["--workers", "2"])
    announced: list[dict[str, Any]] = []
    with httpx.Client(timeout=httpx.Timeout(10, read=WAIT_MS / 1000)) as client:
        for _ in range(2):  # two streams, most likely from the two workers
            with client.stream("GET", base + "/_portal/events") as stream:
                assert stream.headers["content-type"].startswith("text/event-stream")
                for line in stream.iter_lines():
                    if not line.startswith("data: "):
                        continue
                    announced.append(json.loads(line.removeprefix("data: ")))
                    if len(announced) % 2 == 1:
                        append(site / ARTICLE, f"\nLần sửa {len(announced)}.\n")
                    else:
                        break
    first, second, third, fourth = announced
    assert first["ok"] and second["ok"] and second["build"] != first["build"]
    assert third["build"] == second["build"] and fourth["build"] != third["build"]
