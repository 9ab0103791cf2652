"""One page per article."""

from __future__ import annotations

from functools import partial
from typing import Any

from ..model import Article
from ..pages import DASH, PageTask, SiteView
from ..urls import category_url, url_to_file


class ArticlePages:
    """/bai-viet/<slug>.html"""

    def pages(self, view: SiteView) -> list[PageTask]:
        short = view.config.short_name
        return [
            PageTask(
                "article.html",
                url_to_file(a.url),
                (a.parsed.digest, a.slug, a.category.id, a.status, *a.link_urls),
                partial(article_context, view, a),
                f"{a.parsed.title} {DASH} {short}",
            )
            for a in view.model.articles
        ]

    def files(self, view: SiteView) -> dict[str, str]:
        return {}


def article_context(view: SiteView, a: Article) -> dict[str, Any]:
    """The template context of one article page."""
    c = view.config
    p = a.parsed
    _, posted, _ = view.dates(a)
    article = dict(view.card(a))
    article.update(
        {
            "posted": posted,
            "author": p.author or c.publisher,
            "body": view.body(a),
            "tags": list(p.tags),
            "updated_iso": a.updated.isoformat(timespec="seconds"),
            "image_caption": p.image_caption,
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
    return {"meta": meta, "article": article, "presence_page": a.url}
