"""Tags and related articles: which articles share a tag, and what to read next.

Tags are grouped by slug, so "Nông thôn mới" and "nông thôn mới" are one tag; its name is
the spelling most articles use. A tag whose words give no slug (only punctuation) gets no
page and is shown without a link.
"""

from __future__ import annotations

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
    among equals; never the article itself."""

    def __init__(self, articles: Sequence[Article], tags: Sequence[Tag]) -> None:
        self.order = {a.url: i for i, a in enumerate(articles)}
        self.by_tag = {t.slug: t.articles for t in tags}
        self.by_category: dict[str, list[Article]] = {}
        for a in articles:
            self.by_category.setdefault(a.category.id, []).append(a)

    def related(self, a: Article, limit: int = RELATED_COUNT) -> list[Article]:
        """Up to `limit` articles to read after `a`."""
        shared: Counter[str] = Counter()
        found: dict[str, Article] = {}
        for slug in {tag_slug(name) for name in a.parsed.tags}:
            for other in self.by_tag.get(slug, ()):
                if other.url != a.url:
                    shared[other.url] += 1
                    found[other.url] = other
        ranked = sorted(shared, key=lambda url: (-shared[url], self.order[url]))[:limit]
        chosen = [found[url] for url in ranked]
        if len(chosen) < limit:
            taken = {a.url, *ranked}
            for other in self.by_category.get(a.category.id, ()):
                if other.url not in taken:
                    chosen.append(other)
                    if len(chosen) == limit:
                        break
        return chosen
