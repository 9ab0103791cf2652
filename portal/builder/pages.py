"""Every output of the site: the pages to render (with the keys of their inputs), the
feeds, sitemap and search index, and the shared template globals."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from functools import partial
from html import escape
from typing import Any

from markupsafe import Markup

from .config import SiteConfig
from .content import ParsedArticle
from .dates import formats
from .feeds import FeedEntry, atom_feed, robots, rss_feed, sitemap
from .images import CARD_SIZES, ImageSet, picture_html, rewrite_body_images
from .model import Article, SiteModel, link_urls
from .search import search_index
from .taxonomy import RelatedIndex, collect_tags, tag_slug
from .urls import (
    SEARCH_INDEX,
    SEARCH_PAGE,
    category_feed_url,
    category_url,
    home_url,
    tag_feed_url,
    tag_url,
    url_to_file,
)

#: Between parts of page titles (an en dash, as Vietnamese typography has it).
DASH = "\u2013"

#: (template, output file, parts of the key of its inputs, makes its context when needed)
PageTask = tuple[str, str, tuple[str, ...], Callable[[], dict[str, Any]]]


def _pagination(current: int, total: int, url_of: Any) -> dict[str, Any] | None:
    """Links to the first, last and nearby pages; None marks a gap ("…")."""
    if total <= 1:
        return None
    shown = sorted({1, total, *range(max(1, current - 2), min(total, current + 2) + 1)})
    items: list[dict[str, Any] | None] = []
    prev = 0
    for n in shown:
        if n - prev > 1:
            items.append(None)
        items.append({"n": n, "url": url_of(n), "current": n == current})
        prev = n
    return {
        "current": current,
        "total": total,
        "prev_url": url_of(current - 1) if current > 1 else None,
        "next_url": url_of(current + 1) if current < total else None,
        "items": items,
    }


class SitePages:
    """The whole output, computed from the site model."""

    def __init__(
        self,
        config: SiteConfig,
        model: SiteModel,
        widget_version: str,
        static_version: str,
        body_of: Callable[[ParsedArticle], str],
        images: ImageSet | None = None,
    ) -> None:
        self.config = config
        self.images = images or ImageSet({}, {})
        self.model = model
        self.widget_version = widget_version
        self.static_version = static_version
        self.body_of = body_of
        self._cards: dict[str, dict[str, Any]] = {}
        self._dates: dict[str, tuple[str, str, str]] = {}
        self.tags = collect_tags(model.articles)
        self.related = RelatedIndex(model.articles, self.tags)

    def body(self, a: Article) -> str:
        """The article's HTML with its links to other articles' files made URLs."""
        return rewrite_body_images(link_urls(self.body_of(a.parsed), a.link_urls), self.images.get)

    def picture(self, src: str, alt: str, **options: Any) -> Markup:
        """One of the site's images with its size and variants (see images.picture_html)."""
        return picture_html(self.images.get(src), escape(src), escape(alt), **options)

    def dates(self, a: Article) -> tuple[str, str, str]:
        """(time, posted, short date) of an article, formatted once."""
        found = self._dates.get(a.url)
        if found is None:
            found = self._dates[a.url] = formats(a.date, self.config.language)
        return found

    def card(self, a: Article) -> dict[str, Any]:
        """An article as lists show it (made on first use: most builds render few lists)."""
        found = self._cards.get(a.url)
        if found is None:
            time_text, _, short = self.dates(a)
            p = a.parsed
            found = self._cards[a.url] = {
                "title": p.title,
                "url": a.url,
                "summary": p.summary,
                "time": time_text,
                "short_date": short,
                "date_iso": a.date.isoformat(timespec="seconds"),
                "category": {
                    "id": a.category.id,
                    "name": a.category.name,
                    "url": category_url(a.category.id),
                },
                "image": {
                    "src": p.image,
                    "alt": p.image_alt,
                    "html": self.picture(p.image, "", sizes=CARD_SIZES, css_class="card__image"),
                }
                if p.image
                else None,
            }
        return found

    # -- shared by every page -------------------------------------------------------------

    def absolute(self, url: str) -> str:
        """A site path as an absolute URL."""
        return self.config.base_url + url

    def globals(self) -> dict[str, Any]:
        """Template globals, the same for every page (the latest list is added later)."""
        c = self.config
        return {
            "site": {
                "name": c.name,
                "short_name": c.short_name,
                "base_url": c.base_url,
                "language": c.language,
                "description": c.description,
                "publisher": c.publisher,
                "footer": list(c.footer),
            },
            "nav": [{"label": n.label, "url": n.url} for n in c.nav],
            "categories": [
                {"id": k.id, "name": k.name, "url": category_url(k.id)} for k in c.categories
            ],
            "polls": [dataclasses.asdict(p) for p in c.polls],
            "api": "",
            "lang": c.language,
            "version": self.widget_version,
            "static_version": self.static_version,
            "search_url": SEARCH_PAGE,
            "search_index_url": SEARCH_INDEX,
            "feed_atom": "/atom.xml",
            "feed_rss": "/rss.xml",
            "settings_key": json.dumps(
                [c.timezone, c.page_size, c.latest_count, c.feed_size], ensure_ascii=False
            ),
        }

    def latest_items(self) -> list[dict[str, Any]]:
        """The "Tin mới nhất" entries."""
        return [self.card(a) for a in self.model.articles[: self.config.latest_count]]

    def nav_links(self) -> list[str]:
        """Navigation links to check, as 'where\\0link'."""
        return [f"site.toml [[nav]] {n.label!r}\0{n.url}" for n in self.config.nav]

    def _meta(
        self,
        title: str,
        path: str,
        description: str,
        *,
        og_type: str = "website",
        image: str | None = None,
        section: str = "",
        feeds: tuple[str, str] = ("/atom.xml", "/rss.xml"),
        index: bool = True,
    ) -> dict[str, Any]:
        return {
            "title": title,
            "path": path,
            "canonical": self.absolute(path),
            "description": description or self.config.description,
            "og_type": og_type,
            "og_image": self.absolute(image) if image and image.startswith("/") else image,
            "section": section,
            "feed_atom": feeds[0],
            "feed_rss": feeds[1],
            "index": index,
        }

    # -- pages ----------------------------------------------------------------------------

    def _listing(
        self,
        articles: Sequence[Article],
        *,
        heading: str,
        intro: str,
        url_of: Any,
        title_of: Any,
        section: str,
        feeds: tuple[str, str],
        kind: str,
    ) -> list[PageTask]:
        size = self.config.page_size
        total = max(1, -(-len(articles) // size))
        tasks: list[PageTask] = []
        for n in range(1, total + 1):
            chunk = articles[(n - 1) * size : n * size]
            # The context follows from these (and the settings, part of the global key):
            # much cheaper than building and serialising the context of every page.
            key = [kind, heading, intro, str(n), str(total)]
            key += [f"{a.parsed.digest}:{a.slug}" for a in chunk]
            make = partial(
                self._listing_context,
                chunk,
                n=n,
                total=total,
                heading=heading,
                intro=intro,
                url_of=url_of,
                title=title_of(n),
                section=section,
                feeds=feeds,
                kind=kind,
            )
            tasks.append(("list.html", url_to_file(url_of(n)), tuple(key), make))
        return tasks

    def _listing_context(
        self,
        chunk: Sequence[Article],
        *,
        n: int,
        total: int,
        heading: str,
        intro: str,
        url_of: Any,
        title: str,
        section: str,
        feeds: tuple[str, str],
        kind: str,
    ) -> dict[str, Any]:
        return {
            "meta": self._meta(title, url_of(n), intro, section=section, feeds=feeds),
            "heading": heading,
            "intro": intro,
            "page_number": n,
            "kind": kind,
            "items": [self.card(a) for a in chunk],
            "pagination": _pagination(n, total, url_of),
            "presence_page": None,
        }

    def page_tasks(self) -> list[PageTask]:
        """Every HTML page, in a stable order."""
        c = self.config
        tasks: list[PageTask] = []
        arts = self.model.articles
        tasks += self._listing(
            arts,
            heading="Tin mới",
            intro=c.description,
            url_of=home_url,
            title_of=lambda n: c.name if n == 1 else f"Trang {n} {DASH} {c.name}",
            section="/",
            feeds=("/atom.xml", "/rss.xml"),
            kind="home",
        )
        for cat in c.categories:
            in_cat = [a for a in arts if a.category.id == cat.id]
            tasks += self._listing(
                in_cat,
                heading=cat.name,
                intro=cat.description,
                url_of=lambda n, cid=cat.id: category_url(cid, n),
                title_of=lambda n, name=cat.name: (
                    f"{name} {DASH} {c.short_name}"
                    if n == 1
                    else f"{name} {DASH} Trang {n} {DASH} {c.short_name}"
                ),
                section=category_url(cat.id),
                feeds=(category_feed_url(cat.id, "atom"), category_feed_url(cat.id, "rss")),
                kind="category",
            )
        for tag in self.tags:
            tasks += self._listing(
                tag.articles,
                heading=tag.name,
                intro=f"Các bài viết có từ khóa “{tag.name}”.",
                url_of=lambda n, slug=tag.slug: tag_url(slug, n),
                title_of=lambda n, name=tag.name: (
                    f"{name} {DASH} {c.short_name}"
                    if n == 1
                    else f"{name} {DASH} Trang {n} {DASH} {c.short_name}"
                ),
                section="",
                feeds=(tag_feed_url(tag.slug, "atom"), tag_feed_url(tag.slug, "rss")),
                kind="tag",
            )
        for a in arts:
            related = self.related.related(a)
            key = (a.parsed.digest, a.slug, a.category.id, *a.link_urls)
            key += tuple(f"{r.parsed.digest}:{r.slug}" for r in related)
            make = partial(self._article_context, a, related)
            tasks.append(("article.html", url_to_file(a.url), key, make))
        search_ctx = {
            "meta": self._meta(f"Tìm kiếm {DASH} {c.short_name}", SEARCH_PAGE, "Tìm kiếm bài viết"),
            "presence_page": None,
        }
        tasks.append(("search.html", url_to_file(SEARCH_PAGE), ("search",), lambda: search_ctx))
        missing_ctx = {
            "meta": self._meta(
                f"Không tìm thấy trang {DASH} {c.short_name}", "/404.html", "", index=False
            ),
            "presence_page": None,
        }
        tasks.append(("404.html", "404.html", ("404",), lambda: missing_ctx))
        return tasks

    def _article_context(self, a: Article, related: list[Article]) -> dict[str, Any]:
        c = self.config
        p = a.parsed
        _, posted, _ = self.dates(a)
        updated = formats(a.updated, c.language)[1] if p.updated is not None else None
        article = dict(self.card(a))
        article.update(
            {
                "posted": posted,
                "author": p.author or c.publisher,
                "body": self.body(a),
                "tags": [
                    {"name": t, "url": tag_url(tag_slug(t)) if tag_slug(t) else None}
                    for t in p.tags
                ],
                "updated_iso": a.updated.isoformat(timespec="seconds"),
                "updated": updated,
                "image_caption": p.image_caption,
                # The lead image is what a reader sees first: loaded at once, not lazily.
                "image_html": self.picture(p.image, p.image_alt or "", lazy=False)
                if p.image
                else None,
                "lead": p.summary if p.summary_given else None,
            }
        )
        return {
            "meta": self._meta(
                f"{p.title} {DASH} {c.short_name}",
                a.url,
                p.summary,
                og_type="article",
                image=p.image,
                section=category_url(a.category.id),
            ),
            "article": article,
            "related": [self.card(r) for r in related],
            "presence_page": a.url,
        }

    # -- feeds, sitemap, search index -----------------------------------------------------

    def _entries(self, articles: Sequence[Article]) -> list[FeedEntry]:
        return [
            FeedEntry(
                title=a.parsed.title,
                url=self.absolute(a.url),
                published=a.date,
                updated=a.updated,
                summary=a.parsed.summary,
                category=a.category.name,
                author=a.parsed.author or self.config.publisher,
            )
            for a in articles[: self.config.feed_size]
        ]

    def text_files(self) -> dict[str, str]:
        """Generated non-HTML files by output path."""
        c = self.config
        arts = self.model.articles
        out: dict[str, str] = {}

        def feeds(prefix: str, title: str, page: str, articles: Sequence[Article]) -> None:
            entries = self._entries(articles)
            atom_url, rss_url = f"{prefix}atom.xml", f"{prefix}rss.xml"
            out[url_to_file(atom_url)] = atom_feed(
                title=title,
                feed_url=self.absolute(atom_url),
                page_url=self.absolute(page),
                language=c.language,
                entries=entries,
            )
            out[url_to_file(rss_url)] = rss_feed(
                title=title,
                feed_url=self.absolute(rss_url),
                page_url=self.absolute(page),
                description=c.description,
                language=c.language,
                entries=entries,
            )

        feeds("/", c.name, "/", arts)
        urls: list[tuple[str, Any]] = [(self.absolute("/"), arts[0].updated if arts else None)]
        for cat in c.categories:
            in_cat = [a for a in arts if a.category.id == cat.id]
            page = category_url(cat.id)
            feeds(page, f"{cat.name} {DASH} {c.name}", page, in_cat)
            urls.append((self.absolute(page), max((a.updated for a in in_cat), default=None)))
        for tag in self.tags:
            page = tag_url(tag.slug)
            feeds(page, f"{tag.name} {DASH} {c.name}", page, tag.articles)
            urls.append((self.absolute(page), max(a.updated for a in tag.articles)))
        urls += [(self.absolute(a.url), a.updated) for a in arts]
        out["sitemap.xml"] = sitemap(urls)
        out["robots.txt"] = robots(c.base_url)
        out[url_to_file(SEARCH_INDEX)] = search_index(
            [
                {
                    "url": a.url,
                    "title": a.parsed.title,
                    "date": self.dates(a)[2],
                    "category": a.category.name,
                    "summary": a.parsed.summary,
                    "key": a.parsed.search_key,
                }
                for a in arts
            ]
        )
        return out
