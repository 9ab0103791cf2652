"""The client-side search index: folded text so "tin moi" finds "tin mới"."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from typing import Any

# đ/Đ carry no combining mark: NFD leaves them alone, so fold them by hand. The browser
# side (site/static/js/search.js) folds queries the same way.
_FOLD_EXTRA = str.maketrans({"đ": "d", "Đ": "d"})


def fold(text: str) -> str:
    """Lowercase, without tone marks or other diacritics, whitespace collapsed."""
    decomposed = unicodedata.normalize("NFD", text.translate(_FOLD_EXTRA))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.lower().split())


def search_index(entries: Sequence[dict[str, Any]]) -> str:
    """JSON list of {u: url, t: title, d: date, c: category, s: summary, k: folded text}."""
    docs = []
    for e in entries:
        key = " ".join([e["title"], e["category"], e["summary"], " ".join(e["tags"])])
        docs.append(
            {
                "u": e["url"],
                "t": e["title"],
                "d": e["date"],
                "c": e["category"],
                "s": e["summary"],
                "k": fold(key),
            }
        )
    return json.dumps(docs, ensure_ascii=False, separators=(",", ":")) + "\n"
