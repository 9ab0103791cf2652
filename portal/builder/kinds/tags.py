"""A page per tag: /the/<slug>/ (paginated like a category) with its Atom and RSS feeds."""

from __future__ import annotations

from functools import partial

from ..pages import DASH, PageTask, SiteView
from ..urls import tag_feed_url, tag_url
from .feeds import feed_files
from .listings import Listing, listing_pages


def _title(name: str, site: str, n: int) -> str:
    return f"{name} {DASH} {site}" if n == 1 else f"{name} {DASH} Trang {n} {DASH} {site}"


class TagPages:
    """/the/<slug>/, /the/<slug>/trang-2.html, ... and /the/<slug>/atom.xml, rss.xml"""

    def pages(self, view: SiteView) -> list[PageTask]:
        short = view.config.short_name
        tasks: list[PageTask] = []
        for tag in view.tags:
            listing = Listing(
                kind="tag",
                heading=tag.name,
                intro=f"Các bài viết có từ khóa “{tag.name}”.",
                url_of=partial(tag_url, tag.slug),
                title_of=partial(_title, tag.name, short),
                section="",
                feeds=(tag_feed_url(tag.slug, "atom"), tag_feed_url(tag.slug, "rss")),
            )
            tasks += listing_pages(view, listing, tag.articles)
        return tasks

    def files(self, view: SiteView) -> dict[str, str]:
        out: dict[str, str] = {}
        name = view.config.name
        for tag in view.tags:
            page = tag_url(tag.slug)
            out.update(feed_files(view, page, f"{tag.name} {DASH} {name}", page, tag.articles))
        return out
