"""The site as a whole: which articles are published, their slugs, URLs and links."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import NamedTuple

from .config import Category, SiteConfig
from .content import MD_LINK_PREFIX, ParsedArticle
from .errors import Problem, did_you_mean
from .slugs import assign_slugs
from .urls import article_url, url_to_file


class Article(NamedTuple):
    """A published article with everything resolved against the whole site (a named
    tuple, as ParsedArticle is: thousands are made on every build)."""

    parsed: ParsedArticle
    slug: str
    url: str
    date: dt.datetime  # aware, in the site's time zone
    updated: dt.datetime  # aware; equals date when the editor gave no 'updated'
    category: Category
    link_urls: tuple[str, ...]  # URL of each link to another article's file, in order
    status: str = ""  # "draft" or "scheduled" in previews (drafts=True); "" when published


@dataclass(frozen=True, slots=True)
class SiteModel:
    """Published articles, newest first, and when the next scheduled one goes live."""

    articles: tuple[Article, ...]
    drafts: int
    scheduled: int
    next_publish: dt.datetime | None


def _aware(value: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
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


def resolve_site(
    config: SiteConfig,
    parsed: list[ParsedArticle],
    now: dt.datetime,
    *,
    drafts: bool = False,
    unparsed: frozenset[str] = frozenset(),
) -> tuple[SiteModel, list[Problem]]:
    """Validate cross-file facts (categories, slugs, links between articles) and publish.
    With `drafts`, drafts and future-dated articles are published too (for previews).
    `unparsed`: content files that exist but have problems of their own (links to them
    are not reported again). Returns the site made of the articles without problems, and
    the problems (the caller reports them with the others of the run)."""
    problems: list[Problem] = []
    categories, tz = config.category_map, config.tz
    live, n_drafts, scheduled, next_publish = _publication(config, parsed, now, drafts, problems)

    # Older articles claim a slug first, so publishing a new one never renames an old URL.
    live.sort(key=lambda item: (item[1], item[0].source))
    slugs, conflicts = assign_slugs(
        (p.source, p.slug or p.title_slug, p.slug is not None) for p, _ in live
    )
    for source, other, slug in conflicts:
        message = f"{slug!r} is already used by content/{other}"
        problems.append(Problem(f"content/{source}", None, "slug", message, "choose another slug"))

    live = [(p, date) for p, date in live if p.source in slugs]
    url_of = {p.source: article_url(slugs[p.source]) for p, _ in live}
    problems += _article_link_problems(parsed, live, url_of, unparsed)
    articles = [
        Article(
            parsed=p,
            slug=slugs[p.source],
            url=url_of[p.source],
            date=date,
            updated=_aware(p.updated, tz) if p.updated else date,
            category=categories[p.category],
            link_urls=tuple(url_of.get(t, "") for t in p.md_links),
            status=_status(p, date, now),
        )
        for p, date in live
    ]
    articles.sort(key=lambda a: (-a.date.timestamp(), a.slug))
    return SiteModel(tuple(articles), n_drafts, scheduled, next_publish), problems


def _publication(
    config: SiteConfig,
    parsed: list[ParsedArticle],
    now: dt.datetime,
    drafts: bool,
    problems: list[Problem],
) -> tuple[list[tuple[ParsedArticle, dt.datetime]], int, int, dt.datetime | None]:
    """(articles to publish with their aware dates, drafts, scheduled, next publication);
    articles of unknown categories become problems."""
    categories, tz = config.category_map, config.tz
    live: list[tuple[ParsedArticle, dt.datetime]] = []
    n_drafts = scheduled = 0
    next_publish: dt.datetime | None = None
    for p in parsed:
        if p.category not in categories:
            hint = did_you_mean(p.category, categories) or f"site.toml has: {', '.join(categories)}"
            problems.append(
                Problem(f"content/{p.source}", None, "category", f"unknown {p.category!r}", hint)
            )
            continue
        date = _aware(p.date, tz)
        if p.draft:
            n_drafts += 1
        elif date > now:
            scheduled += 1
            next_publish = date if next_publish is None else min(next_publish, date)
        if drafts or not (p.draft or date > now):
            live.append((p, date))
    return live, n_drafts, scheduled, next_publish


def _status(p: ParsedArticle, date: dt.datetime, now: dt.datetime) -> str:
    """ "draft", "scheduled" (both only in previews) or "" for a published article."""
    return "draft" if p.draft else "scheduled" if date > now else ""


def _article_link_problems(
    parsed: list[ParsedArticle],
    live: list[tuple[ParsedArticle, dt.datetime]],
    url_of: dict[str, str],
    unparsed: frozenset[str],
) -> list[Problem]:
    unpublished = {p.source for p in parsed} - set(url_of)
    problems: list[Problem] = []
    for p, _ in live:
        file = f"content/{p.source}"
        for target in p.md_links:
            if target in unparsed:
                continue
            if target in unpublished:
                message = f"links to content/{target}, which is not published yet"
                hint = "remove the link until it is published"
                problems.append(Problem(file, None, None, message, hint))
            elif target not in url_of:
                message = f"broken link to content/{target} (no such article)"
                problems.append(Problem(file, None, None, message, "check the file name"))
    return problems


def link_problems(
    articles: tuple[Article, ...], files: set[str], extra: list[str]
) -> list[Problem]:
    """Every site-absolute link and image in articles (and `extra`, e.g. the navigation,
    as 'where\0link') must name a file of the output."""
    problems: list[Problem] = []
    for a in articles:
        file = f"content/{a.parsed.source}"
        for link in a.parsed.abs_links:
            if url_to_file(link) not in files:
                message = f"broken internal link {link!r} (no such page or file)"
                problems.append(Problem(file, None, None, message, "check the address"))
        for src in a.parsed.images:
            if url_to_file(src) not in files:
                message = f"image {src!r} not found"
                problems.append(
                    Problem(
                        file,
                        None,
                        "image" if src == a.parsed.image else None,
                        message,
                        "put it under site/static/",
                    )
                )
    for item in extra:
        where, _, link = item.partition("\0")
        if link.startswith("/") and not link.startswith("//") and url_to_file(link) not in files:
            message = f"broken internal link {link!r} in {where}"
            problems.append(Problem("site.toml", None, None, message, "check the address"))
    return problems
