"""Issue 15 (Decree 42/2022/NĐ-CP, Article 7): pages that are not articles, the
organisation and contact directory, the English section, related websites, monthly
archives, the downloadable article and the polls' English texts, on the demo site."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from portal.builder import BuildError, build_site
from portal.builder.kinds import archives
from portal.builder.pages import DASH
from tests.test_build_site import BASE, SITE, SM, Page

XHTML = "{http://www.w3.org/1999/xhtml}"
VI_PAGES = ["gioi-thieu.html", "chuc-nang-nhiem-vu.html", "co-cau-to-chuc.html", "danh-ba.html"]
EN_PAGES = [
    "en/index.html",
    "en/functions-and-tasks.html",
    "en/organisation.html",
    "en/directory.html",
]


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("agency")
    build_site(SITE, root / "dist", cache_dir=root / "cache")
    return root / "dist"


def read(out: Path, rel: str) -> str:
    return (out / rel).read_text(encoding="utf-8")


def copy_site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    shutil.copytree(SITE, site)
    return site


def build_problems(site: Path, tmp_path: Path) -> list[str]:
    with pytest.raises(BuildError) as info:
        build_site(site, tmp_path / "out", cache_dir=tmp_path / "cache")
    return [f"{p.file}:{p.line}:{p.field}: {p.message}" for p in info.value.problems]


# -- 1. pages that are not articles ----------------------------------------------------------


def test_pages_have_addresses_navigation_sitemap_search_and_manifest(out: Path) -> None:
    for rel in VI_PAGES + EN_PAGES:
        assert (out / rel).is_file(), rel
    nav = Page(read(out, "index.html")).find("a", href="/gioi-thieu.html")
    assert nav, "site.toml puts Giới thiệu in the navigation"
    assert Page(read(out, "gioi-thieu.html")).find(
        "a", href="/gioi-thieu.html", **{"aria-current": "page"}
    )
    locs = {e.text for e in ET.parse(out / "sitemap.xml").getroot().iter(f"{SM}loc")}
    assert {f"{BASE}/{rel}" for rel in VI_PAGES} <= locs
    assert f"{BASE}/en/" in locs and f"{BASE}/en/directory.html" in locs
    index = json.loads(read(out, "tim-kiem.json"))
    urls = {d["u"] for d in index}
    assert {"/gioi-thieu.html", "/co-cau-to-chuc.html", "/en/", "/en/organisation.html"} <= urls
    manifest = json.loads(read(out, "_portal/site.json"))
    titles = {p["path"]: p["title"] for p in manifest["pages"]}
    assert titles["/gioi-thieu.html"] == f"Giới thiệu huyện Sông Mây {DASH} Huyện Sông Mây"
    assert titles["/en/index.html"] == f"Introduction to Song May District {DASH} Song May District"


def test_pages_are_never_in_article_lists_or_feeds(out: Path) -> None:
    lists = [p for p in out.rglob("*.html") if p.parent.name in ("tin-tuc", "thong-bao")]
    lists += [out / "index.html", out / "trang-2.html", *(out / "luu-tru").rglob("*.html")]
    feeds = list(out.rglob("atom.xml")) + list(out.rglob("rss.xml"))
    for path in lists + feeds:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".html":  # the lists themselves (the navigation may name pages)
            text = text.split("<main", 1)[1].split("</main>", 1)[0]
        for rel in VI_PAGES:
            assert f'"/{rel}"' not in text and f"{BASE}/{rel}<" not in text, (path, rel)


def test_a_broken_link_in_a_page_names_the_page(tmp_path: Path) -> None:
    site = copy_site(tmp_path)
    page = site / "pages/gioi-thieu.md"
    page.write_text(page.read_text(encoding="utf-8") + "\n[x](/khong-co.html)\n", "utf-8")
    lines = build_problems(site, tmp_path)
    assert (
        "pages/gioi-thieu.md:None:None: broken internal link '/khong-co.html'"
        " (no such page or file)" in lines
    )


# -- 2. organisation and contact directory ---------------------------------------------------


def test_directory_is_an_accessible_table_with_links_and_anchors(out: Path) -> None:
    text = read(out, "danh-ba.html")
    page = Page(text)
    assert text.count("<caption") == 8  # one table per unit, each with its caption
    assert len(page.find("th", scope="col")) == 8 * 5
    assert len(page.find("th", scope="row")) == 20  # the officials
    tel = [a["href"] for _, a in page.tags if (a.get("href") or "").startswith("tel:")]
    mail = [a["href"] for _, a in page.tags if (a.get("href") or "").startswith("mailto:")]
    assert len(tel) == 20 and all(re.fullmatch(r"tel:\+84\d{9,10}", t or "") for t in tel)
    assert len(mail) == 20 and "mailto:haltn@songmay.example.gov.vn" in mail
    for unit in ("van-phong", "phong-noi-vu", "phong-van-hoa"):
        assert unit in page.ids and page.find("a", href=f"#{unit}")  # filter: one anchor each
    assert "Fax" in page.text and "0200 3811 900" in page.text


def test_organisation_page_shows_units_heads_addresses_functions(out: Path) -> None:
    vi, en = Page(read(out, "co-cau-to-chuc.html")), Page(read(out, "en/organisation.html"))
    assert len(vi.find("li", **{"class": "org-unit"})) == 8
    assert "Phòng Tài nguyên và Môi trường" in vi.text and "Võ Thanh Tùng" in vi.text
    assert "Quản lý chất lượng giáo dục" in vi.text
    assert "Division of Natural Resources and Environment" in en.text
    assert "Monitors climate change in the district." in en.text
    assert "Functions and tasks" in en.text and "Chức năng, nhiệm vụ" in vi.text


def test_officials_are_in_the_site_search(out: Path) -> None:
    index = json.loads(read(out, "tim-kiem.json"))
    hits = [d for d in index if d["t"] == "Võ Thanh Tùng"]
    assert hits and hits[0]["u"] == "/danh-ba.html#phong-tai-nguyen"
    assert "vo thanh tung" in hits[0]["k"] and "head of division" in hits[0]["k"]


def test_a_missing_field_names_file_row_and_line(tmp_path: Path) -> None:
    site = copy_site(tmp_path)
    officials = site / "data/officials.yaml"
    text = officials.read_text(encoding="utf-8")
    # The third official loses the phone line; a unit loses its English name.
    third = text.index("- name: Lý Mai Anh")
    phone = text.index("  phone:", third)
    text = text[:phone] + text[text.index("\n", phone) + 1 :]
    officials.write_text(text, "utf-8")
    line = text[:third].count("\n") + 1
    units = site / "data/units.yaml"
    units.write_text(
        units.read_text(encoding="utf-8").replace("  name_en: Division of Health\n", ""), "utf-8"
    )
    lines = build_problems(site, tmp_path)
    assert f"data/officials.yaml:{line}:phone: row 3 (Lý Mai Anh): phone is missing" in lines
    assert any(
        x.startswith("data/units.yaml:") and "row 6 (Phòng Y tế): name_en is missing" in x
        for x in lines
    )


def test_bad_values_and_unknown_unit_fail(tmp_path: Path) -> None:
    site = copy_site(tmp_path)
    officials = site / "data/officials.yaml"
    text = officials.read_text(encoding="utf-8")
    text = text.replace("unit: phong-y-te", "unit: phong-y-tee", 1)
    text = text.replace("haltn@songmay.example.gov.vn", "haltn at songmay", 1)
    officials.write_text(text, "utf-8")
    lines = build_problems(site, tmp_path)
    assert any("unit" in x and "unknown unit 'phong-y-tee'" in x for x in lines)
    assert any(
        ":email: row 1 (Lê Thị Ngân Hà): 'haltn at songmay' is not an e-mail" in x for x in lines
    )


# -- 3. English section ----------------------------------------------------------------------


def test_english_pages_have_lang_words_dates_and_the_poll(out: Path) -> None:
    for rel in EN_PAGES:
        text = read(out, rel)
        assert text.startswith('<!DOCTYPE html>\n<html lang="en">'), rel
        page = Page(text)
        assert "Skip to main content" in page.text and "Bỏ qua" not in page.text
        assert "Related websites" in page.text and "Sitemap" in page.text
        assert "How do you rate this electronic portal?" in page.text and "Very good" in page.text
        assert "Rất tốt" not in page.text
        assert page.find("a", href="/en/organisation.html")  # the English navigation
    assert "Updated 21 March 2023" in Page(read(out, "en/index.html")).text
    assert "Cập nhật ngày 21/03/2023" in Page(read(out, "gioi-thieu.html")).text
    assert "Song May District Electronic Information Portal" in read(out, "en/directory.html")


@pytest.mark.parametrize(
    ("vi", "en"), [("gioi-thieu.html", "en/"), ("danh-ba.html", "en/directory.html")]
)
def test_switch_and_hreflang_both_ways(out: Path, vi: str, en: str) -> None:
    vi_page, en_page = (
        Page(read(out, vi)),
        Page(read(out, en.replace("en/", "en/index.html") if en == "en/" else en)),
    )
    assert vi_page.find("a", href=f"/{en}", hreflang="en", lang="en")
    assert en_page.find("a", href=f"/{vi}", hreflang="vi", lang="vi")
    for page in (vi_page, en_page):
        assert page.find("link", rel="alternate", hreflang="vi", href=f"{BASE}/{vi}")
        assert page.find("link", rel="alternate", hreflang="en", href=f"{BASE}/{en}")
    root = ET.parse(out / "sitemap.xml").getroot()
    for url in root.iter(f"{SM}url"):
        loc = url.find(f"{SM}loc")
        if loc is not None and loc.text in (f"{BASE}/{vi}", f"{BASE}/{en}"):
            alts = {a.get("hreflang"): a.get("href") for a in url.iter(f"{XHTML}link")}
            assert alts == {"vi": f"{BASE}/{vi}", "en": f"{BASE}/{en}"}


def test_no_switch_without_a_translation(tmp_path: Path, out: Path) -> None:
    for rel in ("index.html", "luu-tru/index.html"):
        text = read(out, rel)
        assert "lang-switch" not in text and "hreflang=" not in text, rel
    # The search page has its English twin (the same index, English words): both switch.
    for rel, other in (("tim-kiem.html", "/en/search.html"), ("en/search.html", "/tim-kiem.html")):
        text = read(out, rel)
        assert f'class="lang-switch"><a href="{other}"' in text, rel
        assert text.count("hreflang=") == 3, rel  # two alternates and the switch
    site = copy_site(tmp_path)
    (site / "pages/lich-tiep-cong-dan.md").write_text(
        "---\ntitle: Lịch tiếp công dân\n---\nThứ Năm hằng tuần.\n", "utf-8"
    )
    build_site(site, tmp_path / "o", cache_dir=tmp_path / "c")
    text = (tmp_path / "o/lich-tiep-cong-dan.html").read_text(encoding="utf-8")
    assert "lang-switch" not in text and "hreflang=" not in text
    assert "Lịch tiếp công dân" in text


# -- 4. related websites ---------------------------------------------------------------------


def test_links_block_on_every_page(out: Path) -> None:
    for rel in ["index.html", "danh-ba.html", "en/index.html", "luu-tru/index.html"]:
        page = Page(read(out, rel))
        assert page.find("a", href="https://dichvucong.gov.vn/", rel="external"), rel
    assert "Cổng Dịch vụ công quốc gia" in read(out, "index.html")
    assert "National Public Service Portal" in read(out, "en/index.html")


@pytest.mark.parametrize(
    "url",
    ["dichvucong.gov.vn", "https://dich vu.gov.vn", "javascript:alert(1)", "https://localhost"],
)
def test_a_link_of_the_wrong_shape_fails_the_build(tmp_path: Path, url: str) -> None:
    site = copy_site(tmp_path)
    toml = site / "site.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace(
            'url = "https://dichvucong.gov.vn/"', f'url = "{url}"'
        ),
        "utf-8",
    )
    lines = build_problems(site, tmp_path)
    assert any(
        "[[links]] #2 (Cổng Dịch vụ công quốc gia)" in x and "not a web address" in x for x in lines
    )


# -- 5. archives and the downloadable article -----------------------------------------------


def test_monthly_archives(out: Path) -> None:
    text = read(out, "luu-tru/2023/06/index.html")
    assert "Lưu trữ tháng 06/2023" in Page(text).text
    june = Page(text.split("<main", 1)[1].split("</main>", 1)[0])  # not the latest box
    times = [a.get("datetime") or "" for t, a in june.tags if t == "time"]
    assert times and all(t.startswith("2023-06") for t in times)
    index = Page(read(out, "luu-tru/index.html"))
    assert index.find("a", href="/luu-tru/2023/06/")
    article = next(
        p for p in (out / "bai-viet").glob("*.html") if "2023-06" in p.read_text(encoding="utf-8")
    )
    assert Page(article.read_text(encoding="utf-8")).find("a", href="/luu-tru/2023/06/")


def test_archive_months_are_paginated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archives, "MONTH_PAGE_SIZE", 1)
    site = copy_site(tmp_path)
    build_site(site, tmp_path / "o", cache_dir=tmp_path / "c")
    months = sorted((tmp_path / "o/luu-tru").glob("*/*/trang-2.html"))
    assert months, "a month with two articles has a second page"
    first = Page((months[0].parent / "index.html").read_text(encoding="utf-8"))
    assert first.find("a", href="/" + months[0].relative_to(tmp_path / "o").as_posix())


def test_download_is_one_small_file_without_scripts(out: Path) -> None:
    files = sorted((out / "tai-ve").glob("*.html"))
    assert len(files) == len(list((out / "bai-viet").glob("*.html")))
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert "<script" not in text and '<link rel="stylesheet"' not in text
        assert "<style>" in text and " src=" not in text  # nothing to fetch
        assert not re.search(r'href="/', text)  # links are absolute
        assert len(text.encode()) < 40_000, path
    article = Page(read(out, "bai-viet/" + files[0].name))
    link = article.find("a", href=f"/tai-ve/{files[0].name}")
    assert link and "download" in link[0]


def test_pages_link_only_to_files_that_exist(out: Path) -> None:
    for rel in VI_PAGES + EN_PAGES + ["luu-tru/index.html", "luu-tru/2023/06/index.html"]:
        for link in Page(read(out, rel)).links:
            if link.startswith("/") and not link.startswith(("//", "/widgets/", "/api/")):
                path = link.split("#")[0].split("?")[0]
                target = out / (path.lstrip("/") + ("index.html" if path.endswith("/") else ""))
                assert target.is_file(), (rel, link)


def test_downloads_can_be_turned_off(tmp_path: Path) -> None:
    site = copy_site(tmp_path)
    toml = site / "site.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(text.replace("[site]\n", "[site]\narticle_downloads = false\n", 1), "utf-8")
    build_site(site, tmp_path / "o", cache_dir=tmp_path / "c")
    assert not (tmp_path / "o/tai-ve").exists()
    article = next((tmp_path / "o/bai-viet").glob("*.html")).read_text(encoding="utf-8")
    assert "/tai-ve/" not in article


def test_poll_english_texts_are_all_or_none(tmp_path: Path) -> None:
    site = copy_site(tmp_path)
    toml = site / "site.toml"
    text = toml.read_text(encoding="utf-8").replace(', label_en = "Good"', "", 1)
    toml.write_text(text, "utf-8")
    lines = build_problems(site, tmp_path)
    # The service's own reading of the polls (server.poll_config) refuses them: one rule.
    assert lines == [
        "site.toml:None:None: polls[0] (portal-rating): English texts incomplete: "
        "give question_en and a label_en to every option"
    ]


def test_a_page_without_title_or_in_a_wrong_folder_fails(tmp_path: Path) -> None:
    site = copy_site(tmp_path)
    (site / "pages/lich.md").write_text("---\nslug: lich\n---\nText.\n", "utf-8")
    (site / "pages/fr").mkdir()
    (site / "pages/fr/a.md").write_text("---\ntitle: A\n---\nTexte.\n", "utf-8")
    lines = build_problems(site, tmp_path)
    assert "pages/lich.md:None:title: missing" in lines
    assert "pages/fr/a.md:None:None: not a page folder" in lines
