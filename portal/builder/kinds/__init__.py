"""The page kinds, in output order: each makes its own pages and files from the site view.

A new kind (e.g. tag pages) is a small module with `pages(view)` and `files(view)`, added
to KINDS.
"""

from __future__ import annotations

from ..pages import PageKind
from .agency_pages import AgencyPages
from .archives import ArchivePages
from .articles import ArticlePages
from .downloads import ArticleDownloads
from .feeds import Feeds
from .listings import CategoryPages, HomePages
from .special import SpecialPages
from .tags import TagPages

KINDS: tuple[PageKind, ...] = (
    HomePages(),
    CategoryPages(),
    TagPages(),
    ArticlePages(),
    SpecialPages(),
    AgencyPages(),
    ArchivePages(),
    ArticleDownloads(),
    Feeds(),
)

__all__ = ["KINDS"]
