"""Paginated lists of article cards: the home page and each category."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..model import Article
from ..pages import DASH, PageTask, SiteView, pagination
from ..urls import category_feed_url, category_url, home_url, url_to_file


@dataclass(frozen=True, slots=True)
class Listing:
    """One paginated list: what it shows and where its pages live."""

    kind: str
    heading: str
    intro: str
    url_of: Callable[[int], str]
    title_of: Callable[[int], str]
    section: str
    feeds: tuple[str, str]


def listing_pages(view: SiteView, listing: Listing, articles: Sequence[Article]) -> list[PageTask]:
    """The pages of one list, `page_size` cards each."""
    size = view.config.page_size
    total = max(1, -(-len(articles) // size))
    tasks: list[PageTask] = []
    for n in range(1, total + 1):
        chunk = articles[(n - 1) * size : n * size]
        # The context follows from these (and the settings, part of the global key):
        # much cheaper than building and serialising the context of every page.
        key = [listing.kind, listing.heading, listing.intro, str(n), str(total)]
        key += [f"{a.parsed.shape}:{a.slug}:{a.status}" for a in chunk]
        make = partial(_context, view, listing, chunk, n, total)
        file = url_to_file(listing.url_of(n))
        tasks.append(PageTask("list.html", file, tuple(key), make, listing.title_of(n)))
    return tasks


def _context(
    view: SiteView, listing: Listing, chunk: Sequence[Article], n: int, total: int
) -> dict[str, Any]:
    return {
        "meta": view.meta(
            listing.title_of(n),
            listing.url_of(n),
            listing.intro,
            section=listing.section,
            feeds=listing.feeds,
        ),
        "heading": listing.heading,
        "intro": listing.intro,
        "page_number": n,
        "kind": listing.kind,
        "items": [view.card(a) for a in chunk],
        "pagination": pagination(n, total, listing.url_of),
        "presence_page": None,
    }


class HomePages:
    """/, /trang-2.html, ...: every article, newest first."""

    def pages(self, view: SiteView) -> list[PageTask]:
        c = view.config
        listing = Listing(
            kind="home",
            heading="Tin mới",
            intro=c.description,
            url_of=home_url,
            title_of=lambda n: c.name if n == 1 else f"Trang {n} {DASH} {c.name}",
            section="/",
            feeds=("/atom.xml", "/rss.xml"),
        )
        return listing_pages(view, listing, view.model.articles)

    def files(self, view: SiteView) -> dict[str, str]:
        return {}


def _category_title(name: str, site: str, n: int) -> str:
    return f"{name} {DASH} {site}" if n == 1 else f"{name} {DASH} Trang {n} {DASH} {site}"


class CategoryPages:
    """/chuyen-muc/<id>/ and its further pages, for each category."""

    def pages(self, view: SiteView) -> list[PageTask]:
        c = view.config
        tasks: list[PageTask] = []
        for cat in c.categories:
            listing = Listing(
                kind="category",
                heading=cat.name,
                intro=cat.description,
                url_of=partial(category_url, cat.id),
                title_of=partial(_category_title, cat.name, c.short_name),
                section=category_url(cat.id),
                feeds=(category_feed_url(cat.id, "atom"), category_feed_url(cat.id, "rss")),
            )
            tasks += listing_pages(view, listing, view.in_category(cat.id))
        return tasks

    def files(self, view: SiteView) -> dict[str, str]:
        return {}
