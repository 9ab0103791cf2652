"""Determinism, the build cache, writing only changed files, and scheduled articles."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from pathlib import Path

from portal.builder import build_site
from portal.builder.build import _kept
from portal.builder.output import prepare_next

REPO = Path(__file__).resolve().parent.parent
SITE = REPO / "site"


def tree(out: Path) -> dict[str, str]:
    return {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


def mtimes(out: Path) -> dict[str, int]:
    return {
        p.relative_to(out).as_posix(): p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()
    }


def copy_site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    shutil.copytree(SITE, site)
    return site


def scheduled_article(site: Path, when: dt.datetime) -> None:
    """content/hen-gio.md, "Bài hẹn giờ đăng", dated `when` (in the site's time zone)."""
    local = when.astimezone(dt.timezone(dt.timedelta(hours=7)))
    (site / "content/hen-gio.md").write_text(
        f"---\ntitle: Bài hẹn giờ đăng\ndate: {local.isoformat(timespec='seconds')}\n"
        "category: thong-bao\n---\n\nSẽ đăng sau.\n",
        encoding="utf-8",
    )


def test_identical_across_runs_and_worker_counts(tmp_path: Path) -> None:
    # Separate caches, so each build really parses and renders.
    a = build_site(SITE, tmp_path / "a", workers=1, cache_dir=tmp_path / "ca")
    b = build_site(SITE, tmp_path / "b", workers=2, cache_dir=tmp_path / "cb")
    assert a.pages_written == b.pages_written
    assert tree(tmp_path / "a") == tree(tmp_path / "b")


def test_identical_with_a_process_pool(tmp_path: Path) -> None:
    site = copy_site(tmp_path)
    body = (
        "Nội dung thử nghiệm số {i}: huyện Sông Mây, xã Đồng Sương.\n\n"
        "## Mục\n\n| a | b |\n|---|---|\n| {i} | x |\n"
    )
    for i in range(150):
        (site / "content" / f"gen-{i:03d}.md").write_text(
            f'---\ntitle: "Bài thử nghiệm {i % 40}"\n'
            f"date: 2022-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00+07:00\n"
            f"category: {['tin-tuc', 'thong-bao', 'kinh-te-xa-hoi'][i % 3]}\n---\n\n"
            + body.format(i=i),
            encoding="utf-8",
        )
    one = build_site(site, tmp_path / "one", workers=1, cache_dir=tmp_path / "c1")
    two = build_site(site, tmp_path / "two", workers=2, cache_dir=tmp_path / "c2")
    assert one.articles == two.articles == 164
    assert tree(tmp_path / "one") == tree(tmp_path / "two")
    # Slug collisions ("Bài thử nghiệm 3" many times) were numbered the same way.
    assert (tmp_path / "one/bai-viet/bai-thu-nghiem-3-2.html").is_file()
    # And again from scratch with the same cache: same bytes.
    (tmp_path / "one").unlink()  # the symlink to the served generation
    shutil.rmtree(tmp_path / "one.gen")
    build_site(site, tmp_path / "one", workers=2, cache_dir=tmp_path / "c1")
    assert tree(tmp_path / "one") == tree(tmp_path / "two")


def test_a_build_without_a_manifest_still_takes_parsed_articles_from_the_cache(
    tmp_path: Path,
) -> None:
    """With no record of an earlier build (no manifest), the content files are read and
    hashed by the parse stage; those the article cache has are not parsed again."""
    site = copy_site(tmp_path)
    out, cache = tmp_path / "out", tmp_path / "cache"
    build_site(site, out, cache_dir=cache, workers=2)
    articles = cache / "articles.msgpack"
    saved = articles.stat().st_mtime_ns
    (manifest,) = cache.glob("manifest-*.msgpack")
    manifest.unlink()
    out.unlink()
    shutil.rmtree(tmp_path / "out.gen")
    report = build_site(site, out, cache_dir=cache, workers=2)
    assert not report.up_to_date and report.articles > 0
    assert articles.stat().st_mtime_ns == saved  # nothing new parsed: not rewritten
    build_site(site, tmp_path / "clean", cache_dir=tmp_path / "clean-cache")
    assert tree(out) == tree(tmp_path / "clean")
    assert build_site(site, out, cache_dir=cache).up_to_date


def test_no_change_build_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = build_site(SITE, out, cache_dir=tmp_path / "cache")
    before = mtimes(out)
    again = build_site(SITE, out, cache_dir=tmp_path / "cache")
    assert again.pages_written == 0
    assert again.up_to_date
    assert again.pages_unchanged == first.pages_written + first.pages_unchanged
    assert again.articles == first.articles
    assert mtimes(out) == before


def test_default_cache_is_beside_the_output(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    build_site(SITE, out)
    assert (tmp_path / ".portal-cache").is_dir()
    assert not list(out.rglob("*.pickle"))


def test_editing_one_body_rewrites_few_files(tmp_path: Path) -> None:
    site = copy_site(tmp_path)
    out = tmp_path / "out"
    build_site(site, out, cache_dir=tmp_path / "cache")
    before = tree(out)
    path = site / "content/tin-tuc/tiep-xuc-cu-tri.md"
    path.write_text(path.read_text(encoding="utf-8") + "\nThêm một đoạn mới.\n", encoding="utf-8")
    report = build_site(site, out, cache_dir=tmp_path / "cache")
    after = tree(out)
    changed = sorted(k for k in after if before.get(k) != after[k])
    assert (
        "bai-viet/dai-bieu-hdnd-tinh-tiep-xuc-cu-tri-huyen-song-may-truoc-ky-hop-thu-14.html"
        in changed
    )
    assert "tim-kiem.json" in changed
    assert report.pages_written == len(changed)
    assert len(changed) <= 6, changed  # the page, listings showing its summary, search index
    # The result equals a clean build of the edited site.
    build_site(site, tmp_path / "clean", cache_dir=tmp_path / "other-cache")
    assert tree(tmp_path / "clean") == after


def test_template_change_rerenders_every_page(tmp_path: Path) -> None:
    site = copy_site(tmp_path)
    out = tmp_path / "out"
    build_site(site, out, cache_dir=tmp_path / "cache")
    base = site / "templates/base.html"
    base.write_text(
        base.read_text(encoding="utf-8").replace(">Atom</a>", ">Atom (cổng)</a>"), encoding="utf-8"
    )
    build_site(site, out, cache_dir=tmp_path / "cache")
    for page in out.rglob("*.html"):
        if page.relative_to(out).parts[0] == "tai-ve":
            continue  # the downloads are documents of their own, without base.html
        assert "Atom (cổng)" in page.read_text(encoding="utf-8"), page


def test_removed_article_disappears(tmp_path: Path) -> None:
    site = copy_site(tmp_path)
    out = tmp_path / "out"
    build_site(site, out, cache_dir=tmp_path / "cache")
    page = out / "bai-viet/lang-nghe-mien-dong-tan-lap-vao-vu-san-xuat-tet.html"
    assert page.is_file()
    (site / "content/van-hoa-du-lich/lang-nghe-mien-dong.md").unlink()
    report = build_site(site, out, cache_dir=tmp_path / "cache")
    assert not page.exists()
    # Its page, the page, Atom and RSS feed of its two tags (no other article has them),
    # the archive page of its month (it was that month's only article) and its download.
    assert report.removed == 1 + 2 * 3 + 1 + 1
    assert not (out / "luu-tru/2023/11/index.html").exists()
    assert not (out / "the/ocop/index.html").exists()
    assert "lang-nghe-mien-dong" not in (out / "sitemap.xml").read_text(encoding="utf-8")


def test_deleted_output_file_is_restored(tmp_path: Path) -> None:
    out = tmp_path / "out"
    build_site(SITE, out, cache_dir=tmp_path / "cache")
    (out / "404.html").unlink()
    report = build_site(SITE, out, cache_dir=tmp_path / "cache")
    assert (out / "404.html").is_file()
    assert report.pages_written == 1


def test_future_articles_publish_when_their_time_comes(tmp_path: Path) -> None:
    site = copy_site(tmp_path)
    out = tmp_path / "out"
    now = dt.datetime.now(dt.UTC)
    scheduled_article(site, now + dt.timedelta(days=3))
    report = build_site(site, out, cache_dir=tmp_path / "cache")
    assert report.scheduled == 1
    page = out / "bai-viet/bai-hen-gio-dang.html"
    assert not page.exists()
    assert "Bài hẹn giờ đăng" not in (out / "tim-kiem.json").read_text(encoding="utf-8")
    assert "hen-gio" not in (out / "sitemap.xml").read_text(encoding="utf-8")
    # Nothing changed on disk, but the clock passed the publication time: it appears.
    later = build_site(site, out, cache_dir=tmp_path / "cache", now=now + dt.timedelta(days=4))
    assert not later.up_to_date
    assert page.is_file()
    assert later.scheduled == 0
    assert "Bài hẹn giờ đăng" in (out / "index.html").read_text(encoding="utf-8")


def test_a_rebuild_in_the_same_process_keeps_the_site_model_only_for_body_edits(
    tmp_path: Path,
) -> None:
    """`portal serve` rebuilds in one process: while only bodies change, the site model of
    the last build is used again (the article's own pages and the search index follow the
    edit); any other change resolves the site anew. Either way: a clean build's bytes."""
    site = copy_site(tmp_path)
    out, cache = tmp_path / "out", tmp_path / "cache"
    path = site / "content/kinh-te-xa-hoi/thu-hoach-lua-dong-xuan.md"  # its summary is given
    text = path.read_text(encoding="utf-8")
    head, body = text.split("\n---\n", 1)
    assert "\nsummary:" in head
    retitled = head.replace('title: "', 'title: "Đã sửa - ', 1)
    first = build_site(site, out, cache_dir=cache)
    assert not first.kept_model
    edits = [
        # (the new text, whether the model is kept)
        (f"{head}\n---\n{body}\nMột đoạn mới ở cuối bài.\n", True),
        # At the start of the body: the search text changes, the summary (given) does not.
        (f"{head}\n---\n\nĐoạn mở đầu mới: Sông Mây.\n{body}", True),
        (f"{retitled}\n---\n{body}", False),
        (text, False),  # the title back
        (text + "\nLại thêm một câu.\n", True),
    ]
    for n, (new_text, kept) in enumerate(edits):
        path.write_text(new_text, encoding="utf-8")
        report = build_site(site, out, cache_dir=cache)
        assert report.kept_model is kept, (n, new_text[:80])
        assert report.pages_written > 0
        clean = tmp_path / f"clean-{n}"
        build_site(site, clean, cache_dir=tmp_path / f"clean-cache-{n}")
        assert tree(out) == tree(clean), n
    # The edit at the start of the body reached the search index.
    path.write_text(f"{head}\n---\n\nTừ khóa lạ xyzzy.\n{body}", encoding="utf-8")
    assert build_site(site, out, cache_dir=cache).kept_model
    assert "xyzzy" in (out / "tim-kiem.json").read_text(encoding="utf-8")


def test_a_rebuild_in_a_new_process_reuses_the_last_builds_keys_only_while_they_hold(
    tmp_path: Path,
) -> None:
    """`portal build` after an edit runs in a new process: while the site resolves as it
    did for the last build (only bodies changed, no scheduled moment passed) and that
    build's files are all there, only the edited article's pages are made, and the last
    build's page keys and other files hold. Each build's bytes are a clean build's."""
    site = copy_site(tmp_path)
    out, cache = tmp_path / "out", tmp_path / "cache"
    path = site / "content/kinh-te-xa-hoi/thu-hoach-lua-dong-xuan.md"
    text = path.read_text(encoding="utf-8")
    now = dt.datetime.now(dt.UTC)
    scheduled_article(site, now + dt.timedelta(days=2))
    build_site(site, out, cache_dir=cache, now=now)
    head, body = text.split("\n---\n", 1)
    assert "\nsummary:" in head  # given: a new first paragraph changes the search text only
    steps = [
        # (the article's new text, the build's clock)
        (f"{head}\n---\n\nĐoạn mở đầu mới: xyzzy.\n{body}", now),
        (text.replace('title: "', 'title: "Đã sửa - ', 1), now),
        (text + "\nLại thêm một câu.\n", now),
        # Only the body changed, but the scheduled article is due: its lists change too.
        (text + "\nVà một câu nữa.\n", now + dt.timedelta(days=3)),
        (text + "\nCâu cuối.\n", now + dt.timedelta(days=3)),
    ]
    for n, (new_text, when) in enumerate(steps):
        path.write_text(new_text, encoding="utf-8")
        if n == 4:  # someone deletes a served page: the next build makes it again
            (out / "chuyen-muc/thong-bao/index.html").unlink()
        _kept.clear()  # as in a new process
        report = build_site(site, out, cache_dir=cache, now=when)
        assert not report.kept_model and report.pages_written > 0
        clean = tmp_path / f"clean-{n}"
        build_site(site, clean, cache_dir=tmp_path / f"clean-cache-{n}", now=when)
        assert tree(out) == tree(clean), n
    assert "Bài hẹn giờ đăng" in (out / "index.html").read_text(encoding="utf-8")


def test_a_rebuild_loop_prepares_the_next_generation_while_it_waits(tmp_path: Path) -> None:
    """A build soon after the last one (its spare generation is still kept for readers)
    starts from the copy of the served generation `prepare_next` made ahead, renamed."""
    site = copy_site(tmp_path)
    out, cache, gens = tmp_path / "out", tmp_path / "cache", tmp_path / "out.gen"
    path = site / "content/tin-tuc/tiep-xuc-cu-tri.md"
    build_site(site, out, cache_dir=cache)
    for n in range(2):
        served = out.resolve()
        prepare_next(out)
        prepare_next(out)  # once is enough: a copy of the served one is there
        (copy,) = (p for p in gens.iterdir() if (gens / f".{p.name}.prepared").is_file())
        assert (gens / f".{copy.name}.prepared").read_text(encoding="utf-8") == served.name
        assert (copy / "404.html").stat().st_ino == (served / "404.html").stat().st_ino
        inode = copy.stat().st_ino
        path.write_text(path.read_text(encoding="utf-8") + f"\nĐoạn {n}.\n", encoding="utf-8")
        build_site(site, out, cache_dir=cache)
        assert out.resolve().stat().st_ino == inode  # the copy, renamed: nothing linked
        assert not list(gens.glob(".*.prepared"))
    build_site(site, tmp_path / "clean", cache_dir=tmp_path / "clean-cache")
    assert tree(out) == tree(tmp_path / "clean")
