"""Pages of their own: the search page (and its English twin) and the 404 page."""

from __future__ import annotations

from typing import Any

from ..pages import DASH, PageTask, SiteView
from ..urls import SEARCH_PAGE, SEARCH_PAGE_EN, url_to_file
from .agency_pages import hreflang_pair, language_globals


class SpecialPages:
    """/tim-kiem.html, /en/search.html (with an [english] section) and /404.html"""

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
        tasks = [
            PageTask(
                "search.html", url_to_file(SEARCH_PAGE), ("search",), lambda: search, search_title
            ),
            PageTask("404.html", "404.html", ("404",), lambda: missing, missing_title),
        ]
        english = view.config.english
        if english is not None:
            title_en = f"Search {DASH} {english.short_name}"
            search_en: dict[str, Any] = {
                **language_globals(view, "en"),
                "meta": view.meta(title_en, SEARCH_PAGE_EN, "Search the portal"),
                "presence_page": None,
                "switch": {"url": SEARCH_PAGE, "lang": "vi"},
            }
            search["switch"] = {"url": SEARCH_PAGE_EN, "lang": "en"}
            for context in (search, search_en):
                context["meta"]["alternates"] = hreflang_pair(view, SEARCH_PAGE, SEARCH_PAGE_EN)
            tasks.append(
                PageTask(
                    "search.html",
                    url_to_file(SEARCH_PAGE_EN),
                    ("search", "en"),
                    lambda: search_en,
                    title_en,
                )
            )
        return tasks

    def files(self, view: SiteView) -> dict[str, str]:
        return {}
