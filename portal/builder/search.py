"""The client-side search index: folded text so "tin moi" finds "tin mới"."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

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


def search_index(entries: Sequence[dict[str, Any]]) -> str:
    """JSON list of {u: url, t: title, d: date, c: category, s: summary, k: folded text
    (category, title, summary, tags and the start of the body)}."""
    docs = []
    folded_categories: dict[str, str] = {}
    for e in entries:
        category = e["category"]
        if category not in folded_categories:
            folded_categories[category] = fold(category)
        # The article's own part was folded when it was parsed (in parallel, and cached).
        key = folded_categories[category] + " " + e["folded"]
        docs.append(
            {
                "u": e["url"],
                "t": e["title"],
                "d": e["date"],
                "c": e["category"],
                "s": e["summary"],
                "k": key,
            }
        )
    return json.dumps(docs, ensure_ascii=False, separators=(",", ":")) + "\n"
