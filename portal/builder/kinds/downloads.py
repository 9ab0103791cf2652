"""A download of each article as one self-contained HTML file (/tai-ve/<slug>.html), for
readers who keep what they read (Decree 42/2022/NĐ-CP, Article 7): the text, the images'
descriptions in their place (photos would make the file many times larger), absolute
links, and its styles in one <style> element. No script, nothing fetched when opened."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import partial
from html import escape
from typing import Any

from ..model import Article, link_urls
from ..pages import DASH, PageTask, SiteView
from ..urls import ARTICLE_DIR, url_to_file

DOWNLOAD_DIR = "tai-ve"
_IMG = re.compile(r'<img src="[^"]*" alt="([^"]*)"[^>]*>')
_HREF = re.compile(r'href="(/[^/"][^"]*|/)"')


def download_url(article_url: str) -> str:
    """/tai-ve/<slug>.html for /bai-viet/<slug>.html"""
    return article_url.replace(f"/{ARTICLE_DIR}/", f"/{DOWNLOAD_DIR}/", 1)


def offline_body(view: SiteView, a: Article) -> str:
    """The article's HTML for reading offline: images as their description, links absolute."""
    html = link_urls(view.body_of(a.parsed), a.link_urls)
    html = _IMG.sub(lambda m: f'<span class="img">[Ảnh: {m.group(1)}]</span>', html)
    return _HREF.sub(lambda m: f'href="{escape(view.absolute(m.group(1)))}"', html)


def _context(view: SiteView, a: Article) -> dict[str, Any]:
    p = a.parsed
    return {
        "title": p.title,
        "posted": view.dates(a)[1],
        "date_iso": a.date.isoformat(timespec="seconds"),
        "author": p.author or view.config.publisher,
        "lead": p.summary if p.summary_given else None,
        "image_alt": p.image_alt if p.image else None,
        "body": offline_body(view, a),
        "source": view.absolute(a.url),
        "category": a.category.name,
    }


class ArticleDownloads:
    """/tai-ve/<slug>.html for every published article."""

    def pages(self, view: SiteView) -> list[PageTask]:
        return self.pages_for(view, view.model.articles)

    def pages_for(self, view: SiteView, articles: Sequence[Article]) -> list[PageTask]:
        """The downloads of some of the articles."""
        return [
            PageTask(
                "download.html",
                url_to_file(download_url(a.url)),
                (a.parsed.shape, a.slug, a.category.id, *a.link_urls),
                partial(_context, view, a),
                f"{a.parsed.title} {DASH} {view.config.short_name}",
                (a.parsed.source,),
            )
            for a in articles
            if not a.status and view.config.article_downloads
        ]

    def files(self, view: SiteView) -> dict[str, str]:
        return {}
