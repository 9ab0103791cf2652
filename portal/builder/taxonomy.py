"""Tags and related articles: which articles share a tag, and what to read next.

Tags are grouped by slug, so "Nông thôn mới" and "nông thôn mới" are one tag; its name is
the spelling most articles use. A tag whose words give no slug (only punctuation) gets no
page and is shown without a link.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from .model import Article
from .slugs import slugify

#: How many related articles an article ends with.
RELATED_COUNT = 5


@dataclass(frozen=True, slots=True)
class Tag:
    """One tag and its articles, newest first."""

    slug: str
    name: str
    articles: tuple[Article, ...]


@lru_cache(maxsize=8192)
def tag_slug(name: str) -> str:
    """The URL slug of a tag ('' when its words give none)."""
    return slugify(name)


def collect_tags(articles: Sequence[Article]) -> list[Tag]:
    """Every tag of the published articles (given newest first), sorted by slug."""
    members: dict[str, list[Article]] = {}
    spellings: dict[str, Counter[str]] = {}
    for a in articles:
        seen: set[str] = set()
        for name in a.parsed.tags:
            slug = tag_slug(name)
            if not slug or slug in seen:
                continue
            seen.add(slug)
            members.setdefault(slug, []).append(a)
            spellings.setdefault(slug, Counter())[name] += 1
    tags = []
    for slug in sorted(members):
        # Most used spelling; among equals, the first in code point order (deterministic).
        name = min(spellings[slug].items(), key=lambda item: (-item[1], item[0]))[0]
        tags.append(Tag(slug, name, tuple(members[slug])))
    return tags


class RelatedIndex:
    """Related articles: most shared tags first, then the same category; newest first
    among equals; never the article itself.

    Articles are numbered newest first, so "newest" is "smallest number". Articles with
    the same tags share one ranking (made once, with one place more: the article itself
    is in it and is dropped)."""

    def __init__(self, articles: Sequence[Article], tags: Sequence[Tag]) -> None:
        self.articles = articles
        self.number = {a.url: i for i, a in enumerate(articles)}
        self.by_tag = {t.slug: [self.number[a.url] for a in t.articles] for t in tags}
        self.by_category: dict[str, list[int]] = {}
        for i, a in enumerate(articles):
            self.by_category.setdefault(a.category.id, []).append(i)
        self._ranked: dict[frozenset[str], list[int]] = {}

    def _sharing(self, slugs: frozenset[str], limit: int) -> list[int]:
        """The `limit` articles sharing most of `slugs`, newest first among equals."""
        if len(slugs) == 1:
            return self.by_tag[next(iter(slugs))][:limit]
        counts: Counter[int] = Counter()
        for slug in slugs:
            counts.update(self.by_tag[slug])  # counted in C: tags can have thousands
        return heapq.nsmallest(limit, counts, key=lambda i: (-counts[i], i))

    def related(self, a: Article, limit: int = RELATED_COUNT) -> list[Article]:
        """Up to `limit` articles to read after `a`."""
        me = self.number[a.url]
        slugs = frozenset(s for s in map(tag_slug, a.parsed.tags) if s in self.by_tag)
        chosen: list[int] = []
        if slugs:
            ranked = self._ranked.get(slugs)
            if ranked is None:
                ranked = self._ranked[slugs] = self._sharing(slugs, limit + 1)
            chosen = [i for i in ranked if i != me][:limit]
        if len(chosen) < limit:
            taken = {me, *chosen}
            for i in self.by_category.get(a.category.id, ()):
                if i not in taken:
                    chosen.append(i)
                    if len(chosen) == limit:
                        break
        return [self.articles[i] for i in chosen]
