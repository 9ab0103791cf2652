"""What a build leaves for others: the site manifest (_portal/site.json), atomic generations,
drafts in previews, scheduled changes, and caches in a data format."""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import shutil
import threading
import tomllib
from pathlib import Path

import msgpack
import pytest

from portal.builder import BuildError, build_site, output
from portal.builder.output import generations_dir
from portal.builder.workers import in_child

REPO = Path(__file__).resolve().parent.parent
SITE = REPO / "site"
TZ = dt.timezone(dt.timedelta(hours=7))
DRAFT = "bai-viet/gioi-thieu-tuyen-du-lich-mot-ngay-tren-song-may-ban-nhap.html"


def copy_site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    shutil.copytree(SITE, site)
    return site


def scheduled_article(site: Path, when: dt.datetime, name: str = "hen-gio") -> None:
    (site / f"content/{name}.md").write_text(
        f"---\ntitle: Bài hẹn giờ {name}\ndate: {when.isoformat(timespec='seconds')}\n"
        "category: thong-bao\n---\n\nSẽ đăng sau.\n",
        encoding="utf-8",
    )


def manifest(out: Path) -> dict[str, object]:
    data = json.loads((out / "_portal/site.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def title_of(path: Path) -> str:
    found = re.search(r"<title>(.*?)</title>", path.read_text(encoding="utf-8"))
    assert found is not None, path
    return html.unescape(found.group(1))


def test_site_manifest_lists_every_page_and_the_polls(tmp_path: Path) -> None:
    out = tmp_path / "out"
    build_site(SITE, out, cache_dir=tmp_path / "cache")
    data = manifest(out)
    assert data["format"] == 1
    assert data["timezone"] == "Asia/Ho_Chi_Minh"
    assert data["next_change"] is None
    pages = data["pages"]
    assert isinstance(pages, list)
    files = sorted("/" + p.relative_to(out).as_posix() for p in out.rglob("*.html"))
    assert [p["path"] for p in pages] == files  # every HTML page, sorted, canonical
    assert "/index.html" in files and "/chuyen-muc/tin-tuc/index.html" in files
    for entry in pages:
        assert entry["title"] == title_of(out / entry["path"].lstrip("/")), entry
    settings = tomllib.loads((SITE / "site.toml").read_text(encoding="utf-8"))
    assert data["polls"] == settings["polls"]
    # Never published: not in the sitemap, and crawlers are told to keep out.
    assert "_portal" not in (out / "sitemap.xml").read_text(encoding="utf-8")
    assert "Disallow: /_portal/" in (out / "robots.txt").read_text(encoding="utf-8")


def test_site_manifest_is_byte_identical_across_builds(tmp_path: Path) -> None:
    build_site(SITE, tmp_path / "a", cache_dir=tmp_path / "ca")
    build_site(SITE, tmp_path / "b", cache_dir=tmp_path / "cb", workers=1)
    first = (tmp_path / "a/_portal/site.json").read_bytes()
    assert first == (tmp_path / "b/_portal/site.json").read_bytes()


def test_next_change_is_the_next_publication_or_poll_time(tmp_path: Path) -> None:
    site = copy_site(tmp_path)
    out = tmp_path / "out"
    now = dt.datetime(2030, 1, 1, 8, 0, tzinfo=TZ)
    scheduled_article(site, now + dt.timedelta(days=3), "sau")
    scheduled_article(site, now + dt.timedelta(days=2), "truoc")
    report = build_site(site, out, cache_dir=tmp_path / "cache", now=now)
    assert report.scheduled == 2
    assert report.next_change == now + dt.timedelta(days=2)
    assert manifest(out)["next_change"] == "2030-01-03T08:00:00+07:00"
    # A poll that closes sooner comes first.
    toml = site / "site.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace(
            "open = true", "open = true\ncloses = 2030-01-02T20:30:00+07:00", 1
        ),
        encoding="utf-8",
    )
    report = build_site(site, out, cache_dir=tmp_path / "cache", now=now)
    assert report.next_change == dt.datetime(2030, 1, 2, 20, 30, tzinfo=TZ)
    polls = manifest(out)["polls"]
    assert isinstance(polls, list) and polls[0]["closes"] == "2030-01-02T20:30:00+07:00"
    # Nothing changed since: up to date, and it still says when to build again.
    again = build_site(site, out, cache_dir=tmp_path / "cache", now=now)
    assert again.up_to_date
    assert again.next_change == report.next_change
    # After that time, a build with no change does build (and the next change moves on).
    later = build_site(site, out, cache_dir=tmp_path / "cache", now=now + dt.timedelta(days=1.6))
    assert not later.up_to_date
    assert later.next_change == now + dt.timedelta(days=2)


def test_drafts_only_in_previews_and_marked(tmp_path: Path) -> None:
    site = copy_site(tmp_path)
    now = dt.datetime.now(dt.UTC)
    when = (now + dt.timedelta(days=3)).astimezone(TZ).replace(second=0, microsecond=0)
    scheduled_article(site, when)
    public, preview = tmp_path / "public", tmp_path / "preview"
    report = build_site(site, public, cache_dir=tmp_path / "cache")
    assert (report.drafts, report.scheduled) == (1, 1)
    assert not (public / DRAFT).exists()
    assert not (public / "bai-viet/bai-hen-gio-hen-gio.html").exists()

    report = build_site(site, preview, cache_dir=tmp_path / "cache", drafts=True)
    assert report.articles == build_site(site, public, cache_dir=tmp_path / "cache").articles + 2
    draft = (preview / DRAFT).read_text(encoding="utf-8")
    assert '<p class="article__status">Bản nháp</p>' in draft
    assert '<meta name="robots" content="noindex">' in draft
    scheduled = (preview / "bai-viet/bai-hen-gio-hen-gio.html").read_text(encoding="utf-8")
    assert f"Hẹn giờ đăng: {when:%d/%m/%Y %H:%M}" in scheduled
    assert "Bài hẹn giờ hen-gio" in (preview / "index.html").read_text(encoding="utf-8")
    # Previews are never in the sitemap; published pages carry no mark.
    assert "hen-gio" not in (preview / "sitemap.xml").read_text(encoding="utf-8")
    published = preview / "bai-viet/lang-nghe-mien-dong-tan-lap-vao-vu-san-xuat-tet.html"
    assert "article__status" not in published.read_text(encoding="utf-8")
    # The same output directory switches back: drafts gone again.
    build_site(site, preview, cache_dir=tmp_path / "cache")
    assert not (preview / DRAFT).exists()


def generation_names(out: Path) -> list[str]:
    return sorted(p.name for p in generations_dir(out).iterdir() if p.name.isdigit())


@pytest.fixture
def no_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    """Generations no longer served may be recycled at once (readers are not waited for)."""
    monkeypatch.setattr(output, "RETIRED_SECONDS", 0.0)


@pytest.mark.usefixtures("no_grace")
def test_output_is_a_symlink_to_a_generation(tmp_path: Path) -> None:
    site = copy_site(tmp_path)
    out = tmp_path / "dist"
    out.mkdir()  # the old layout: a plain directory, migrated
    (out / "stale.html").write_text("old", encoding="utf-8")
    build_site(site, out, cache_dir=tmp_path / "cache")
    assert out.is_symlink()
    first = out.resolve()
    assert first.parent == generations_dir(out)
    assert not os.readlink(out).startswith("/")  # relative: the pair can move together
    assert (out / "index.html").is_file()
    path = site / "content/tin-tuc/tiep-xuc-cu-tri.md"
    path.write_text(path.read_text(encoding="utf-8") + "\nThêm.\n", encoding="utf-8")
    build_site(site, out, cache_dir=tmp_path / "cache")
    second = out.resolve()
    assert second != first
    path.write_text(path.read_text(encoding="utf-8") + "\nThêm nữa.\n", encoding="utf-8")
    build_site(site, out, cache_dir=tmp_path / "cache")
    # The served one and the one before it (for readers still on it); older ones go.
    assert generation_names(out) == sorted([second.name, out.resolve().name])
    # Unchanged files are shared between generations, not copied.
    assert (second / "404.html").stat().st_ino == (out / "404.html").stat().st_ino


def tree(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}


@pytest.mark.usefixtures("no_grace")
def test_recycled_generations_equal_clean_builds(tmp_path: Path) -> None:
    """Each build recycles the generation before the served one, bringing it up to date
    with only the files the last build changed: the result must equal a clean build."""
    site = copy_site(tmp_path)
    out = tmp_path / "dist"
    body = site / "content/tin-tuc/tiep-xuc-cu-tri.md"
    steps = [
        lambda: body.write_text(body.read_text(encoding="utf-8") + "\nMột.\n", "utf-8"),
        lambda: (site / "content/van-hoa-du-lich/lang-nghe-mien-dong.md").unlink(),
        lambda: scheduled_article(site, dt.datetime(2020, 1, 1, tzinfo=TZ), "moi"),
        lambda: body.write_text(body.read_text(encoding="utf-8") + "\nHai.\n", "utf-8"),
        lambda: (out / "404.html").unlink(),  # someone deletes a served file
        lambda: (site / "content/moi.md").unlink(),
    ]
    build_site(site, out, cache_dir=tmp_path / "cache")
    for n, step in enumerate(steps):
        step()
        build_site(site, out, cache_dir=tmp_path / "cache")
        clean = tmp_path / f"clean-{n}"
        build_site(site, clean, cache_dir=tmp_path / f"clean-cache-{n}")
        assert tree(out) == tree(clean), n
        assert len(generation_names(out)) == 2


def test_a_build_copies_the_served_tree_in_a_child_process_meanwhile(tmp_path: Path) -> None:
    """A build links its copy of the served generation in a child process while it parses
    (`prepare_meanwhile`): a copy marked as prepared, sharing the served files; a failed
    build leaves it to the next one, which starts from it."""
    site = copy_site(tmp_path)
    out, cache = tmp_path / "dist", tmp_path / "cache"
    build_site(site, out, cache_dir=cache)
    served = out.resolve()
    output.prepare_meanwhile(out, "")()
    (copy,) = (g for g in generation_names(out) if g != served.name)
    prepared = generations_dir(out) / copy
    marker = generations_dir(out) / f".{copy}.prepared"
    assert marker.read_text(encoding="utf-8") == served.name
    assert tree(prepared) == tree(served)
    assert (prepared / "404.html").stat().st_ino == (served / "404.html").stat().st_ino
    # While another thread runs, forking is unsafe: nothing is done.
    marker.unlink()
    shutil.rmtree(prepared)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        output.prepare_meanwhile(out, "")()
    finally:
        stop.set()
        other.join()
    assert generation_names(out) == [served.name]
    # A build that fails before writing waits for its copy and leaves it; the next uses it.
    broken = site / "content/hong.md"
    broken.write_text("---\ntitle: Hỏng\n---\n\nThiếu ngày đăng.\n", encoding="utf-8")
    with pytest.raises(BuildError):
        build_site(site, out, cache_dir=cache)
    assert out.resolve() == served
    (copy,) = (g for g in generation_names(out) if g != served.name)
    assert (generations_dir(out) / f".{copy}.prepared").is_file()
    broken.unlink()
    path = site / "content/tin-tuc/tiep-xuc-cu-tri.md"
    path.write_text(path.read_text(encoding="utf-8") + "\nThêm.\n", encoding="utf-8")
    build_site(site, out, cache_dir=cache)
    assert not list(generations_dir(out).glob(".*.prepared"))
    assert sorted(generation_names(out)) == sorted([served.name, out.resolve().name])


def test_work_done_meanwhile_runs_in_a_child_process_where_forking_is_safe(
    tmp_path: Path,
) -> None:
    """`workers.in_child`: in a child process (its memory is its own; the parent waits for
    it), or here and now when this process runs other threads."""
    seen: list[int] = []

    def work() -> None:
        seen.append(os.getpid())
        (tmp_path / f"done-{len(list(tmp_path.iterdir()))}").write_text(str(os.getpid()))

    wait = in_child(work)
    wait()
    wait()  # (waiting again is harmless)
    (done,) = tmp_path.iterdir()
    assert int(done.read_text()) != os.getpid() and seen == []
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        in_child(work)()
    finally:
        stop.set()
        other.join()
    assert seen == [os.getpid()]


def test_failed_build_leaves_the_served_generation(tmp_path: Path) -> None:
    site = copy_site(tmp_path)
    out = tmp_path / "dist"
    build_site(site, out, cache_dir=tmp_path / "cache")
    served = out.resolve()
    # Fails while rendering, after the new generation was begun.
    template = site / "templates/article.html"
    template.write_text(template.read_text(encoding="utf-8") + "{% if %}", encoding="utf-8")
    with pytest.raises(BuildError, match="template syntax error"):
        build_site(site, out, cache_dir=tmp_path / "cache")
    assert out.resolve() == served
    assert generation_names(out) == [served.name]


def test_reader_never_sees_a_mix_or_a_missing_file(tmp_path: Path) -> None:
    """Every page shows the footer; each build changes it. A reader that takes what the
    served directory is and walks it always finds one version, and every page."""
    site = copy_site(tmp_path)
    out = tmp_path / "dist"
    toml = site / "site.toml"
    settings = toml.read_text(encoding="utf-8")
    marker = "Cơ quan chủ quản:"

    def set_version(n: int) -> None:
        toml.write_text(settings.replace(marker, f"Phiên bản {n}. {marker}"), encoding="utf-8")

    set_version(0)
    build_site(site, out, cache_dir=tmp_path / "cache")
    pages = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.html"))
    stop = threading.Event()
    seen: list[set[str]] = []
    failures: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            root = Path(os.path.realpath(out))
            versions = set()
            for rel in pages:
                try:
                    text = (root / rel).read_text(encoding="utf-8")
                except FileNotFoundError:
                    failures.append(f"missing {rel}")
                    continue
                versions.update(re.findall(r"Phiên bản (\d+)\.", text))
            seen.append(versions)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for n in range(1, 5):
            set_version(n)
            build_site(site, out, cache_dir=tmp_path / "cache", workers=1)
    finally:
        stop.set()
        thread.join()
    assert not failures
    assert all(len(v) == 1 for v in seen), [v for v in seen if len(v) != 1]
    assert len(set().union(*seen)) > 1  # it did read while builds switched versions
    # Generations stopped being served only now: still there, for readers still on them.
    assert len(generation_names(out)) == 5


def test_generations_are_left_alone_while_recently_served(tmp_path: Path) -> None:
    site = copy_site(tmp_path)
    out = tmp_path / "dist"
    build_site(site, out, cache_dir=tmp_path / "cache")
    first = out.resolve()
    before = tree(first)
    body = site / "content/tin-tuc/tiep-xuc-cu-tri.md"
    for n in range(3):
        body.write_text(body.read_text(encoding="utf-8") + f"\nLần {n}.\n", "utf-8")
        build_site(site, out, cache_dir=tmp_path / "cache")
    assert tree(first) == before  # neither recycled nor deleted: it was served just now


def test_caches_are_plain_data_and_other_versions_are_ignored(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    out = tmp_path / "out"
    build_site(SITE, out, cache_dir=cache)
    names = sorted(p.name for p in cache.glob("*.msgpack"))
    assert "articles.msgpack" in names and "bodies.msgpack" in names
    assert not list(cache.rglob("*.pickle"))
    for path in cache.glob("*.msgpack"):
        assert isinstance(msgpack.unpackb(path.read_bytes(), strict_map_key=False), dict)

    def files() -> dict[str, bytes]:
        return {
            p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()
        }

    expected = files()

    def rebuilt() -> dict[str, bytes]:
        (out / "index.html").unlink()  # so the build cannot stop at "up to date"
        build_site(SITE, out, cache_dir=cache)
        return files()

    # Another version's cache, then an unreadable one: ignored, same result.
    articles = cache / "articles.msgpack"
    data = msgpack.unpackb(articles.read_bytes(), strict_map_key=False)
    articles.write_bytes(msgpack.packb({**data, "version": -1}))
    assert rebuilt() == expected
    for path in cache.glob("*.msgpack"):
        path.write_bytes(b"\xc1 not msgpack")
    assert rebuilt() == expected
