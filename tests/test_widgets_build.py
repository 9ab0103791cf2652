"""The widget files themselves: size budget, the minified script in sync with its source,
style isolation and CSP-safe markup. No browser needed."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

import jinja2
import pytest

from tests.conftest import REPO
from tests.widget_fixtures import WIDGETS, site_polls

BUDGET = 3500  # all widget JS + CSS a page loads, gzip -9
TERSER = REPO / "node_modules" / ".bin" / "terser"
# The one way widgets/portal.js is made from widgets/src/portal.js (also in widgets/README.md).
# Every option here is one terser's command line honours (`terser --help`).
MINIFY = ["--ecma", "2021", "--compress", "--mangle", "--comments", "false"]


def _bench() -> object:
    spec = importlib.util.spec_from_file_location("widget_size", REPO / "bench/widget_size.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_widgets_fit_the_size_budget() -> None:
    sizes = _bench().sizes()  # type: ignore[attr-defined]
    _raw, gzipped, _brotli = sizes["total"]
    assert gzipped <= BUDGET, f"{gzipped} bytes gzip -9 is over the {BUDGET} byte budget"


def test_the_served_script_is_the_minified_source(tmp_path: Path) -> None:
    if not TERSER.exists() and not shutil.which("terser"):
        pytest.skip("terser is not installed: npm install --no-save terser@5.51.4")
    terser = str(TERSER) if TERSER.exists() else "terser"
    out = tmp_path / "portal.js"
    subprocess.run(
        [terser, str(WIDGETS / "src/portal.js"), *MINIFY, "-o", str(out)], check=True, cwd=REPO
    )
    assert out.read_bytes() == (WIDGETS / "portal.js").read_bytes(), (
        "widgets/portal.js is stale: rebuild it from widgets/src/portal.js (widgets/README.md)"
    )


def _selectors(css: str) -> list[str]:
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    return [s.strip() for block in re.findall(r"([^{}]+)\{", css) for s in block.split(",")]


def test_every_css_rule_stays_inside_the_widgets() -> None:
    selectors = _selectors((WIDGETS / "portal.css").read_text(encoding="utf-8"))
    assert selectors
    for selector in selectors:
        assert re.match(r"^(\.portal-[\w-]+|\[data-portal-[\w-]+\])", selector), selector
        assert "!important" not in selector


def test_templates_and_script_use_no_inline_styles_or_scripts() -> None:
    for path in [*WIDGETS.glob("templates/*.html"), WIDGETS / "embed.html"]:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\sstyle\s*=", text), path
        assert not re.search(r"<script(?![^>]*\ssrc=)", text), path
        assert not re.search(r"\son[a-z]+\s*=", text), path
    source = (WIDGETS / "src/portal.js").read_text(encoding="utf-8")
    assert "innerHTML" not in source and 'setAttribute("style"' not in source
    assert "eval(" not in source and "new Function" not in source


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("open_", [True, False])
def test_the_poll_partial_renders_a_no_javascript_ballot(lang: str, open_: bool) -> None:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(WIDGETS / "templates"), autoescape=True)
    poll = {**site_polls()["portal-rating"], "open": open_}
    html = env.get_template("poll.html").render(poll=poll, lang=lang, api="")
    assert 'data-portal-poll="portal-rating"' in html
    if open_:
        assert '<form class="portal-poll__form" method="post"' in html
        assert 'action="/api/polls/portal-rating/votes"' in html
        assert html.count('type="radio" name="option"') == len(poll["options"])
        assert "<legend" in html
        assert ("Vote" if lang == "en" else "Bình chọn") in html
    else:
        assert "<form" not in html and "radio" not in html
        assert ("closed" if lang == "en" else "kết thúc") in html


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_poll_partial_says_when_a_closed_poll_has_not_opened_yet(lang: str) -> None:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(WIDGETS / "templates"), autoescape=True)
    poll = {**site_polls()["portal-rating"], "open": False, "not_yet_open": True}
    html = env.get_template("poll.html").render(poll=poll, lang=lang, api="")
    assert "<form" not in html
    assert ("is not open yet" if lang == "en" else "chưa bắt đầu") in html


def test_the_stats_partial_is_a_mount_point_for_the_script() -> None:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(WIDGETS / "templates"), autoescape=True)
    html = env.get_template("stats.html").render(api="https://portal.example", lang="en").strip()
    assert html == (
        '<div class="portal-stats" data-portal-stats data-portal-api="https://portal.example"'
        ' lang="en"></div>'
    )
