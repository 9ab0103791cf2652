"""The parser's fast paths give exactly what the plain algorithms they replace give."""

from __future__ import annotations

import re
import sys
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.builder import search

# Vietnamese in both normal forms, the marks (in and out of U+0300-U+036F), every kind of
# whitespace, and the characters whose folding needs care: final sigma, dotted I, NUL.
VIETNAMESE = (
    "aăâeêioôơuưyđAĂÂEÊIOÔƠUƯYĐàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ"
)
MARKS = "\u0300\u0301\u0303\u0309\u0323\u0302\u0306\u031b\u0345\u1dc0\u20d0\u0591"
SPACES = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())
TRICKY = "\u03a3\u03c3\u03c2\u0391\u0392\u0130\u0131\u01c5\0\u00ad\u200b&<>;#'\"-:."
ALPHABET = VIETNAMESE + VIETNAMESE.upper() + MARKS + SPACES + TRICKY + "bcdnx019 "
texts = st.text(st.sampled_from(ALPHABET) | st.characters(), max_size=300)
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
    text = "Đường làng ngõ xóm sạch đẹp, ĐƯỜNG LÀNG \u0301 ΟΔΟΣ\0Σ"
    for _ in range(3):
        assert search.fold(text) == reference_fold(text)
        assert len(search._FOLDED) <= len(set(text.split()))


def test_every_character_folds_alone_and_keeps_a_nul_separator() -> None:
    """What folding words joined by NUL relies on, checked for every code point."""
    for c in map(chr, range(sys.maxunicode + 1)):
        if 0xD800 <= ord(c) < 0xE000:
            continue
        assert ("\0" in search._unmarked(c)) == (c == "\0"), hex(ord(c))
        if c.isspace():
            assert unicodedata.combining(c) == 0
            assert search._unmarked(c).isspace()
            # A final sigma stays final before any whitespace (\u03a3: capital sigma).
            assert reference_fold(f"\u0391\u03a3{c}\u0392") == "\u03b1\u03c2 \u03b2"
