"""The builder's Jinja environment renders exactly as a stock autoescaping one does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from jinja2 import DictLoader, Environment, StrictUndefined, UndefinedError
from markupsafe import Markup, escape

from portal.builder import jinja_env

TEMPLATES = {
    "outputs.html": (
        "{{ text }}|{{ markup }}|{{ none }}|{{ number }}|{{ decimal }}|{{ obj }}|{{ html_obj }}"
        "|{{ text ~ markup }}|{{ markup ~ text }}|{{ text | safe }}|{{ text | e }}"
        "|{{ items | join(', ') }}|{{ text | upper }}|{{ text | urlencode }}"
        "|{{ 'a<b' }}|{{ '<b>' if number else '' }}\n"
    ),
    "blocks.html": (
        "{% set captured %}<i>{{ text }}</i>{% endset %}{{ captured }}|{{ captured | length }}"
        "{% macro link(url, label) %}<a href='{{ url }}'>{{ label }}</a>{% endmacro %}"
        "|{{ link(text, markup) }}|{{ link(text, markup) | upper }}"
        "{% macro wrap() %}[{{ caller() }}]{% endmacro %}"
        "|{% call wrap() %}{{ text }}{% endcall %}"
        "|{% filter upper %}{{ text }}{% endfilter %}"
        "|{% for x in items %}{{ loop.index }}{{ x }}{% endfor %}"
        "|{% include 'inc.html' %}|{% with text = markup %}{% include 'inc.html' %}{% endwith %}"
        "|{% autoescape false %}{{ text }}{% endautoescape %}\n"
    ),
    "inc.html": "<{{ text }}>",
    "child.html": "{% extends 'base.html' %}{% block b %}{{ super() }}{{ text }}{% endblock %}",
    "base.html": "<{% block b %}{{ markup }}{% endblock %}>",
}


class _Html:
    def __html__(self) -> str:
        return "<u>ok</u>"


class _Obj:
    def __str__(self) -> str:
        return "a & b <c>"


CONTEXT: dict[str, Any] = {
    "text": "Tin <b>\"mới\"</b> & 'cũ' · Đà Nẵng",
    "markup": Markup("<em>an</em> &amp; b"),
    "none": None,
    "number": 42,
    "decimal": 1.5,
    "obj": _Obj(),
    "html_obj": _Html(),
    "items": ["<x>", Markup("<y>"), 3],
}


def _environments(tmp_path: Path) -> tuple[Environment, Environment]:
    ours = jinja_env.make_environment(tmp_path, tmp_path)
    ours.loader = DictLoader(TEMPLATES)
    stock = Environment(
        loader=DictLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return ours, stock


@pytest.mark.parametrize("name", ["outputs.html", "blocks.html", "child.html"])
def test_outputs_escape_as_markupsafe_does(tmp_path: Path, name: str) -> None:
    ours, stock = _environments(tmp_path)
    html = ours.get_template(name).render(CONTEXT)
    assert html == stock.get_template(name).render(CONTEXT)
    assert escape(CONTEXT["text"]) in html  # (the contexts did have something to escape)


def test_escape_output_is_markupsafe_escape() -> None:
    for value in (*CONTEXT.values(), "", "&amp;", "\x00<", Markup(""), 0, True):
        assert jinja_env.escape_output(value) == str(escape(value))
        assert type(jinja_env.escape_output(value)) in (str, Markup)


def test_undefined_still_fails(tmp_path: Path) -> None:
    ours, _ = _environments(tmp_path)
    with pytest.raises(UndefinedError):
        ours.from_string("{{ missing }}").render()


def test_bytecode_cached_templates_escape_alike(tmp_path: Path) -> None:
    # A template loaded from the bytecode cache gets the same escaping as a compiled one.
    templates = tmp_path / "t"
    templates.mkdir()
    for name, source in TEMPLATES.items():
        (templates / name).write_text(source, encoding="utf-8")
    (tmp_path / "bc").mkdir()
    first = jinja_env.make_environment(templates, templates, tmp_path / "bc")
    html = first.get_template("blocks.html").render(CONTEXT)
    again = jinja_env.make_environment(templates, templates, tmp_path / "bc")
    assert again.get_template("blocks.html").render(CONTEXT) == html
    assert any((tmp_path / "bc").iterdir())


@pytest.mark.parametrize(
    "value",
    [
        "",
        " ",
        "  hai  khoảng trắng ",
        'Quận Hải Châu: tổng kết năm 2024 & "mới" <cũ> 100% + ~/_.-',
        "https://example.gov.vn/bai-viet/tin-moi.html?a=1&b=2#x",
        "\x00\x7f\t\n😀 Ω",
        Markup("<b>đậm</b> a"),
        42,
        None,
        {"q": "tìm kiếm", "n": 2},
        [("a", "b c"), ("d", "é")],
    ],
)
def test_urlencode_is_jinjas(value: Any) -> None:
    from jinja2.filters import do_urlencode

    assert jinja_env.urlencode(value) == do_urlencode(value)
    assert jinja_env.urlencode(value) == do_urlencode(value)  # (and again, from the cache)


def test_fragment_writes_what_include_writes(tmp_path: Path) -> None:
    ours, _ = _environments(tmp_path)
    ours.loader = DictLoader(
        {
            **TEMPLATES,
            "w.html": (
                '{#- a widget -#}\n<p{% if page %} data-page="{{ page }}"{% endif %}>'
                "{{ text }}</p>\n"
            ),
            "inc.html": "a\n  {% with page = p %}\n  {% include 'w.html' %}\n  {% endwith %}\nb\n",
            "frag.html": "a\n  {% fragment 'w.html' page=p, text=text %}\nb\n",
        }
    )
    for p in ("/x.html", None, "/x.html", "<&>"):
        context = {"p": p, "text": CONTEXT["text"]}
        html = ours.get_template("frag.html").render(context)
        assert html == ours.get_template("inc.html").render(context)
        assert escape(CONTEXT["text"]) in html


def test_fragment_sees_only_its_variables(tmp_path: Path) -> None:
    ours, _ = _environments(tmp_path)
    ours.globals["site_wide"] = "x"
    ours.loader = DictLoader(
        {
            "uses_page_var.html": "{{ text }}",
            "uses_global.html": "{{ site_wide }}",
            "list.html": "{% for i in items %}{{ i }}{% endfor %}{{ range(2) | list }}",
        }
    )
    page = ours.from_string("{% fragment 'uses_page_var.html' %}")
    with pytest.raises(UndefinedError):
        page.render(text="a")
    with pytest.raises(UndefinedError):
        ours.from_string("{% fragment 'uses_global.html' %}").render()
    # A value that can't be a key (a list) is rendered each time, with Jinja's own globals.
    listed = ours.from_string("{% fragment 'list.html' items=items %}")
    assert listed.render(items=[1, 2]) == "12[0, 1]"
    assert listed.render(items=[3]) == "3[0, 1]"


def test_fragment_is_rendered_when_the_page_is(tmp_path: Path) -> None:
    # Never while compiling: the bytecode cache would keep an old fragment.
    templates = tmp_path / "t"
    templates.mkdir()
    (tmp_path / "bc").mkdir()
    (templates / "page.html").write_text("[{% fragment 'part.html' %}]", encoding="utf-8")
    for text in ("one", "two"):
        (templates / "part.html").write_text(text, encoding="utf-8")
        env = jinja_env.make_environment(templates, templates, tmp_path / "bc")
        assert env.get_template("page.html").render() == f"[{text}]"
