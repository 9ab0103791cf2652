"""Bad content fails the build with a clear message naming the file and the problem."""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from portal.builder import BuildError, build_site
from portal.builder.errors import Problem

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


def build_problems(tmp_path: Path, files: dict[str, str]) -> list[Problem]:
    """The problems of a build of the demo settings with these content files."""
    site = make_site(tmp_path, {"tin-tuc/tot.md": GOOD, **files})
    with pytest.raises(BuildError) as info:
        build_site(site, tmp_path / "out", cache_dir=tmp_path / "cache")
    assert "Traceback" not in str(info.value)
    assert str(info.value) == "\n".join(str(p) for p in info.value.problems)
    return info.value.problems


def build_error(tmp_path: Path, files: dict[str, str]) -> str:
    """The one line of a build with exactly one problem."""
    problems = build_problems(tmp_path, files)
    assert len(problems) == 1, problems
    return str(problems[0])


def article(front: str, body: str = "Nội dung.") -> str:
    return f"---\n{front.strip()}\n---\n\n{body}\n"


BASE_FRONT = "date: 2023-05-02T09:00:00+07:00\ncategory: tin-tuc\n"


def test_good_site_builds(tmp_path: Path) -> None:
    site = make_site(tmp_path, {"tin-tuc/tot.md": GOOD})
    report = build_site(site, tmp_path / "out", cache_dir=tmp_path / "cache")
    assert report.articles == 1
    assert (tmp_path / "out/bai-viet/bai-viet-mau.html").is_file()


def test_problem_record_reads_as_one_line() -> None:
    problem = Problem("content/tin-tuc/a.md", 3, "title", "missing", "add a title: line")
    assert str(problem) == "content/tin-tuc/a.md:3: title: missing; add a title: line"
    assert problem.as_json() == {
        "file": "content/tin-tuc/a.md",
        "line": 3,
        "field": "title",
        "message": "missing",
        "hint": "add a title: line",
    }
    assert str(Problem("site.toml", None, None, "no categories", None)) == (
        "site.toml: no categories"
    )
    error = BuildError([problem, Problem("content/b.md", None, None, "x", None)])
    assert str(error).splitlines() == [str(error.problems[0]), str(error.problems[1])]
    assert pickle.loads(pickle.dumps(error)).problems == error.problems


def test_bad_yaml(tmp_path: Path) -> None:
    msg = build_error(
        tmp_path, {"tin-tuc/hong.md": '---\ntitle: "Chưa đóng\n  nháy: [\ndate: 2023\n---\nx\n'}
    )
    assert msg.startswith("content/tin-tuc/hong.md:")
    assert "not valid YAML" in msg


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    [problem] = build_problems(
        tmp_path, {"a.md": "---\ntitle: Tốt\ndate: 2023-01-01\ncategory: [tin-tuc\n---\nx\n"}
    )
    assert (problem.file, problem.line) == ("content/a.md", 5)
    assert "not valid YAML" in problem.message


@pytest.mark.parametrize("line", ["date: 2023-13-01", "so: 0b_"])
def test_a_value_yaml_reads_but_python_cannot_hold_is_a_problem(tmp_path: Path, line: str) -> None:
    """`date: 2023-13-01` is a YAML timestamp no date can be: a problem of its file, reported
    with the others of the run, never a crash."""
    problems = build_problems(
        tmp_path,
        {
            "a.md": f"---\ntitle: Tốt\ndate: 2023-01-01\ncategory: tin-tuc\n{line}\n---\nx\n",
            "b.md": article("title: Thiếu chuyên mục\ndate: 2023-01-01"),
        },
    )
    assert sorted(p.file for p in problems) == ["content/a.md", "content/b.md"]
    [bad] = [p for p in problems if p.file == "content/a.md"]
    assert "not possible" in bad.message and bad.hint and "date" in bad.hint


def test_text_the_markdown_renderer_fails_on_is_a_problem(tmp_path: Path) -> None:
    """markdown-it.rs panics on "[`x" (an unclosed code span after a bracket): a problem of
    its file, reported with the others of the run, never a crash."""
    problems = build_problems(
        tmp_path,
        {
            "a.md": article(BASE_FRONT + "title: Tốt", "Xem [`x"),
            "b.md": article("title: Thiếu chuyên mục\ndate: 2023-01-01"),
        },
    )
    assert sorted(p.file for p in problems) == ["content/a.md", "content/b.md"]
    [bad] = [p for p in problems if p.file == "content/a.md"]
    assert "Markdown" in bad.message and bad.hint


def test_missing_front_matter(tmp_path: Path) -> None:
    msg = build_error(tmp_path, {"a.md": "# Chỉ có nội dung\n"})
    assert msg == "content/a.md:1: no YAML front matter; the file must start with a '---' line"


def test_missing_title(tmp_path: Path) -> None:
    msg = build_error(tmp_path, {"tin-tuc/khong-ten.md": article(BASE_FRONT)})
    assert (
        msg == "content/tin-tuc/khong-ten.md: title: missing; add a title: line to the front matter"
    )


@pytest.mark.parametrize("date", ["2023-13-45", "hôm qua", "21/03/2023"])
def test_bad_date(tmp_path: Path, date: str) -> None:
    msg = build_error(
        tmp_path, {"ngay.md": article(f'title: Ngày sai\ndate: "{date}"\ncategory: tin-tuc')}
    )
    assert msg.startswith("content/ngay.md:3: date: not a valid date:")
    assert date in msg
    assert "ISO 8601" in msg


def test_missing_date(tmp_path: Path) -> None:
    msg = build_error(tmp_path, {"ngay.md": article("title: Không ngày\ncategory: tin-tuc")})
    assert msg.startswith("content/ngay.md: date: missing; add a date: line")


def test_unknown_category(tmp_path: Path) -> None:
    [problem] = build_problems(
        tmp_path,
        {
            "x.md": article(
                "title: Lạc chuyên mục\ndate: 2023-01-01T08:00:00+07:00\ncategory: tin-tc"
            )
        },
    )
    assert (problem.file, problem.field) == ("content/x.md", "category")
    assert problem.message == "unknown 'tin-tc'"
    assert problem.hint == "did you mean 'tin-tuc'?"


def test_unknown_field_suggests_the_known_one(tmp_path: Path) -> None:
    msg = build_error(tmp_path, {"x.md": article("title: Gõ nhầm\ncatgory: x\n" + BASE_FRONT)})
    assert msg == ("content/x.md:3: catgory: unknown front matter field; did you mean 'category'?")


def test_unknown_field_far_from_any(tmp_path: Path) -> None:
    [problem] = build_problems(tmp_path, {"x.md": article("title: A\nzzz: 1\n" + BASE_FRONT)})
    assert (problem.field, problem.hint) == ("zzz", None)


def test_broken_link_to_article_file(tmp_path: Path) -> None:
    msg = build_error(
        tmp_path,
        {"x.md": article("title: Liên kết\n" + BASE_FRONT, "Xem [bài khác](khong-co.md).")},
    )
    assert msg.startswith("content/x.md: broken link to content/khong-co.md (no such article)")


def test_broken_absolute_link(tmp_path: Path) -> None:
    msg = build_error(
        tmp_path,
        {
            "x.md": article(
                "title: Liên kết\n" + BASE_FRONT, "Xem [trang](/bai-viet/khong-co.html)."
            )
        },
    )
    assert msg.startswith(
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
    assert msg.startswith("content/x.md: links to content/nhap.md, which is not published yet")


def test_image_without_alt_text_names_its_line(tmp_path: Path) -> None:
    body = "Đoạn đầu.\n\n![](/static/img/bai-viet/cay-cau.svg)"
    msg = build_error(tmp_path, {"anh.md": article("title: Ảnh\n" + BASE_FRONT, body)})
    # Front matter lines 1-5, a blank line, the paragraph, a blank line, the image.
    assert msg.startswith(
        "content/anh.md:9: image '/static/img/bai-viet/cay-cau.svg' has no alt text; "
        "write ![description]"
    )


def test_front_matter_image_without_alt(tmp_path: Path) -> None:
    front = "title: Ảnh\nimage: /static/img/bai-viet/cay-cau.svg\n" + BASE_FRONT
    [problem] = build_problems(tmp_path, {"anh.md": article(front)})
    assert (problem.line, problem.field) == (3, "image")
    assert "image_alt" in (problem.hint or "")


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
    assert msg.startswith("content/b.md: slug: 'trung-ten' is already used by content/a.md")


def test_one_file_with_several_problems_reports_them_all(tmp_path: Path) -> None:
    front = (
        "titel: Nhiều lỗi\ndate: hôm qua\ncategory: the-thao\n"
        "image: /static/img/bai-viet/cay-cau.svg\n"
    )
    body = "![](/static/img/khong-co.png)\n\nXem [x](khac.md) và [y](tuong-doi.html)."
    problems = build_problems(tmp_path, {"tin-tuc/hong.md": article(front, body)})
    assert {p.file for p in problems} == {"content/tin-tuc/hong.md"}
    found = {(p.line, p.field, p.message.split(":")[0]) for p in problems}
    assert found == {
        (2, "titel", "unknown front matter field"),
        (None, "title", "missing"),
        (3, "date", "not a valid date"),
        (5, "image", "'/static/img/bai-viet/cay-cau.svg' has no alt text"),
        (8, None, "image '/static/img/khong-co.png' has no alt text"),
        (10, None, "relative link 'tuong-doi.html'"),
    }
    titel = next(p for p in problems if p.field == "titel")
    assert titel.hint == "did you mean 'title'?"


def test_problems_of_every_kind_in_one_run(tmp_path: Path) -> None:
    """Parse problems of one file do not hide the cross-file problems of others."""
    problems = build_problems(
        tmp_path,
        {
            "a.md": article(BASE_FRONT),
            "b.md": "khong co front matter\n",
            "c.md": article("title: C\ndate: 2023-01-01\ncategory: the-thao"),
            "d.md": article("title: D\n" + BASE_FRONT, "![Ảnh](/static/khong-co.png)"),
        },
    )
    assert [str(p).split(";")[0] for p in problems] == [
        "content/a.md: title: missing",
        "content/b.md:1: no YAML front matter",
        "content/c.md: category: unknown 'the-thao'",
        "content/d.md: image '/static/khong-co.png' not found",
    ]


def test_settings_typo_suggests_the_key(tmp_path: Path) -> None:
    site = make_site(tmp_path, {"a.md": GOOD})
    toml = (site / "site.toml").read_text(encoding="utf-8")
    (site / "site.toml").write_text(
        toml.replace("latest_count = 6", "latst_count = 6"), encoding="utf-8"
    )
    line = 1 + toml.splitlines().index("latest_count = 6")
    with pytest.raises(BuildError) as info:
        build_site(site, tmp_path / "out", cache_dir=tmp_path / "cache")
    assert str(info.value) == (
        f"site.toml:{line}: latst_count: unknown setting in [site]; did you mean 'latest_count'?"
    )


def test_settings_and_content_problems_together(tmp_path: Path) -> None:
    site = make_site(tmp_path, {"a.md": article(BASE_FRONT)})
    toml = (site / "site.toml").read_text(encoding="utf-8")
    toml = toml.replace("page_size = 10", "page_size = 0").replace("[site]", "[sites]\n[site]")
    (site / "site.toml").write_text(toml + '\n[[nav]]\nlabel = "X"\nurll = "/"\n', "utf-8")
    with pytest.raises(BuildError) as info:
        build_site(site, tmp_path / "out", cache_dir=tmp_path / "cache")
    lines = [str(p).split(";")[0] for p in info.value.problems]
    assert "content/a.md: title: missing" in lines
    assert any(x.startswith("site.toml") and "page_size: must be at least 1" in x for x in lines)
    assert "site.toml: sites: unknown setting in the top level" in lines
    assert "site.toml: urll: unknown setting in [[nav]] #9" in lines
    assert "site.toml: url: missing in [[nav]] #9" in lines
    hints = {p.field: p.hint for p in info.value.problems}
    assert hints["sites"] == "did you mean 'site'?"
    assert hints["urll"] == "did you mean 'url'?"


def test_bad_settings(tmp_path: Path) -> None:
    site = make_site(tmp_path, {"a.md": GOOD})
    toml = (site / "site.toml").read_text(encoding="utf-8")
    (site / "site.toml").write_text(
        toml.replace('timezone = "Asia/Ho_Chi_Minh"', 'timezone = "Sao/Hoa"'), encoding="utf-8"
    )
    with pytest.raises(BuildError, match=r"^site.toml:\d+: timezone: unknown time zone 'Sao/Hoa'"):
        build_site(site, tmp_path / "out", cache_dir=tmp_path / "cache")


def test_broken_navigation_link(tmp_path: Path) -> None:
    site = make_site(tmp_path, {"a.md": GOOD})
    toml = (site / "site.toml").read_text(encoding="utf-8")
    (site / "site.toml").write_text(
        toml.replace('url = "/tim-kiem.html"', 'url = "/khong-co.html"'), encoding="utf-8"
    )
    with pytest.raises(
        BuildError,
        match=r"^site.toml: broken internal link '/khong-co.html' in \[\[nav\]\] 'Tìm kiếm'",
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
    assert "content/tin-tuc/khong-ten.md: title: missing; add a title: line" in result.stderr
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
        text.replace(
            '{ id = "chua-tot", label = "Chưa tốt", label_en = "Not good yet" },',
            '{ id = "tot", label = "Lặp" },',
        ),
        encoding="utf-8",
    )
    with pytest.raises(BuildError, match="duplicate option id 'tot'") as info:
        build_site(site, tmp_path / "out", cache_dir=tmp_path / "cache")
    assert "site.toml" in str(info.value)
