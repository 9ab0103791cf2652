"""What every page kind shares: the site view (cards, dates, meta, template globals) and
the shape of a page to render. The page kinds themselves live in `kinds/`."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from html import escape
from types import SimpleNamespace
from typing import Any, NamedTuple, Protocol

from markupsafe import Markup

from .agency import Agency
from .config import SiteConfig
from .content import ParsedArticle
from .dates import formats, short_date
from .feeds import FeedEntry
from .i18n import WORDS
from .images import CARD_SIZES, ImageSet, picture_html, rewrite_body_images
from .model import Article, SiteModel, link_urls
from .search import search_entry
from .taxonomy import RelatedIndex, Tag, collect_tags
from .urls import SEARCH_INDEX, SEARCH_PAGE, category_url

#: Between parts of page titles (an en dash, as Vietnamese typography has it).
DASH = "\u2013"


class PageTask(NamedTuple):
    """One page to render, if its inputs changed."""

    template: str
    file: str  # output file, relative to the output directory
    key: tuple[str, ...]  # what its context follows from (with the site-wide key)
    make_context: Callable[[], dict[str, Any]]  # called only when the page is rendered
    title: str  # its <title>, for the site manifest
    # Content files whose article body (or search text) the page shows. Their digests are
    # added to the key when it is checked, not put in it here: the tasks of a site model
    # kept from an earlier build (see build.py) then still follow an edited body.
    bodies: tuple[str, ...] = ()


def pagination(current: int, total: int, url_of: Any) -> dict[str, Any] | None:
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


class SiteView:
    """The resolved site as page kinds see it (cards and dates made once, on first use)."""

    def __init__(
        self,
        config: SiteConfig,
        model: SiteModel,
        widget_version: str,
        static_version: str,
        body_of: Callable[[ParsedArticle], str],
        images: ImageSet | None = None,
        agency: Agency | None = None,
        latest: Callable[[ParsedArticle], ParsedArticle] | None = None,
    ) -> None:
        self.config = config
        self.agency = agency or Agency()
        self.images = images or ImageSet({}, {})
        self.model = model
        self.widget_version = widget_version
        self.static_version = static_version
        self.body_of = body_of
        # This build's version of an article's file: a model kept from an earlier build holds
        # the version it was made from, the same but for the body and the search text (None:
        # the model is this build's).
        self.latest = latest
        self._cards: dict[str, SimpleNamespace] = {}
        self._dates: dict[str, tuple[str, str, str]] = {}
        # Search index entries made, by URL: (digest of the article's file, entry). Kept for
        # builds in this process (a kept view) and in the next (see cache.SearchEntries).
        self.search_entries: dict[str, tuple[str, bytes]] = {}
        self._by_category: dict[str, list[Article]] = {}

    def status_label(self, a: Article) -> str:
        """How a preview marks an unpublished article ("" when it is published)."""
        if a.status == "draft":
            return "Bản nháp"
        if a.status == "scheduled":
            return f"Hẹn giờ đăng: {a.date:%d/%m/%Y %H:%M}"
        return ""

    def body(self, a: Article) -> str:
        """The article's HTML with its links to other articles' files made URLs."""
        html = link_urls(self.body_of(a.parsed), a.link_urls)
        return rewrite_body_images(html, self.images.get)

    def search_entry(self, a: Article) -> bytes:
        """The article's entry in the search index, with its folded text as this build read
        it (made again only when its file changed: a kept view serves many builds)."""
        p = a.parsed if self.latest is None else self.latest(a.parsed)
        found = self.search_entries.get(a.url)
        if found is None or found[0] != p.digest:
            date = short_date(a.date)
            entry = search_entry(a.url, p.title, date, a.category.name, p.summary, p.search_key)
            found = self.search_entries[a.url] = (p.digest, entry)
        return found[1]

    def picture(self, src: str, alt: str, **options: Any) -> Markup:
        """One of the site's images with its size and variants (see images.picture_html)."""
        return picture_html(self.images.get(src), escape(src), escape(alt), **options)

    @cached_property
    def tags(self) -> list[Tag]:
        """Every tag of the published articles, by slug."""
        return collect_tags(self.model.articles)

    @cached_property
    def related(self) -> RelatedIndex:
        """What each article ends with: articles sharing its tags, then its category."""
        return RelatedIndex(self.model.articles, self.tags)

    def dates(self, a: Article) -> tuple[str, str, str]:
        """(time, posted, short date) of an article, formatted once."""
        found = self._dates.get(a.url)
        if found is None:
            found = self._dates[a.url] = formats(a.date, self.config.language)
        return found

    def card(self, a: Article) -> SimpleNamespace:
        """An article as lists show it (made on first use: most builds render few lists).
        An attribute object, as templates read it (see render.page_context), made once for
        the many pages that show it."""
        found = self._cards.get(a.url)
        if found is None:
            time_text, _, short = self.dates(a)
            p = a.parsed
            found = self._cards[a.url] = SimpleNamespace(
                title=p.title,
                url=a.url,
                summary=p.summary,
                time=time_text,
                short_date=short,
                date_iso=a.date.isoformat(timespec="seconds"),
                category=SimpleNamespace(
                    id=a.category.id, name=a.category.name, url=category_url(a.category.id)
                ),
                image=SimpleNamespace(
                    src=p.image,
                    alt=p.image_alt,
                    html=self.picture(p.image, "", sizes=CARD_SIZES, css_class="card__image"),
                )
                if p.image
                else None,
                status=self.status_label(a),
            )
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
            # What pages in English replace (see kinds/agency_pages.py): Vietnamese here.
            "page_lang": "vi",
            "ui": WORDS["vi"],
            "switch": None,
            "article_downloads": c.article_downloads,
            "links": [
                {"label": k.label, "label_en": k.label_en or k.label, "url": k.url} for k in c.links
            ],
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

    def polls_en(self) -> list[dict[str, Any]]:
        """The polls with their English texts (`question_en`, `label_en`), where given."""
        out = []
        for p in self.config.polls:
            poll = dataclasses.asdict(p)
            texts = p.texts("en")
            poll["question"] = texts.question
            for option, label in zip(poll["options"], texts.labels, strict=True):
                option["label"] = label
            out.append(poll)
        return out

    def latest_items(self) -> list[SimpleNamespace]:
        """The "Tin mới nhất" entries."""
        return [self.card(a) for a in self.model.articles[: self.config.latest_count]]

    def nav_links(self) -> list[str]:
        """Navigation links to check, as 'where\\0link'."""
        c = self.config
        english = c.english.nav if c.english else ()
        return [f"[[nav]] {n.label!r}\0{n.url}" for n in c.nav] + [
            f"[[english.nav]] {n.label!r}\0{n.url}" for n in english
        ]

    def meta(
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
            "alternates": [],
        }

    def in_category(self, category_id: str) -> list[Article]:
        """The articles of one category, newest first (computed once per category)."""
        found = self._by_category.get(category_id)
        if found is None:
            found = self._by_category[category_id] = [
                a for a in self.model.articles if a.category.id == category_id
            ]
        return found

    def feed_entries(self, articles: Sequence[Article]) -> list[FeedEntry]:
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


#: A generated file's contents, or what makes them when they are needed.
FileData = str | bytes | Callable[[], str | bytes]


class PageKind(Protocol):
    """One kind of output (article pages, listings, feeds...): its pages and other files."""

    def pages(self, view: SiteView) -> list[PageTask]:
        """Pages to render from templates, in a stable order."""
        ...

    def files(self, view: SiteView) -> Mapping[str, FileData]:
        """Other generated files (feeds, indexes) by output path, as text or bytes, or as
        a function making them (big files: made while the pages render, in parallel)."""
        ...
