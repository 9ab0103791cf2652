"""The page kinds, in output order: each makes its own pages and files from the site view.

A new kind (e.g. tag pages) is a small module with `pages(view)` and `files(view)`, added
to KINDS, or to TEXT_KINDS when it shows more of an article's text than its `shape` covers
(see content.ParsedArticle): a build that keeps the site model of the last one (only bodies
changed) makes the TEXT_KINDS' files again, not the others'.
"""

from __future__ import annotations

from ..pages import PageKind
from .agency_pages import AgencyPages
from .archives import ArchivePages
from .articles import ArticlePages
from .downloads import ArticleDownloads
from .feeds import Feeds
from .listings import CategoryPages, HomePages
from .search_index import SearchIndex
from .special import SpecialPages
from .tags import TagPages

#: The kinds whose pages show an article's body (see PageTask.bodies), one page per article:
#: `pages_for(view, articles)` makes the pages of some articles only (a build after an edit
#: to bodies, in a new process: see build.py).
BODY_KINDS: tuple[ArticlePages | ArticleDownloads, ...] = (ArticlePages(), ArticleDownloads())

KINDS: tuple[PageKind, ...] = (
    HomePages(),
    CategoryPages(),
    TagPages(),
    BODY_KINDS[0],
    SpecialPages(),
    AgencyPages(),
    ArchivePages(),
    BODY_KINDS[1],
    Feeds(),
)

TEXT_KINDS: tuple[PageKind, ...] = (SearchIndex(),)

__all__ = ["BODY_KINDS", "KINDS", "TEXT_KINDS"]
