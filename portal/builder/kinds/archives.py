"""Archives: the articles of each month (/luu-tru/2023/06/, paginated like a category)
and an index of the months (/luu-tru/). Each article's date links to its month."""

from __future__ import annotations

from collections import defaultdict
from functools import partial
from typing import Any

from ..model import Article
from ..pages import DASH, PageTask, SiteView, pagination
from ..urls import url_to_file

ARCHIVE_URL = "/luu-tru/"


def month_url(year: int, month: int, page: int = 1) -> str:
    """/luu-tru/2023/06/ for page 1, /luu-tru/2023/06/trang-2.html after."""
    base = f"{ARCHIVE_URL}{year:04d}/{month:02d}/"
    return base if page == 1 else f"{base}trang-{page}.html"


def by_month(articles: tuple[Article, ...] | list[Article]) -> dict[tuple[int, int], list[Article]]:
    """The articles of each month, newest month first (articles keep their order)."""
    months: dict[tuple[int, int], list[Article]] = defaultdict(list)
    for a in articles:
        months[(a.date.year, a.date.month)].append(a)
    return dict(sorted(months.items(), reverse=True))


def _title(label: str, site: str, n: int) -> str:
    return f"{label} {DASH} {site}" if n == 1 else f"{label} {DASH} Trang {n} {DASH} {site}"


def _index_context(view: SiteView, months: dict[tuple[int, int], list[Article]]) -> dict[str, Any]:
    years: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for (year, month), arts in months.items():
        years[year].append(
            {
                "label": f"Tháng {month:02d}/{year}",
                "url": month_url(year, month),
                "count": len(arts),
            }
        )
    title = f"Lưu trữ {DASH} {view.config.short_name}"
    return {
        "meta": view.meta(title, ARCHIVE_URL, "Các bài viết theo tháng đăng."),
        "years": [{"year": y, "months": ms} for y, ms in years.items()],
        "presence_page": None,
    }


#: An archive month lists titles and dates only (no summaries, no pictures): a compact list
#: of this many per page, so a large archive adds few pages to a build.
MONTH_PAGE_SIZE = 50


def _month_context(
    view: SiteView, label: str, year: int, month: int, chunk: list[Article], n: int, total: int
) -> dict[str, Any]:
    url_of = partial(month_url, year, month)
    return {
        "meta": view.meta(
            _title(label, view.config.short_name, n),
            url_of(n),
            f"Các bài viết đăng trong tháng {month:02d} năm {year}.",
            section=ARCHIVE_URL,
        ),
        "heading": label,
        "page_number": n,
        "items": [view.card(a) for a in chunk],
        "pagination": pagination(n, total, url_of),
        "presence_page": None,
    }


class ArchivePages:
    """/luu-tru/ and /luu-tru/<year>/<month>/ (with trang-N.html pages)."""

    def pages(self, view: SiteView) -> list[PageTask]:
        short = view.config.short_name
        months = by_month(view.model.articles)
        key = tuple(f"{y}-{m}:{len(a)}" for (y, m), a in months.items())
        title = f"Lưu trữ {DASH} {short}"
        make = partial(_index_context, view, months)
        tasks = [PageTask("archive.html", url_to_file(ARCHIVE_URL), key, make, title)]
        for (year, month), arts in months.items():
            label = f"Lưu trữ tháng {month:02d}/{year}"
            total = max(1, -(-len(arts) // MONTH_PAGE_SIZE))
            for n in range(1, total + 1):
                chunk = arts[(n - 1) * MONTH_PAGE_SIZE : n * MONTH_PAGE_SIZE]
                page_key: tuple[str, ...] = (label, str(n), str(total))
                page_key += tuple(f"{a.parsed.shape}:{a.slug}:{a.status}" for a in chunk)
                tasks.append(
                    PageTask(
                        "archive_month.html",
                        url_to_file(month_url(year, month, n)),
                        page_key,
                        partial(_month_context, view, label, year, month, chunk, n, total),
                        _title(label, short, n),
                    )
                )
        return tasks

    def files(self, view: SiteView) -> dict[str, str]:
        return {}
