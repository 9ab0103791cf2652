"""The parser's fast paths give exactly what the plain algorithms they replace give."""

from __future__ import annotations

import re
import sys
import unicodedata
from typing import Any

import pytest
import yaml
from anyascii import anyascii
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from portal.builder import content, search, slugs

# Vietnamese in both normal forms, the marks (in and out of U+0300-U+036F), every kind of
# whitespace, and the characters whose folding needs care: final sigma, dotted I, NUL.
VIETNAMESE = (
    "aăâeêioôơuưyđAĂÂEÊIOÔƠUƯYĐàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ"
)
MARKS = "\u0300\u0301\u0303\u0309\u0323\u0302\u0306\u031b\u0345\u1dc0\u20d0\u0591"
SPACES = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())
TRICKY = "\u03a3\u03c3\u03c2\u0391\u0392\u0130\u0131\u01c5\0\u00ad\u200b&<>;#'\"-:."
ALPHABET = VIETNAMESE + VIETNAMESE.upper() + MARKS + SPACES + TRICKY + "bcdnx019 "
# Surrogates excluded: every text parsed was decoded from UTF-8.
texts = st.text(st.sampled_from(ALPHABET) | st.characters(codec="utf-8"), max_size=300)
vietnamese = st.text(st.sampled_from(VIETNAMESE + MARKS + " \n"), max_size=300).map(
    lambda t: unicodedata.normalize("NFD", t) if len(t) % 2 else t
)

_COMBINING = re.compile("[\u0300-\u036f]+")


def reference_fold(text: str) -> str:
    """search.fold as it was: the whole text at once."""
    if not text.isascii():
        text = _COMBINING.sub("", unicodedata.normalize("NFD", text))
        text = text.replace("đ", "d").replace("Đ", "d")
    return " ".join(text.lower().split())


@settings(max_examples=600, deadline=None)
@given(st.lists(texts | vietnamese, min_size=1, max_size=4))
def test_fold_word_by_word_is_folding_the_whole(parts: list[str]) -> None:
    for text in parts:  # later texts meet words the earlier ones taught
        assert search.fold(text) == reference_fold(text)
        assert search.fold(text) == reference_fold(text)  # every word known now


def test_fold_starts_over_when_it_knows_too_many_words(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search, "_FOLDED_MAX", 5)
    texts = ["Đường làng ngõ xóm sạch đẹp, ĐƯỜNG LÀNG \u0301 ΟΔΟΣ\0Σ", "làng mới", "làng"]
    for text in texts * 2:  # known words are forgotten while a text is folded
        assert search.fold(text) == reference_fold(text)
        assert len(search._FOLDED) <= 5


def test_whitespace_folds_to_whitespace_and_ends_a_final_sigma() -> None:
    """What folding word by word relies on."""
    for c in SPACES:
        assert unicodedata.combining(c) == 0
        assert search._unmarked(c).isspace()
        # \u03a3: capital sigma, final before any whitespace.
        assert reference_fold(f"\u0391\u03a3{c}\u0392") == "\u03b1\u03c2 \u03b2"


# Front matter lines: what editors write, and what PyYAML builds in its own way.
LINES = [
    "title: Tiêu đề", 'title: "Tiêu đề: có dấu"', "title: 'x' y", "title:", "title: yes",
    "title: !!str 12", "title: !!binary aGVsbG8=", "title: !custom x", "title: [unclosed",
    "date: 2023-05-02T09:00:00+07:00", "date: 2023-05-02", "date: 2023-13-01", "date: 0b_",
    "date: 2023-05-02 09:00:00.5 -7", "date: 1:30", "draft: true", "draft: Off", "draft: ~",
    "tags: [a, b]", "tags:\n  - a\n  - 2\n  - [c]", "tags: !!set {a, b}", "tags: !!omap [a: 1]",
    "tags: []", "tags: [a, {b: c}]", "author: &a Tên", "category: *a", "summary: *a",
    "x: &r [*r]", "<<: {image: /static/a.jpg}", "<<: [{x: 1}, {x: 2}]", "= : v",
    "? complex\n: key", "[a]: b", "{a: 1}: 2", "1: 2", "true: x", "null: y", "2023-01-01: d",
    "a: 1\na: 2", "a: .nan", "a: -.inf", "a: 0x1_F", "a: 0o17", "a: 017", "a: 1_000.5e2",
    "summary: |\n  block\n  text", "summary: >-\n  folded", "%YAML 1.1", "- item", "\ttab: x",
    "--- second", "...", "key without colon", "a: 'multi\n  line'", "!!map {a: 1}",
    "l: [0b_, 1]", "m: [x, 2023-02-30]", "n: [1_0, 0x_]",
]  # fmt: skip


def outcome(load: Any, text: str) -> str:
    try:
        return repr(load(text))
    except Exception as exc:  # the same error, with the same message, is the same outcome
        return f"{type(exc).__name__}: {exc}"


@pytest.mark.parametrize("base", [yaml.CSafeLoader, yaml.SafeLoader])
@settings(max_examples=400, deadline=None)
@given(lines=st.lists(st.sampled_from(LINES) | texts.map(lambda t: f"k: {t}"), max_size=8))
def test_front_matter_loader_is_safe_loader(base: Any, lines: list[str]) -> None:
    loader = content.front_matter_loader(base)
    text = "\n".join(lines)
    expected = outcome(lambda t: yaml.load(t, Loader=base), text)
    assert outcome(lambda t: yaml.load(t, Loader=loader), text) == expected
    assert outcome(lambda t: yaml.load(t, Loader=loader), text) == expected  # tags cached


@pytest.mark.parametrize(
    "text",
    [
        "l: [0b_]\nm: [2023-02-30]",  # the first list's error
        "m: [2023-02-30]\nd: 0b_",  # a scalar's error before any list's
        "0b_: [2023-02-30]",  # a key's before its value's
        "a: [1]\na: [0b_]\nb: 2023-13-01",
        "k: &x [0b_]\nj: *x\nd: 2023-02-30",
    ],
)
def test_front_matter_loader_raises_the_error_safe_loader_raises(text: str) -> None:
    expected = outcome(lambda t: yaml.load(t, Loader=yaml.CSafeLoader), text)
    assert "Error" in expected
    assert outcome(content._load_yaml, text) == expected


def test_only_the_space_is_printable_whitespace() -> None:
    """What content._collapse relies on."""
    assert [c for c in SPACES if c.isprintable()] == [" "]


@settings(max_examples=600, deadline=None)
@given(texts)
def test_collapse(text: str) -> None:
    assert content._collapse(text) == " ".join(text.split())


def reference_first_paragraph(html: str) -> str:
    for m in re.finditer(r"<p>(.*?)</p>", html, re.S):
        first = content._plain(m.group(1))
        if first:
            return first
    return ""


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["<p>", "</p>", "<p></p>", "<em>", "&amp;", " ", "\n"]) | texts))
def test_first_paragraph(pieces: list[str]) -> None:
    html = "".join(pieces)
    assert content._first_paragraph(html) == reference_first_paragraph(html)


@settings(max_examples=200, deadline=None)
@given(st.lists(texts | vietnamese, max_size=6).map("\n\n".join))
def test_first_paragraph_of_rendered_markdown(body: str) -> None:
    try:
        html = content.markdown().render(body)
    except BaseException as exc:  # markdown-it.rs panics on some text ("[`x"): a problem
        assume(type(exc).__name__ != "PanicException")  # of the file, tested elsewhere
        raise
    assert content._first_paragraph(html) == reference_first_paragraph(html)


def reference_slugify(text: str, max_length: int = 80) -> str:
    """slugs.slugify as it was: anyascii on the whole text."""
    slug = re.sub(r"[^a-z0-9]+", "-", anyascii(unicodedata.normalize("NFC", text)).lower())
    slug = slug.strip("-")
    if len(slug) > max_length:
        cut = slug[:max_length]
        slug = cut.rsplit("-", 1)[0] if "-" in cut else cut
    return slug


@settings(max_examples=600, deadline=None)
@given(texts | vietnamese | st.text(st.characters(codec="utf-8"), max_size=100))
def test_slugify(text: str) -> None:
    assert slugs.slugify(text) == reference_slugify(text)
    assert slugs.slugify(text, max_length=12) == reference_slugify(text, 12)


def test_transliteration_table_is_anyascii_for_every_character() -> None:
    for start in range(0, sys.maxunicode + 1, 0x1000):
        chunk = "".join(map(chr, range(start, start + 0x1000)))
        assert chunk.translate(slugs._ASCII) == anyascii(chunk), hex(start)


def reference_start_text(html: str) -> str:
    head = html[: content.TEXT_LIMIT * 3]
    if head.rfind("<") > head.rfind(">"):
        head = head[: head.rfind("<")]
    return content._plain(head)[: content.TEXT_LIMIT]


HTML_PIECES = ["<p>", "</p>", '<a href="x">', "<", ">", "<>", "&amp;", "&#1234", "&#", "&am", " "]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(HTML_PIECES) | texts, max_size=60))
def test_start_text(pieces: list[str]) -> None:
    html = "".join(pieces) * 3
    assert content._start_text(html) == reference_start_text(html)


@settings(max_examples=200, deadline=None)
@given(st.lists(texts | vietnamese | st.sampled_from(["# H", "- a", "![x](/a.png)"]), max_size=12))
def test_start_text_of_rendered_markdown(paragraphs: list[str]) -> None:
    html = content.markdown().render("\n\n".join(paragraphs * 3))
    assert content._start_text(html) == reference_start_text(html)
