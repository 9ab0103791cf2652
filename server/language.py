"""The language of an answer's texts: Vietnamese, or English where the site gives English.

`?lang=vi` or `?lang=en` decides; without it, the client's `Accept-Language` does (the one of
the two it prefers), and Vietnamese is the default. The widget always sends `?lang=` (the
page's language), so a browser set to English still reads a Vietnamese page in Vietnamese.
"""

from __future__ import annotations

from starlette.datastructures import QueryParams
from starlette.types import Scope

from server.errors import ApiError
from server.payloads import header

LANGUAGES = ("vi", "en")
DEFAULT = "vi"
_QUICK = {b"lang=vi": "vi", b"lang=en": "en"}  # what the widget sends
_MAX_RANGES = 20  # of an Accept-Language header: more is no browser's


def answer_language(scope: Scope) -> str:
    """`vi` or `en`, for this request (see the module docstring); 422 for another `?lang`."""
    query: bytes = scope["query_string"]
    quick = _QUICK.get(query)
    if quick is not None:
        return quick
    if query:
        lang = QueryParams(query).get("lang")
        if lang is not None:
            if lang not in LANGUAGES:
                raise ApiError(422, "invalid_lang", "lang must be vi or en")
            return lang
    accepted = header(scope, b"accept-language")
    return preferred(accepted) if accepted else DEFAULT


def preferred(accept_language: str) -> str:
    """The language of `LANGUAGES` the header ranks highest (RFC 9110 12.5.4: `q` weights,
    a range matching its prefix, `*` anything); the default when it ranks neither."""
    weights = dict.fromkeys(LANGUAGES, 0.0)
    for item in accept_language.split(",")[:_MAX_RANGES]:
        tag, _, params = item.partition(";")
        tag = tag.strip().lower()
        weight = _weight(params)
        for lang in LANGUAGES:
            if tag == "*" or tag == lang or tag.startswith(lang + "-"):
                weights[lang] = max(weights[lang], weight)
    best = max(LANGUAGES, key=lambda lang: weights[lang])  # ties: the first, Vietnamese
    return best if weights[best] > 0 else DEFAULT


def _weight(params: str) -> float:
    """A range's `q` (1 without one; 0 for a malformed one: it ranks nothing)."""
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                weight = float(value)
            except ValueError:
                return 0.0
            return weight if 0 <= weight <= 1 else 0.0
    return 1.0
