"""Build the demo site and check the output: pages, links, feeds, sitemap, formats."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from portal.builder import BuildReport, build_site
from portal.builder.search import fold

REPO = Path(__file__).resolve().parent.parent
SITE = REPO / "site"
BASE = "https://songmay.example.gov.vn"
ATOM = "{http://www.w3.org/2005/Atom}"
SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


class Page(HTMLParser):
    """What the tests look at in one HTML file."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.ids: list[str] = []
        self.text_parts: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if a.get("id"):
            self.ids.append(str(a["id"]))
        for name in ("href", "src"):
            if a.get(name):
                self.links.append(str(a[name]))

    def handle_data(self, data: str) -> None:
        self.text_parts.append(data)

    @property
    def text(self) -> str:
        return " ".join("".join(self.text_parts).split())

    def find(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [
            a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())
        ]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BuildReport]:
    root = tmp_path_factory.mktemp("demo")
    out = root / "dist"
    report = build_site(SITE, out, cache_dir=root / "cache")
    return out, report


@pytest.fixture(scope="module")
def out(built: tuple[Path, BuildReport]) -> Path:
    return built[0]


def page(out: Path, rel: str) -> Page:
    return Page((out / rel).read_text(encoding="utf-8"))


def html_files(out: Path) -> list[Path]:
    """The site's pages (not the articles' downloads under tai-ve/: documents of their own,
    tested in test_agency.py)."""
    return sorted(p for p in out.rglob("*.html") if p.relative_to(out).parts[0] != "tai-ve")


def article_files(out: Path) -> list[Path]:
    return sorted((out / "bai-viet").glob("*.html"))


def test_report_counts(built: tuple[Path, BuildReport]) -> None:
    _, report = built
    assert report.articles >= 12
    assert report.drafts == 1
    assert report.pages_written > report.articles
    assert report.seconds > 0


def test_expected_files_exist(out: Path) -> None:
    for rel in [
        "index.html",
        "trang-2.html",
        "404.html",
        "tim-kiem.html",
        "tim-kiem.json",
        "atom.xml",
        "rss.xml",
        "sitemap.xml",
        "robots.txt",
        "chuyen-muc/tin-tuc/index.html",
        "chuyen-muc/tin-tuc/atom.xml",
        "chuyen-muc/tin-tuc/rss.xml",
        "chuyen-muc/thong-bao/index.html",
        "static/css/site.css",
        "static/css/print.css",
        "static/js/text-size.js",
        "static/js/search.js",
    ]:
        assert (out / rel).is_file(), rel
    assert len(article_files(out)) >= 12


def test_no_cache_or_temp_files_in_output(out: Path) -> None:
    names = [p.name for p in out.rglob("*")]
    assert not [n for n in names if n.startswith(".") or n.endswith((".tmp", ".pickle"))]


def test_every_internal_link_resolves(out: Path) -> None:
    checked = 0
    for path in html_files(out):
        for link in page(out, str(path.relative_to(out))).links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith("#"):
                continue
            if parts.path.startswith("/widgets/") or parts.path.startswith("/api/"):
                continue  # served by the service, not built
            target = unquote(parts.path).lstrip("/")
            if target == "" or target.endswith("/"):
                target += "index.html"
            assert (out / target).is_file(), f"{path.relative_to(out)} links to {link}"
            checked += 1
    assert checked > 500


def test_ids_are_unique_and_skip_link_targets_main(out: Path) -> None:
    for path in html_files(out):
        p = page(out, str(path.relative_to(out)))
        assert len(p.ids) == len(set(p.ids)), path
        assert p.find("a", href="#noi-dung"), path
        assert p.find("main", id="noi-dung"), path


def test_pages_are_accessible_html(out: Path) -> None:
    for path in html_files(out):
        text = path.read_text(encoding="utf-8")
        p = Page(text)
        lang = "en" if path.relative_to(out).parts[0] == "en" else "vi"
        assert text.startswith(f'<!DOCTYPE html>\n<html lang="{lang}">'), path
        assert len(p.find("h1")) == 1, path
        for tag in ("header", "nav", "main", "aside", "footer"):
            assert p.find(tag), f"{path}: no <{tag}>"
        for attrs in p.find("img"):
            assert "alt" in attrs, f"{path}: img without alt: {attrs}"
        # The pages get a CSP without 'unsafe-inline': no inline scripts, styles or handlers.
        assert "style=" not in text and "<style" not in text, path
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), path
        assert not re.search(r"\son[a-z]+=", text), path


def test_widgets_are_in_every_page(out: Path) -> None:
    for path in html_files(out):
        text = path.read_text(encoding="utf-8")
        assert 'data-portal-poll="portal-rating"' in text, path
        assert "data-portal-presence" in text, path
        assert re.search(r'<script src="/widgets/portal\.js\?v=[0-9a-f]+" defer></script>', text)
        assert re.search(r'href="/widgets/portal\.css\?v=[0-9a-f]+"', text)
        if path.relative_to(out).parts[0] == "en":  # English pages: the English poll
            assert "How do you rate this electronic portal?" in text
            assert "Tin mới nhất" not in text  # the Vietnamese news is not repeated there
        else:
            assert "Đánh giá của bạn về cổng thông tin điện tử" in text
            assert "Tin mới nhất" in text


def test_article_pages_count_presence_per_page(out: Path) -> None:
    for path in article_files(out):
        url = "/" + path.relative_to(out).as_posix()
        assert f'data-portal-page="{url}"' in path.read_text(encoding="utf-8")


def test_latest_list_times_use_sa_and_ch(out: Path) -> None:
    text = page(out, "index.html").text
    latest = text.split("Tin mới nhất", 1)[1]
    times = re.findall(r"\((\d{2}/\d{2}/\d{4} \d{1,2}:\d{2} (?:SA|CH))\)", latest)
    assert len(times) == 6
    assert "03/10/2023 2:50 CH" in times  # 14:50 in Asia/Ho_Chi_Minh
    assert "15/01/2024 9:00 SA" in times
    # Every page carries the same list, rendered once.
    box = re.compile(r'<section class="box box--latest".*?</section>', re.S)
    first = box.search((out / "index.html").read_text(encoding="utf-8"))
    assert first
    for path in html_files(out):
        if path.relative_to(out).parts[0] != "en":
            m = box.search(path.read_text(encoding="utf-8"))
            assert m and m.group(0) == first.group(0), path


def test_known_article_formats(out: Path) -> None:
    p = page(out, "bai-viet/ron-rang-le-hoi-dua-thuyen-truyen-thong-tren-song-may.html")
    assert "Đăng ngày 07 - 06 - 2023" in p.text
    assert "Phạm Thu Trang" in p.text
    assert (
        "(07/06/2023 4:27 CH)"
        in page(out, "chuyen-muc/van-hoa-du-lich/index.html").text
        + (page(out, "trang-2.html").text + page(out, "index.html").text)
        or "07/06/2023 4:27 CH" in page(out, "index.html").text
    )
    og = {a["property"]: a["content"] for a in p.find("meta") if a.get("property")}
    assert og["og:type"] == "article"
    assert (
        og["og:url"]
        == f"{BASE}/bai-viet/ron-rang-le-hoi-dua-thuyen-truyen-thong-tren-song-may.html"
    )
    assert og["og:image"] == f"{BASE}/static/img/bai-viet/dua-thuyen.svg"
    assert og["og:locale"] == "vi_VN"
    desc = p.find("meta", name="description")
    assert desc and str(desc[0]["content"]).startswith("Mười hai đội thuyền")


def test_figures_have_captions_and_alt_text(out: Path) -> None:
    text = (
        out / "bai-viet/nong-dan-song-may-thu-hoach-lua-dong-xuan-nang-suat-dat-6-8-tan-ha.html"
    ).read_text(encoding="utf-8")
    figures = re.findall(r"<figure.*?</figure>", text, re.S)
    assert len(figures) == 2  # the lead image and one in the body
    for fig in figures:
        assert re.search(r'<img [^>]*alt="[^"]{10,}"', fig)
        assert re.search(r"<figcaption>[^<]{10,}</figcaption>", fig)


def test_links_between_articles_use_their_urls(out: Path) -> None:
    p = page(
        out,
        "bai-viet/huyen-song-may-to-chuc-hoi-nghi-danh-gia-ket-qua-quy-i-trien-khai-nhiem-vu-quy.html",
    )
    assert (
        "/bai-viet/thong-bao-lich-tiep-cong-dan-dinh-ky-cua-chu-tich-ubnd-huyen-quy-ii-2023.html"
        in p.links
    )
    assert not [link for link in p.links if link.endswith(".md") or "portal-md:" in link]


def test_drafts_are_not_published(out: Path) -> None:
    everything = "".join(p.read_text(encoding="utf-8") for p in html_files(out))
    everything += (out / "tim-kiem.json").read_text(encoding="utf-8")
    everything += (out / "sitemap.xml").read_text(encoding="utf-8")
    assert "bản nháp" not in everything.lower()
    assert "Một ngày trên sông Mây (bản nháp)" not in everything


def test_home_and_categories_are_paginated_newest_first(out: Path) -> None:
    home = page(out, "index.html")
    cards = re.findall(
        r'<h2 class="card__title"><a href="([^"]+)"',
        (out / "index.html").read_text(encoding="utf-8"),
    )
    assert len(cards) == 10
    assert cards[0] == "/bai-viet/thong-bao-lich-nghi-tet-nguyen-dan-giap-thin-2024.html"
    assert home.find("a", href="/trang-2.html", rel="next")
    page2 = page(out, "trang-2.html")
    assert page2.find("a", href="/", rel="prev")
    assert page2.find("a", href="/trang-2.html", **{"aria-current": "page"})
    times = re.findall(
        r'<time datetime="([^"]+)">',
        (out / "index.html").read_text(encoding="utf-8").split("Tin mới nhất")[0],
    )
    assert times == sorted(times, reverse=True)
    cat = (out / "chuyen-muc/thong-bao/index.html").read_text(encoding="utf-8")
    assert cat.count('class="card"') == 4


def test_feeds_parse_and_list_newest(out: Path) -> None:
    atom = ET.parse(out / "atom.xml").getroot()
    entries = atom.findall(f"{ATOM}entry")
    assert 12 <= len(entries) <= 20
    first = entries[0]
    assert first.findtext(f"{ATOM}title") == "Thông báo lịch nghỉ Tết Nguyên đán Giáp Thìn 2024"
    assert first.findtext(f"{ATOM}published") == "2024-01-15T09:00:00+07:00"
    assert atom.findtext(f"{ATOM}updated") == "2024-01-15T09:00:00+07:00"
    rss = ET.parse(out / "rss.xml").getroot()
    items = rss.findall("channel/item")
    assert len(items) == len(entries)
    assert items[0].findtext("pubDate") == "Mon, 15 Jan 2024 09:00:00 +0700"
    for cat in ("tin-tuc", "thong-bao", "kinh-te-xa-hoi", "van-hoa-du-lich"):
        cat_atom = ET.parse(out / f"chuyen-muc/{cat}/atom.xml").getroot()
        links = [e.find(f"{ATOM}link").get("href") for e in cat_atom.findall(f"{ATOM}entry")]  # type: ignore[union-attr]
        assert links, cat
        cat_page = (out / f"chuyen-muc/{cat}/index.html").read_text(encoding="utf-8")
        for link in links:
            assert link is not None and link.startswith(BASE)
            assert link.removeprefix(BASE) in cat_page
        ET.parse(out / f"chuyen-muc/{cat}/rss.xml")


def test_sitemap_lists_every_article_with_lastmod(out: Path) -> None:
    root = ET.parse(out / "sitemap.xml").getroot()
    urls = {u.findtext(f"{SM}loc"): u.findtext(f"{SM}lastmod") for u in root.findall(f"{SM}url")}
    for path in article_files(out):
        loc = f"{BASE}/{path.relative_to(out).as_posix()}"
        assert loc in urls
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+07:00", urls[loc] or "")
    assert f"{BASE}/" in urls
    assert f"{BASE}/chuyen-muc/tin-tuc/" in urls
    robots = (out / "robots.txt").read_text(encoding="utf-8")
    assert f"Sitemap: {BASE}/sitemap.xml" in robots


def test_404_page(out: Path) -> None:
    p = page(out, "404.html")
    assert "Không tìm thấy trang" in p.text
    assert p.find("meta", name="robots", content="noindex")


def test_search_index_is_folded(out: Path) -> None:
    every = json.loads((out / "tim-kiem.json").read_text(encoding="utf-8"))
    docs = [d for d in every if d["u"].startswith("/bai-viet/")]  # pages: test_agency.py
    assert len(docs) == len(article_files(out))
    urls = {d["u"] for d in docs}
    assert urls == {"/" + p.relative_to(out).as_posix() for p in article_files(out)}
    for d in docs:
        assert d["k"] == fold(d["k"])
        assert re.fullmatch(r"\d{2}/\d{2}/\d{4}", d["d"])
    assert any("tin moi" in d["k"] for d in docs)
    assert any("dau tu" in d["k"] for d in docs)  # đầu tư: đ folds to d


def test_fold() -> None:
    assert fold("Tin MỚI nhất \u2013 Đắk Lắk") == "tin moi nhat \u2013 dak lak"
    assert fold("ĐƯỜNG   đi") == "duong di"


def test_print_and_text_size_assets(out: Path) -> None:
    text = (out / "index.html").read_text(encoding="utf-8")
    assert re.search(
        r'<link rel="stylesheet" href="/static/css/print\.css\?v=\w+" media="print">', text
    )
    css = (out / "static/css/site.css").read_text(encoding="utf-8")
    assert 'html[data-text-size="200"] { font-size: 200%; }' in css
    assert "data-text-size-control" in text


def test_bulk_date_formats_match_babel() -> None:
    import datetime as dt
    from zoneinfo import ZoneInfo

    from portal.builder.dates import (
        KNOWN_DAY_PERIODS,
        babel_day_periods,
        format_posted,
        format_time,
        formats,
    )

    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    for hour in range(24):
        for minute in (0, 7, 59):
            value = dt.datetime(2023, 6, 7, hour, minute, tzinfo=tz)
            time_text, posted, short = formats(value)
            assert time_text == format_time(value)
            assert posted == format_posted(value)
            assert short == "07/06/2023"
    assert formats(dt.datetime(2023, 6, 7, 16, 27, tzinfo=tz))[0] == "07/06/2023 4:27 CH"
    assert formats(dt.datetime(2023, 6, 7, 0, 5, tzinfo=tz))[0] == "07/06/2023 12:05 SA"
    assert formats(dt.datetime(2023, 6, 7, 12, 0, tzinfo=tz))[0] == "07/06/2023 12:00 CH"
    for language, periods in KNOWN_DAY_PERIODS.items():
        assert periods == babel_day_periods(language)


def test_feed_escaping_matches_the_standard_library() -> None:
    import datetime as dt
    from email.utils import format_datetime
    from xml.sax.saxutils import escape as sax_escape
    from xml.sax.saxutils import quoteattr as sax_quoteattr

    from portal.builder.feeds import escape, quoteattr, rfc2822

    for text in ["", "a & b < c > d", 'say "hi"', "it's", "\"'\"'", "tab\tline\nret\r", "Đắk"]:
        assert escape(text) == sax_escape(text)
        assert quoteattr(text) == sax_quoteattr(text)
    for value in [
        dt.datetime(2023, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=7))),
        dt.datetime(2024, 12, 29, 23, 59, 0, tzinfo=dt.UTC),
        dt.datetime(2022, 6, 5, 8, 0, 0),
    ]:
        assert rfc2822(value) == format_datetime(value)
