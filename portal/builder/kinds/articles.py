"""One page per article."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from types import SimpleNamespace
from typing import Any

from ..dates import formats
from ..model import Article
from ..pages import DASH, PageTask, SiteView
from ..taxonomy import tag_slug
from ..urls import category_url, tag_url, url_to_file


class ArticlePages:
    """/bai-viet/<slug>.html"""

    def pages(self, view: SiteView) -> list[PageTask]:
        return self.pages_for(view, view.model.articles)

    def pages_for(self, view: SiteView, articles: Sequence[Article]) -> list[PageTask]:
        """The pages of some of the articles."""
        short = view.config.short_name
        tasks = []
        for a in articles:
            related = view.related.related(a)
            key = (a.parsed.shape, a.slug, a.category.id, a.status, *a.link_urls)
            key += tuple(f"{r.parsed.shape}:{r.slug}:{r.status}" for r in related)
            tasks.append(
                PageTask(
                    "article.html",
                    url_to_file(a.url),
                    key,
                    partial(article_context, view, a, related),
                    f"{a.parsed.title} {DASH} {short}",
                    (a.parsed.source,),
                )
            )
        return tasks

    def files(self, view: SiteView) -> dict[str, str]:
        return {}


def article_context(view: SiteView, a: Article, related: list[Article]) -> dict[str, Any]:
    """The template context of one article page."""
    c = view.config
    p = a.parsed
    _, posted, _ = view.dates(a)
    updated = formats(a.updated, c.language)[1] if p.updated is not None else None
    # An attribute object, as templates read it: made here, it need not be converted
    # (render.page_context) on every page.
    article = SimpleNamespace(
        **{
            **vars(view.card(a)),
            "posted": posted,
            "author": p.author or c.publisher,
            "body": view.body(a),
            "tags": [
                SimpleNamespace(name=t, url=tag_url(s) if (s := tag_slug(t)) else None)
                for t in p.tags
            ],
            "updated_iso": a.updated.isoformat(timespec="seconds"),
            "updated": updated,  # shown ("Cập nhật ngày ...") only when the editor gave it
            "image_caption": p.image_caption,
            # The lead image is what a reader sees first: loaded at once, not lazily.
            "image_html": view.picture(p.image, p.image_alt or "", lazy=False) if p.image else None,
            "lead": p.summary if p.summary_given else None,
            "status": view.status_label(a),
        }
    )
    meta = view.meta(
        f"{p.title} {DASH} {c.short_name}",  # as ArticlePages.pages titles it
        a.url,
        p.summary,
        og_type="article",
        image=p.image,
        section=category_url(a.category.id),
        index=not a.status,
    )
    return {
        "meta": meta,
        "article": article,
        "related": [view.card(r) for r in related],
        "presence_page": a.url,
    }
