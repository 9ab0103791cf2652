"""URL slugs from Vietnamese titles, and deterministic collision resolution."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from anyascii import anyascii

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_VALID_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class _Transliteration(dict[int, str]):
    """anyascii's ASCII for each character, looked up when first met, as a str.translate
    table: anyascii transliterates one character at a time in a Python loop, and so
    the same text character by character."""

    def __missing__(self, code: int) -> str:
        if len(self) >= 20_000:  # bounded: a text could hold any characters
            self.clear()
        ascii_text = self[code] = anyascii(chr(code))
        return ascii_text


_ASCII = _Transliteration()


def slugify(text: str, *, max_length: int = 80) -> str:
    """Lowercase ASCII words joined by hyphens: "Đắk Lắk: Hội nghị" -> "dak-lak-hoi-nghi".

    đ/Đ have no Unicode decomposition, so plain NFD stripping would keep them; a
    transliteration table (anyascii) maps them to d/D along with every tone mark.
    """
    ascii_text = unicodedata.normalize("NFC", text).translate(_ASCII).lower()
    slug = _NON_ALNUM.sub("-", ascii_text).strip("-")
    if len(slug) > max_length:
        cut = slug[:max_length]
        # Cut at a word boundary when there is one, so slugs don't end mid-word.
        slug = cut.rsplit("-", 1)[0] if "-" in cut else cut
    return slug


def is_valid_slug(slug: str) -> bool:
    """Whether an editor-given slug is usable as-is in a URL."""
    return bool(_VALID_SLUG.match(slug))


def assign_slugs(
    wanted: Iterable[tuple[str, str, bool]],
) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """Give every item a unique slug.

    `wanted` holds (key, slug, explicit) triples in a stable order (the caller sorts them,
    e.g. by date then source path). Explicit slugs are claimed first; two items claiming the
    same explicit slug is a conflict. Derived slugs then take their natural slug when free,
    and the rest get "-2", "-3", ... in input order.
    Returns (key -> slug, conflicts as (key, other_key, slug)).
    """
    items = list(wanted)
    result: dict[str, str] = {}
    owner: dict[str, str] = {}
    conflicts: list[tuple[str, str, str]] = []
    for key, slug, explicit in items:
        if not explicit:
            continue
        if slug in owner:
            conflicts.append((key, owner[slug], slug))
            continue
        owner[slug] = key
        result[key] = slug
    # Natural slugs next (first come, first served), so that a numbered slug never takes
    # the natural slug of another item ("a-2" stays free for a title that reads "A 2").
    waiting: list[tuple[str, str]] = []
    for key, slug, explicit in items:
        if explicit:
            continue
        base = slug or "bai-viet"
        if base in owner:
            waiting.append((key, base))
        else:
            owner[base] = key
            result[key] = base
    naturals = {slug or "bai-viet" for _, slug, explicit in items if not explicit}
    for key, base in waiting:
        n = 2
        while f"{base}-{n}" in owner or f"{base}-{n}" in naturals:
            n += 1
        owner[f"{base}-{n}"] = key
        result[key] = f"{base}-{n}"
    return result, conflicts
