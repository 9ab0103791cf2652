"""Where each page lives: its URL path and its file under the output directory."""

from __future__ import annotations

ARTICLE_DIR = "bai-viet"
CATEGORY_DIR = "chuyen-muc"
SEARCH_PAGE = "/tim-kiem.html"
SEARCH_PAGE_EN = "/en/search.html"  # the same index, English words (with an [english] section)
SEARCH_INDEX = "/tim-kiem.json"
#: What the service reads from a build (contract: pages, polls, time zone, next change).
SITE_MANIFEST = "_portal/site.json"


def article_url(slug: str) -> str:
    """/bai-viet/<slug>.html"""
    return f"/{ARTICLE_DIR}/{slug}.html"


def home_url(page: int = 1) -> str:
    """/ for page 1, /trang-2.html after."""
    return "/" if page == 1 else f"/trang-{page}.html"


def category_url(category_id: str, page: int = 1) -> str:
    """/chuyen-muc/<id>/ for page 1, /chuyen-muc/<id>/trang-2.html after."""
    base = f"/{CATEGORY_DIR}/{category_id}/"
    return base if page == 1 else f"{base}trang-{page}.html"


def category_feed_url(category_id: str, kind: str) -> str:
    """/chuyen-muc/<id>/atom.xml or rss.xml"""
    return f"/{CATEGORY_DIR}/{category_id}/{kind}.xml"


def url_to_file(url: str) -> str:
    """The output file (relative, POSIX) that serves a site-absolute URL path."""
    path = url.split("#", 1)[0].split("?", 1)[0].lstrip("/")
    if path == "" or path.endswith("/"):
        path += "index.html"
    return path


TAG_DIR = "the"


def tag_url(slug: str, page: int = 1) -> str:
    """/the/<slug>/ for page 1, /the/<slug>/trang-2.html after."""
    base = f"/{TAG_DIR}/{slug}/"
    return base if page == 1 else f"{base}trang-{page}.html"


def tag_feed_url(slug: str, kind: str) -> str:
    """/the/<slug>/atom.xml or rss.xml"""
    return f"/{TAG_DIR}/{slug}/{kind}.xml"
