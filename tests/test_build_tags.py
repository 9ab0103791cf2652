"""Tags: their pages (paginated, with feeds), links from articles, related articles, and the
shown update date."""

from __future__ import annotations

import random
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from portal.builder import build_site
from portal.builder.taxonomy import RelatedIndex, collect_tags, tag_slug

REPO = Path(__file__).resolve().parent.parent
SITE = REPO / "site"
ATOM = "{http://www.w3.org/2005/Atom}"


def write_article(
    site: Path, name: str, title: str, date: str, tags: list[str], category: str = "tin-tuc"
) -> None:
    path = site / "content" / category / f"{name}.md"
    path.write_text(
        f'---\ntitle: "{title}"\ndate: {date}\ncategory: {category}\n'
        f"tags: [{', '.join(tags)}]\n---\n\nNội dung bài {title}.\n",
        encoding="utf-8",
    )


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tags")
    site = root / "site"
    shutil.copytree(SITE, site)
    # 23 articles share "Nông thôn kiểu mẫu" (spelled two ways): three pages of 10.
    for i in range(23):
        spelling = "Nông thôn kiểu mẫu" if i % 3 else "nông thôn kiểu mẫu"
        write_article(site, f"ntm-{i:02d}", f"Kiểu mẫu số {i}", f"2022-03-{i + 1:02d}", [spelling])
    # For related articles: A shares two tags with B, one with C; D is in A's category.
    write_article(site, "a", "Bài A", "2025-06-10", ["lúa", "nước"])
    write_article(site, "b", "Bài B", "2025-06-01", ["lúa", "nước"])
    write_article(site, "c", "Bài C", "2025-06-05", ["nước"], category="thong-bao")
    write_article(site, "d", "Bài D", "2025-06-20", ['"?!"'])  # no slug: no page
    (site / "content/tin-tuc/d.md").write_text(
        read(site, "content/tin-tuc/d.md").replace(
            "date:", "updated: 2025-07-02T10:00:00+07:00\ndate:"
        ),
        encoding="utf-8",
    )
    build_site(site, root / "out", cache_dir=root / "cache")
    return root / "out"


def read(out: Path, rel: str) -> str:
    return (out / rel).read_text(encoding="utf-8")


def titles_in(html: str) -> list[str]:
    return re.findall(r'<h2 class="card__title"><a href="[^"]+">([^<]+)</a>', html)


def related_of(html: str) -> list[str]:
    section = html.split('<section class="related"', 1)[1].split("</section>", 1)[0]
    return re.findall(r'<li><a href="[^"]+">([^<]+)</a>', section)


def test_tag_pages_are_paginated_with_feeds(out: Path) -> None:
    first = read(out, "the/nong-thon-kieu-mau/index.html")
    assert '<h1 class="page-title">Nông thôn kiểu mẫu' in first  # the spelling most articles use
    assert titles_in(first)[:3] == ["Kiểu mẫu số 22", "Kiểu mẫu số 21", "Kiểu mẫu số 20"]
    assert len(titles_in(first)) == 10
    assert 'href="/the/nong-thon-kieu-mau/trang-3.html"' in first
    last = read(out, "the/nong-thon-kieu-mau/trang-3.html")
    assert titles_in(last) == ["Kiểu mẫu số 2", "Kiểu mẫu số 1", "Kiểu mẫu số 0"]
    assert 'title="Atom" href="/the/nong-thon-kieu-mau/atom.xml">' in first
    atom = ET.parse(out / "the/nong-thon-kieu-mau/atom.xml").getroot()
    entries = [e.findtext(f"{ATOM}title") for e in atom.findall(f"{ATOM}entry")]
    assert entries[0] == "Kiểu mẫu số 22" and len(entries) == 20
    rss = ET.parse(out / "the/nong-thon-kieu-mau/rss.xml").getroot()
    assert len(rss.findall("channel/item")) == 20
    assert "https://songmay.example.gov.vn/the/nong-thon-kieu-mau/" in read(out, "sitemap.xml")


def test_article_tags_link_to_their_pages(out: Path) -> None:
    html = read(out, "bai-viet/bai-a.html")
    assert '<li><a href="/the/lua/">lúa</a></li>' in html
    assert '<li><a href="/the/nuoc/">nước</a></li>' in html
    tag_page = read(out, "the/lua/index.html")
    assert titles_in(tag_page) == ["Bài A", "Bài B"]


def test_tag_without_a_slug_is_shown_unlinked(out: Path) -> None:
    html = read(out, "bai-viet/bai-d.html")
    assert '<ul class="tags" aria-label="Từ khóa">\n    <li>?!</li>' in html
    assert not (out / "the/index.html").exists()  # no page at an empty slug


def test_related_articles_order(out: Path) -> None:
    # Most shared tags first, then fewer, then the newest of the same category; never itself.
    related = related_of(read(out, "bai-viet/bai-a.html"))
    assert related[:3] == ["Bài B", "Bài C", "Bài D"]
    assert len(related) == 5 and "Bài A" not in related
    assert related_of(read(out, "bai-viet/bai-c.html"))[:2] == ["Bài A", "Bài B"]
    # No shared tag: the newest of the category.
    d = related_of(read(out, "bai-viet/bai-d.html"))
    assert d[:2] == ["Bài A", "Bài B"] and "Bài D" not in d


def test_updated_date_is_shown_only_when_given(out: Path) -> None:
    assert 'Cập nhật ngày <time datetime="2025-07-02T10:00:00+07:00">02 - 07 - 2025</time>' in read(
        out, "bai-viet/bai-d.html"
    )
    for page in (out / "bai-viet").glob("*.html"):
        html = page.read_text(encoding="utf-8")
        shown = re.search(r"Cập nhật ngày <time datetime=\"([^\"]+)\">([^<]+)</time>", html)
        modified = re.search(r'article:modified_time" content="([^"]+)"', html)
        published = re.search(r'article:published_time" content="([^"]+)"', html)
        assert modified and published
        if modified.group(1) != published.group(1):
            assert shown, page
            day, month, year = (
                modified.group(1)[8:10],
                modified.group(1)[5:7],
                modified.group(1)[:4],
            )
            assert shown.group(2) == f"{day} - {month} - {year}"
        else:
            assert shown is None, page


def test_related_ranking_matches_brute_force() -> None:
    """The fast ranking (counted per tag set) equals the definition on random sites."""
    rng = random.Random(13)
    names = ["Nông thôn mới", "nông thôn mới", "giao thông", "y tế", "giáo dục", "lễ hội"]
    for _ in range(20):
        articles: list[Any] = [
            SimpleNamespace(
                url=f"/bai-viet/{i}.html",
                category=SimpleNamespace(id=rng.choice("ab")),
                parsed=SimpleNamespace(tags=tuple(rng.sample(names, rng.randint(0, 3)))),
            )
            for i in range(60)
        ]  # newest first, as the site model orders them
        index = RelatedIndex(articles, collect_tags(articles))

        def slugs(a: Any) -> set[str]:
            return {tag_slug(t) for t in a.parsed.tags}

        for a in articles:
            shared = [(len(slugs(a) & slugs(b)), i, b) for i, b in enumerate(articles)]
            ranked = [
                b for n, _, b in sorted(shared, key=lambda x: (-x[0], x[1])) if n and b is not a
            ]
            same = [b for b in articles if b.category.id == a.category.id and b is not a]
            expected = (ranked + [b for b in same if b not in ranked])[:5]
            assert index.related(a) == expected
