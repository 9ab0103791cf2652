"""The client-side search index: every article's folded text, and the agency pages'."""

from __future__ import annotations

from functools import partial

from ..pages import FileData, PageTask, SiteView
from ..search import search_index
from ..urls import SEARCH_INDEX, url_to_file
from .agency_pages import search_entries


class SearchIndex:
    """/tim-kiem.json. It holds the start of each article's body, so it follows every
    edit: one of the TEXT_KINDS, made on every build from this build's articles."""

    def pages(self, view: SiteView) -> list[PageTask]:
        return []

    def files(self, view: SiteView) -> dict[str, FileData]:
        return {url_to_file(SEARCH_INDEX): partial(_index, view)}


def _index(view: SiteView) -> bytes:
    entries = [view.search_entry(a) for a in view.model.articles]
    return search_index(entries + search_entries(view))
