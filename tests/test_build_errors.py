"""Bad content fails the build with a clear message naming the file and the problem."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from portal.builder import BuildError, build_site

REPO = Path(__file__).resolve().parent.parent
SITE = REPO / "site"

GOOD = """---
title: "Bài viết mẫu"
date: 2023-05-02T09:00:00+07:00
category: tin-tuc
author: Ban biên tập
---

Nội dung bài viết mẫu.
"""


def make_site(tmp_path: Path, files: dict[str, str]) -> Path:
    """A copy of the demo site's settings, templates and assets with the given content."""
    site = tmp_path / "site"
    shutil.copytree(SITE, site, ignore=shutil.ignore_patterns("content"))
    for rel, text in files.items():
        path = site / "content" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return site


def build_error(tmp_path: Path, files: dict[str, str]) -> str:
    site = make_site(tmp_path, {"tin-tuc/tot.md": GOOD, **files})
    with pytest.raises(BuildError) as info:
        build_site(site, tmp_path / "out", cache_dir=tmp_path / "cache")
    message = str(info.value)
    assert "Traceback" not in message
    return message


def article(front: str, body: str = "Nội dung.") -> str:
    return f"---\n{front.strip()}\n---\n\n{body}\n"


BASE_FRONT = "date: 2023-05-02T09:00:00+07:00\ncategory: tin-tuc\n"


def test_good_site_builds(tmp_path: Path) -> None:
    site = make_site(tmp_path, {"tin-tuc/tot.md": GOOD})
    report = build_site(site, tmp_path / "out", cache_dir=tmp_path / "cache")
    assert report.articles == 1
    assert (tmp_path / "out/bai-viet/bai-viet-mau.html").is_file()


def test_bad_yaml(tmp_path: Path) -> None:
    msg = build_error(
        tmp_path, {"tin-tuc/hong.md": '---\ntitle: "Chưa đóng\n  nháy: [\ndate: 2023\n---\nx\n'}
    )
    assert msg.startswith("content/tin-tuc/hong.md:")
    assert "not valid YAML" in msg


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    msg = build_error(
        tmp_path, {"a.md": "---\ntitle: Tốt\ndate: 2023-01-01\ncategory: [tin-tuc\n---\nx\n"}
    )
    assert msg.startswith("content/a.md:")
    assert "not valid YAML" in msg


def test_missing_front_matter(tmp_path: Path) -> None:
    msg = build_error(tmp_path, {"a.md": "# Chỉ có nội dung\n"})
    assert msg == "content/a.md: no YAML front matter (the file must start with a '---' line)"


def test_missing_title(tmp_path: Path) -> None:
    msg = build_error(tmp_path, {"tin-tuc/khong-ten.md": article(BASE_FRONT)})
    assert msg == "content/tin-tuc/khong-ten.md: missing required field 'title'"


@pytest.mark.parametrize("date", ["2023-13-45", "hôm qua", "21/03/2023"])
def test_bad_date(tmp_path: Path, date: str) -> None:
    msg = build_error(
        tmp_path, {"ngay.md": article(f'title: Ngày sai\ndate: "{date}"\ncategory: tin-tuc')}
    )
    assert msg.startswith("content/ngay.md: 'date' is not a valid date:")
    assert date in msg


def test_missing_date(tmp_path: Path) -> None:
    msg = build_error(tmp_path, {"ngay.md": article("title: Không ngày\ncategory: tin-tuc")})
    assert msg == "content/ngay.md: missing required field 'date'"


def test_unknown_category(tmp_path: Path) -> None:
    msg = build_error(
        tmp_path,
        {
            "x.md": article(
                "title: Lạc chuyên mục\ndate: 2023-01-01T08:00:00+07:00\ncategory: the-thao"
            )
        },
    )
    assert msg.startswith("content/x.md: unknown category 'the-thao'")
    assert "tin-tuc" in msg  # lists the known ones


def test_unknown_field(tmp_path: Path) -> None:
    msg = build_error(tmp_path, {"x.md": article("titel: Gõ nhầm\n" + BASE_FRONT)})
    assert msg.startswith("content/x.md: unknown front matter field 'titel'")


def test_broken_link_to_article_file(tmp_path: Path) -> None:
    msg = build_error(
        tmp_path,
        {"x.md": article("title: Liên kết\n" + BASE_FRONT, "Xem [bài khác](khong-co.md).")},
    )
    assert msg == "content/x.md: broken link to content/khong-co.md (no such article)"


def test_broken_absolute_link(tmp_path: Path) -> None:
    msg = build_error(
        tmp_path,
        {
            "x.md": article(
                "title: Liên kết\n" + BASE_FRONT, "Xem [trang](/bai-viet/khong-co.html)."
            )
        },
    )
    assert msg == (
        "content/x.md: broken internal link '/bai-viet/khong-co.html' (no such page or file)"
    )


def test_link_to_a_draft(tmp_path: Path) -> None:
    msg = build_error(
        tmp_path,
        {
            "x.md": article("title: Liên kết\n" + BASE_FRONT, "Xem [nháp](nhap.md)."),
            "nhap.md": article("title: Nháp\ndraft: true\n" + BASE_FRONT),
        },
    )
    assert msg == "content/x.md: links to content/nhap.md, which is not published yet"


def test_image_without_alt_text(tmp_path: Path) -> None:
    body = "![](/static/img/bai-viet/cay-cau.svg)"
    msg = build_error(tmp_path, {"anh.md": article("title: Ảnh\n" + BASE_FRONT, body)})
    assert msg.startswith(
        "content/anh.md: image '/static/img/bai-viet/cay-cau.svg' has no alt text"
    )


def test_front_matter_image_without_alt(tmp_path: Path) -> None:
    front = "title: Ảnh\nimage: /static/img/bai-viet/cay-cau.svg\n" + BASE_FRONT
    msg = build_error(tmp_path, {"anh.md": article(front)})
    assert msg.startswith("content/anh.md: front matter image")
    assert "image_alt" in msg


def test_missing_image_file(tmp_path: Path) -> None:
    body = "![Cây cầu](/static/img/khong-co.png)"
    msg = build_error(tmp_path, {"anh.md": article("title: Ảnh\n" + BASE_FRONT, body)})
    assert msg.startswith("content/anh.md: image '/static/img/khong-co.png' not found")


def test_explicit_slug_conflict(tmp_path: Path) -> None:
    msg = build_error(
        tmp_path,
        {
            "a.md": article("title: A\nslug: trung-ten\n" + BASE_FRONT),
            "b.md": article("title: B\nslug: trung-ten\n" + BASE_FRONT),
        },
    )
    assert msg == "content/b.md: slug 'trung-ten' is already used by content/a.md"


def test_all_errors_are_reported_together(tmp_path: Path) -> None:
    msg = build_error(
        tmp_path,
        {"a.md": article(BASE_FRONT), "b.md": "khong co front matter\n"},
    )
    lines = msg.splitlines()
    assert lines == [
        "content/a.md: missing required field 'title'",
        "content/b.md: no YAML front matter (the file must start with a '---' line)",
    ]


def test_bad_settings(tmp_path: Path) -> None:
    site = make_site(tmp_path, {"a.md": GOOD})
    toml = (site / "site.toml").read_text(encoding="utf-8")
    (site / "site.toml").write_text(
        toml.replace('timezone = "Asia/Ho_Chi_Minh"', 'timezone = "Sao/Hoa"'), encoding="utf-8"
    )
    with pytest.raises(BuildError, match=r"^site.toml \[site\]: unknown time zone 'Sao/Hoa'$"):
        build_site(site, tmp_path / "out", cache_dir=tmp_path / "cache")


def test_broken_navigation_link(tmp_path: Path) -> None:
    site = make_site(tmp_path, {"a.md": GOOD})
    toml = (site / "site.toml").read_text(encoding="utf-8")
    (site / "site.toml").write_text(
        toml.replace('url = "/tim-kiem.html"', 'url = "/khong-co.html"'), encoding="utf-8"
    )
    with pytest.raises(
        BuildError, match=r"site.toml \[\[nav\]\] 'Tìm kiếm': broken internal link '/khong-co.html'"
    ):
        build_site(site, tmp_path / "out", cache_dir=tmp_path / "cache")


def test_an_error_leaves_the_previous_build_alone(tmp_path: Path) -> None:
    site = make_site(tmp_path, {"a.md": GOOD})
    out = tmp_path / "out"
    build_site(site, out, cache_dir=tmp_path / "cache")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    (site / "content/b.md").write_text(article(BASE_FRONT), encoding="utf-8")
    with pytest.raises(BuildError):
        build_site(site, out, cache_dir=tmp_path / "cache")
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_cli_prints_the_error_without_traceback(tmp_path: Path) -> None:
    site = make_site(tmp_path, {"tin-tuc/khong-ten.md": article(BASE_FRONT)})
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "portal",
            "build",
            str(site),
            "-o",
            str(tmp_path / "out"),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 1
    assert "content/tin-tuc/khong-ten.md: missing required field 'title'" in result.stderr
    assert "Traceback" not in result.stderr


def test_template_mistakes_are_build_errors(tmp_path: Path) -> None:
    site = make_site(tmp_path, {"a.md": GOOD})
    (site / "templates/article.html").write_text(
        '{% extends "base.html" %}\n{% block main %}{% if %}{% endblock %}\n', encoding="utf-8"
    )
    with pytest.raises(BuildError, match=r"article\.html:2: template syntax error"):
        build_site(site, tmp_path / "out", cache_dir=tmp_path / "cache")
    (site / "templates/partials/latest.html").unlink()
    with pytest.raises(BuildError, match=r"'partials/latest\.html' not found"):
        build_site(site, tmp_path / "out", cache_dir=tmp_path / "cache")


def test_bad_poll_definition_fails_the_build(tmp_path: Path) -> None:
    site = make_site(tmp_path, {"tin-tuc/tot.md": GOOD})
    toml = site / "site.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(
        text.replace('{ id = "chua-tot", label = "Chưa tốt" },', '{ id = "tot", label = "Lặp" },'),
        encoding="utf-8",
    )
    with pytest.raises(BuildError, match="duplicate option id 'tot'") as info:
        build_site(site, tmp_path / "out", cache_dir=tmp_path / "cache")
    assert "site.toml" in str(info.value)
