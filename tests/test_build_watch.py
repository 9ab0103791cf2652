"""`watch_site`, the rebuild loop of `portal serve` and `portal build --watch`: rebuilds after a
change and at the next scheduled time, survives bad content, stops when asked; and what the
terminal says about each build."""

from __future__ import annotations

import datetime as dt
import select
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from portal.builder import build_site, watch_site
from portal.builder.errors import Problem
from portal.builder.watch import BuildOutcome, build_once
from portal.devserver.status import StatusWriter, outcome_lines, read_status

REPO = Path(__file__).resolve().parent.parent
ARTICLE = "content/tin-tuc/tiep-xuc-cu-tri.md"
PAGE = "bai-viet/dai-bieu-hdnd-tinh-tiep-xuc-cu-tri-huyen-song-may-truoc-ky-hop-thu-14.html"


def wait_for(check: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def site(tmp_path: Path) -> Path:
    copy = tmp_path / "site"
    shutil.copytree(REPO / "site", copy)
    return copy


@pytest.fixture
def watching(site: Path, tmp_path: Path) -> Iterator[list[BuildOutcome]]:
    """The loop running in a thread on a copy of the demo site; yields the outcomes so far."""
    outcomes: list[BuildOutcome] = []
    stop = threading.Event()
    thread = threading.Thread(
        target=watch_site, args=(site, tmp_path / "dist", stop, outcomes.append), daemon=True
    )
    thread.start()
    assert wait_for(lambda: len(outcomes) == 1)  # the first build
    time.sleep(0.5)  # let the watcher start
    yield outcomes
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_watch_rebuilds_and_survives_bad_content(
    site: Path, tmp_path: Path, watching: list[BuildOutcome]
) -> None:
    page = tmp_path / "dist" / PAGE
    assert watching[0].ok and watching[0].trigger == "start"
    article = site / ARTICLE
    article.write_text(article.read_text(encoding="utf-8") + "\nĐoạn mới.\n", encoding="utf-8")
    assert wait_for(lambda: "Đoạn mới." in page.read_text(encoding="utf-8"))

    (site / "content/hong.md").write_text("không có front matter\n", encoding="utf-8")
    assert wait_for(lambda: not watching[-1].ok)
    failed = watching[-1]
    assert failed.trigger == "change to hong.md"
    assert [p.file for p in failed.problems] == ["content/hong.md"]

    (site / "content/hong.md").unlink()
    article.write_text(article.read_text(encoding="utf-8") + "\nSửa lần hai.\n", encoding="utf-8")
    assert wait_for(lambda: "Sửa lần hai." in page.read_text(encoding="utf-8"))
    assert wait_for(lambda: watching[-1].ok)  # reported just after the switch


def test_a_scheduled_article_is_published_at_its_time_with_no_change(
    site: Path, tmp_path: Path
) -> None:
    at = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=4)
    (site / "content/thong-bao/hen-gio.md").write_text(
        f'---\ntitle: "Hẹn giờ"\ndate: {at.isoformat()}\ncategory: thong-bao\n---\n\nSắp đăng.\n',
        encoding="utf-8",
    )
    outcomes: list[BuildOutcome] = []
    stop = threading.Event()
    thread = threading.Thread(
        target=watch_site, args=(site, tmp_path / "dist", stop, outcomes.append), daemon=True
    )
    thread.start()
    try:
        assert wait_for(lambda: len(outcomes) >= 1)
        first = outcomes[0].report
        assert first is not None and first.next_change is not None
        assert abs((first.next_change - at).total_seconds()) < 1
        assert wait_for(lambda: any(o.trigger == "schedule" for o in outcomes))
        scheduled = next(o for o in outcomes if o.trigger == "schedule").report
        assert dt.datetime.now(dt.UTC) >= at  # not before its time
        assert scheduled is not None and scheduled.articles == first.articles + 1
    finally:
        stop.set()
        thread.join(timeout=10)


def test_terminal_lines_and_status_file(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    good = build_once(site, out)
    problems = (
        Problem("content/a.md", 3, "title", "missing", "add a title: line"),
        Problem("site.toml", None, None, "unknown key 'latst_count'", "did you mean 'latest'?"),
    )
    bad = BuildOutcome("change to a.md", None, problems)
    assert outcome_lines("portal serve", bad, good) == [
        "portal serve: build failed after change to a.md: 2 problems",
        "  content/a.md:3: title: missing; add a title: line",
        "  site.toml: unknown key 'latst_count'; did you mean 'latest'?",
    ]
    # Nothing new at a scheduled rebuild: nothing printed.
    assert outcome_lines("portal serve", BuildOutcome("schedule", None, problems), bad) == []
    assert outcome_lines("portal serve", good, None)[0].startswith("portal serve: built: ")

    status = StatusWriter(tmp_path / "build.json", out)
    first = status.update(good)
    assert read_status(status.path) == first and first.ok and first.has_site
    failing = status.update(bad)
    assert not failing.ok and failing.build != first.build
    assert [p["file"] for p in failing.problems] == ["content/a.md", "site.toml"]
    fixed = status.update(build_once(site, out))  # nothing to write, but the overlay must go
    assert fixed.ok and fixed.build != failing.build
    again = status.update(build_once(site, out, trigger="schedule"))
    assert again.build == fixed.build  # no change: open pages do not reload


def test_build_watch_command_publishes_then_stops_on_sigterm(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    process = subprocess.Popen(
        [sys.executable, "-m", "portal", "build", str(site), "-o", str(out), "--watch"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        # The line comes once the build is switched in (it may follow index.html by a moment).
        ready, _, _ = select.select([process.stdout], [], [], 60)
        assert ready, "portal build --watch printed nothing within 60 s"
        first = process.stdout.readline()
        assert (out / "index.html").exists()
        assert out.is_symlink()  # generations, switched atomically (what nginx serves)
    finally:
        process.terminate()
        process.communicate(timeout=15)
    assert process.returncode == 0
    assert first.startswith("portal build: built: ")
    assert build_site(site, out).pages_written == 0
