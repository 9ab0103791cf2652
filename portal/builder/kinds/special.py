"""Pages of their own: the search page and the 404 page."""

from __future__ import annotations

from typing import Any

from ..pages import DASH, PageTask, SiteView
from ..urls import SEARCH_PAGE, url_to_file


class SpecialPages:
    """/tim-kiem.html and /404.html"""

    def pages(self, view: SiteView) -> list[PageTask]:
        short = view.config.short_name
        search_title = f"Tìm kiếm {DASH} {short}"
        missing_title = f"Không tìm thấy trang {DASH} {short}"
        search: dict[str, Any] = {
            "meta": view.meta(search_title, SEARCH_PAGE, "Tìm kiếm bài viết"),
            "presence_page": None,
        }
        missing: dict[str, Any] = {
            "meta": view.meta(missing_title, "/404.html", "", index=False),
            "presence_page": None,
        }
        return [
            PageTask(
                "search.html", url_to_file(SEARCH_PAGE), ("search",), lambda: search, search_title
            ),
            PageTask("404.html", "404.html", ("404",), lambda: missing, missing_title),
        ]

    def files(self, view: SiteView) -> dict[str, str]:
        return {}
