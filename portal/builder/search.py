"""The client-side search index: folded text so "tin moi" finds "tin mới"."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from json.encoder import encode_basestring as _encode  # C speed-up

_COMBINING = re.compile("[\u0300-\u036f]+")

#: Folded words. A text is mostly the same few thousand words, and folding it whole costs a
#: regex match per accented letter; a known word costs one dict probe.
_FOLDED: dict[str, str] = {}
_FOLDED_MAX = 100_000  # then it starts over (a long-running server sees many words)


def _unmarked(text: str) -> str:
    """Lowercase, without tone marks or other diacritics; whitespace kept as it is."""
    if not text.isascii():
        text = _COMBINING.sub("", unicodedata.normalize("NFD", text))
        text = text.replace("đ", "d").replace("Đ", "d")
    return text.lower()


def fold(text: str) -> str:
    """Lowercase, without tone marks or other diacritics, whitespace collapsed.

    đ/Đ carry no combining mark (NFD leaves them alone), so they are mapped by hand. The
    browser side (site/static/js/search.js) folds queries the same way.
    """
    # Word by word equals the whole text at once: whitespace is a starter (NFD never
    # reorders marks across it), stays whitespace, and ends a final sigma's context.
    words = text.split()
    try:
        return " ".join(map(_FOLDED.__getitem__, words))
    except KeyError:
        folded = _learn(words)
    return " ".join([f for f in map(folded.__getitem__, words) if f])


def _learn(words: list[str]) -> dict[str, str]:
    """Each distinct word's fold ("" for, say, a lone combining mark), the unknown ones
    folded in one pass and remembered."""
    folded: dict[str, str] = {}
    unknown: list[str] = []
    for word in dict.fromkeys(words):
        known = _FOLDED.get(word)
        if known is None:
            unknown.append(word)
        else:
            folded[word] = known
    # Joined by NUL, which folding keeps and which stops a final sigma's context like a
    # space; a word holding a NUL itself shows as one part too many.
    parts = _unmarked("\0".join(unknown)).split("\0")
    if len(parts) != len(unknown):
        parts = [_unmarked(word) for word in unknown]
    if len(_FOLDED) + len(unknown) > _FOLDED_MAX:
        _FOLDED.clear()
    for word, part in zip(unknown, parts, strict=True):
        folded[word] = " ".join(part.split())
        if folded[word]:
            _FOLDED[word] = folded[word]
    return folded


def json_string(text: str) -> str:
    """`text` as a JSON string literal (UTF-8 kept as is)."""
    return _encode(text)


def search_entry(url: str, title: str, date: str, category: str, summary: str, key: str) -> bytes:
    """One entry of the search index, UTF-8; `key` is the folded text as a JSON string."""
    return (
        f'{{"u":{_encode(url)},"t":{_encode(title)},"d":{_encode(date)},'
        f'"c":{_encode(category)},"s":{_encode(summary)},"k":{key}}}'
    ).encode()


def search_index(entries: Sequence[bytes]) -> bytes:
    """JSON list of {u: url, t: title, d: date, c: category, s: summary, k: folded text
    of the title, summary, tags and the start of the body}, from `search_entry`s; the
    page folds `c` itself. Bytes, joined once: the index holds much of the site's text."""
    return b"[" + b",".join(entries) + b"]\n"
