"""Files that are not pages: Atom and RSS feeds, sitemap.xml, robots.txt. Cheap, so made on
every build that resolves the site."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from ..feeds import atom_feed, robots, rss_feed, sitemap
from ..model import Article
from ..pages import DASH, FileData, PageTask, SiteView
from ..urls import category_url, tag_url, url_to_file
from .agency_pages import sitemap_entries


def feed_files(
    view: SiteView, prefix: str, title: str, page: str, articles: Sequence[Article]
) -> dict[str, str]:
    """`<prefix>atom.xml` and `<prefix>rss.xml` of the newest `feed_size` articles."""
    c = view.config
    entries = view.feed_entries(articles)
    atom_url, rss_url = f"{prefix}atom.xml", f"{prefix}rss.xml"
    return {
        url_to_file(atom_url): atom_feed(
            title=title,
            feed_url=view.absolute(atom_url),
            page_url=view.absolute(page),
            language=c.language,
            entries=entries,
        ),
        url_to_file(rss_url): rss_feed(
            title=title,
            feed_url=view.absolute(rss_url),
            page_url=view.absolute(page),
            description=c.description,
            language=c.language,
            entries=entries,
        ),
    }


class Feeds:
    """The site's and each category's feeds, the sitemap and robots.txt."""

    def pages(self, view: SiteView) -> list[PageTask]:
        return []

    def files(self, view: SiteView) -> dict[str, FileData]:
        c = view.config
        arts = view.model.articles
        out: dict[str, FileData] = {**feed_files(view, "/", c.name, "/", arts)}
        for cat in c.categories:
            page = category_url(cat.id)
            title = f"{cat.name} {DASH} {c.name}"
            out.update(feed_files(view, page, title, page, view.in_category(cat.id)))
        out["sitemap.xml"] = partial(_sitemap, view)
        out["robots.txt"] = robots(c.base_url)
        return out


def _sitemap(view: SiteView) -> str:
    """Every page's address, with when it last changed where known."""
    arts = view.model.articles
    urls: list[tuple[str, Any]] = [(view.absolute("/"), arts[0].updated if arts else None)]
    for cat in view.config.categories:
        in_cat = view.in_category(cat.id)
        urls.append(
            (view.absolute(category_url(cat.id)), max((a.updated for a in in_cat), default=None))
        )
    for tag in view.tags:
        urls.append((view.absolute(tag_url(tag.slug)), max(a.updated for a in tag.articles)))
    urls += [(view.absolute(a.url), a.updated) for a in arts if not a.status]
    return sitemap(urls + sitemap_entries(view))
