"""`watch_site` rebuilds after a change and stops when asked."""

from __future__ import annotations

import datetime as dt
import shutil
import threading
import time
from pathlib import Path

import pytest

from portal.builder import build_site, watch_site

REPO = Path(__file__).resolve().parent.parent


def wait_for(check: object, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def test_watch_rebuilds_and_survives_bad_content(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "site"
    shutil.copytree(REPO / "site", site)
    out = tmp_path / "dist"
    build_site(site, out)
    stop = threading.Event()
    thread = threading.Thread(target=watch_site, args=(site, out, stop), daemon=True)
    thread.start()
    try:
        time.sleep(0.5)  # let the watcher start
        article = site / "content/tin-tuc/tiep-xuc-cu-tri.md"
        page = (
            out
            / "bai-viet/dai-bieu-hdnd-tinh-tiep-xuc-cu-tri-huyen-song-may-truoc-ky-hop-thu-14.html"
        )
        article.write_text(
            article.read_text(encoding="utf-8") + "\nĐoạn mới thêm khi đang chạy.\n",
            encoding="utf-8",
        )
        assert wait_for(lambda: "Đoạn mới thêm khi đang chạy." in page.read_text(encoding="utf-8"))

        (site / "content/hong.md").write_text("không có front matter\n", encoding="utf-8")
        assert wait_for(
            lambda: "content/hong.md:1: no YAML front matter" in capsys.readouterr().out
        )

        (site / "content/hong.md").unlink()
        article.write_text(
            article.read_text(encoding="utf-8") + "\nSửa lần hai.\n", encoding="utf-8"
        )
        assert wait_for(lambda: "Sửa lần hai." in page.read_text(encoding="utf-8"))
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_watch_publishes_a_scheduled_article_at_its_time(tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(REPO / "site", site)
    out = tmp_path / "dist"
    when = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=3)
    (site / "content/hen-gio.md").write_text(
        f"---\ntitle: Bài hẹn giờ\ndate: {when.isoformat()}\ncategory: thong-bao\n---\n\nx\n",
        encoding="utf-8",
    )
    report = build_site(site, out)
    assert report.next_change == when
    page = out / "bai-viet/bai-hen-gio.html"
    assert not page.exists()
    outcomes: list[tuple[str, object]] = []
    stop = threading.Event()
    thread = threading.Thread(
        target=watch_site,
        args=(site, out, stop),
        kwargs={"next_change": report.next_change, "on_build": lambda *a: outcomes.append(a)},
        daemon=True,
    )
    thread.start()
    try:
        assert wait_for(page.exists)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert outcomes[0][0].startswith("the scheduled time")
    assert dt.datetime.now(dt.UTC) >= when  # not before its time
