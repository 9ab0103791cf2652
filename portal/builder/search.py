"""The client-side search index: folded text so "tin moi" finds "tin mới"."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from json.encoder import encode_basestring as _encode  # C speed-up

_COMBINING = re.compile("[\u0300-\u036f]+")


def fold(text: str) -> str:
    """Lowercase, without tone marks or other diacritics, whitespace collapsed.

    đ/Đ carry no combining mark (NFD leaves them alone), so they are mapped by hand. The
    browser side (site/static/js/search.js) folds queries the same way.
    """
    if not text.isascii():
        text = _COMBINING.sub("", unicodedata.normalize("NFD", text))
        text = text.replace("đ", "d").replace("Đ", "d")
    return " ".join(text.lower().split())


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
