"""The site as a whole: which articles are published, their slugs, URLs and links."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from .config import Category, SiteConfig
from .content import MD_LINK_PREFIX, ParsedArticle
from .errors import BuildError
from .slugs import assign_slugs
from .urls import article_url, url_to_file


@dataclass(frozen=True, slots=True)
class Article:
    """A published article with everything resolved against the whole site."""

    parsed: ParsedArticle
    slug: str
    url: str
    date: dt.datetime  # aware, in the site's time zone
    updated: dt.datetime  # aware; equals date when the editor gave no 'updated'
    category: Category
    link_urls: tuple[str, ...]  # URL of each link to another article's file, in order


@dataclass(frozen=True, slots=True)
class SiteModel:
    """Published articles, newest first, and when the next scheduled one goes live."""

    articles: tuple[Article, ...]
    drafts: int
    scheduled: int
    next_publish: dt.datetime | None


def _aware(value: dt.datetime, config: SiteConfig) -> dt.datetime:
    tz = config.tz
    if value.tzinfo is None:
        # A date without an offset is read in the site's time zone.
        return value.replace(tzinfo=tz)
    return value.astimezone(tz)


_MD_LINK = re.compile(re.escape(MD_LINK_PREFIX) + r"(\d+):")


def link_urls(body: str, urls: tuple[str, ...]) -> str:
    """Swap the placeholders of links to .md files for the articles' URLs."""
    if not urls:
        return body
    return _MD_LINK.sub(lambda m: urls[int(m.group(1))], body)


def resolve_site(config: SiteConfig, parsed: list[ParsedArticle], now: dt.datetime) -> SiteModel:
    """Validate cross-file facts (categories, slugs, links between articles) and publish."""
    errors: list[str] = []
    categories = config.category_map
    live: list[tuple[ParsedArticle, dt.datetime]] = []
    drafts = scheduled = 0
    next_publish: dt.datetime | None = None
    for p in parsed:
        where = f"content/{p.source}"
        if p.category not in categories:
            known = ", ".join(sorted(categories))
            errors.append(f"{where}: unknown category {p.category!r} (site.toml has: {known})")
            continue
        date = _aware(p.date, config)
        if p.draft:
            drafts += 1
        elif date > now:
            scheduled += 1
            next_publish = date if next_publish is None else min(next_publish, date)
        else:
            live.append((p, date))
    if errors:
        raise BuildError("\n".join(errors))

    # Older articles claim a slug first, so publishing a new one never renames an old URL.
    live.sort(key=lambda item: (item[1], item[0].source))
    slugs, conflicts = assign_slugs(
        (p.source, p.slug or p.title_slug, p.slug is not None) for p, _ in live
    )
    for source, other, slug in conflicts:
        errors.append(f"content/{source}: slug {slug!r} is already used by content/{other}")
    if errors:
        raise BuildError("\n".join(errors))

    url_of = {p.source: article_url(slugs[p.source]) for p, _ in live}
    unpublished = {p.source for p in parsed} - set(url_of)
    articles: list[Article] = []
    for p, date in live:
        where = f"content/{p.source}"
        for target in p.md_links:
            if target in unpublished:
                errors.append(f"{where}: links to content/{target}, which is not published yet")
            elif target not in url_of:
                errors.append(f"{where}: broken link to content/{target} (no such article)")
        articles.append(
            Article(
                parsed=p,
                slug=slugs[p.source],
                url=url_of[p.source],
                date=date,
                updated=_aware(p.updated, config) if p.updated else date,
                category=categories[p.category],
                link_urls=tuple(url_of.get(t, "") for t in p.md_links),
            )
        )
    if errors:
        raise BuildError("\n".join(errors))
    articles.sort(key=lambda a: (-a.date.timestamp(), a.slug))
    return SiteModel(tuple(articles), drafts, scheduled, next_publish)


def check_site_links(articles: tuple[Article, ...], files: set[str], extra: list[str]) -> None:
    """Every site-absolute link and image in articles (and `extra`, e.g. the navigation)
    must name a file of the output."""
    errors: list[str] = []
    for a in articles:
        where = f"content/{a.parsed.source}"
        for link in a.parsed.abs_links:
            if url_to_file(link) not in files:
                errors.append(f"{where}: broken internal link {link!r} (no such page or file)")
        for src in a.parsed.images:
            if url_to_file(src) not in files:
                errors.append(f"{where}: image {src!r} not found (put it under site/static/)")
    for item in extra:
        where, _, link = item.partition("\0")
        if link.startswith("/") and not link.startswith("//") and url_to_file(link) not in files:
            errors.append(f"{where}: broken internal link {link!r}")
    if errors:
        raise BuildError("\n".join(sorted(set(errors))))
