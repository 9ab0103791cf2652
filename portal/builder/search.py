"""The client-side search index: folded text so "tin moi" finds "tin mới"."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from json.encoder import encode_basestring as _encode  # C speed-up

_COMBINING = re.compile("[\u0300-\u036f]+")

_FOLDED_MAX = 100_000  # words remembered; then it starts over (a server sees many)


def _unmarked(text: str) -> str:
    """Lowercase, without tone marks or other diacritics; whitespace kept as it is."""
    if not text.isascii():
        text = _COMBINING.sub("", unicodedata.normalize("NFD", text))
        text = text.replace("đ", "d").replace("Đ", "d")
    return text.lower()


class _Folds(dict[str, str]):
    """Each word's fold, made when first asked for: a text is mostly the same few thousand
    words, and folding it whole costs a regex match per accented letter."""

    def __missing__(self, word: str) -> str:
        folded = " ".join(_unmarked(word).split())
        if not folded:  # a lone mark, say: the caller folds the whole text
            raise KeyError(word)
        if len(self) >= _FOLDED_MAX:
            self.clear()
        self[word] = folded
        return folded


_FOLDED = _Folds()


def fold(text: str) -> str:
    """Lowercase, without tone marks or other diacritics, whitespace collapsed.

    đ/Đ carry no combining mark (NFD leaves them alone), so they are mapped by hand. The
    browser side (site/static/js/search.js) folds queries the same way.
    """
    # Word by word equals the whole text at once: whitespace is a starter (NFD never
    # reorders marks across it), stays whitespace, and ends a final sigma's context.
    try:
        return " ".join(map(_FOLDED.__getitem__, text.split()))
    except KeyError:
        return " ".join(_unmarked(text).split())


def json_string(text: str) -> str:
    """`text` as a JSON string literal (UTF-8 kept as is)."""
    return _encode(text)


def search_entry(url: str, title: str, date: str, category: str, summary: str, key: bytes) -> bytes:
    """One entry of the search index, UTF-8; `key` is the folded text as a JSON string,
    UTF-8 (as articles keep it: the longest part of an entry, encoded once when parsed)."""
    head = (
        f'{{"u":{_encode(url)},"t":{_encode(title)},"d":{_encode(date)},'
        f'"c":{_encode(category)},"s":{_encode(summary)},"k":'
    )
    return b"".join((head.encode(), key, b"}"))


def search_index(entries: Sequence[bytes]) -> bytes:
    """JSON list of {u: url, t: title, d: date, c: category, s: summary, k: folded text
    of the title, summary, tags and the start of the body}, from `search_entry`s; the
    page folds `c` itself. Bytes, joined once: the index holds much of the site's text."""
    # (Joined, not concatenated: `b"[" + ...` copies megabytes twice more.)
    return b"".join((b"[", b",".join(entries), b"]\n"))
