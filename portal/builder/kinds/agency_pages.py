"""Pages that are not articles (site/pages/), in Vietnamese and English, with the
organisation and contact directory where a page asks for it."""

from __future__ import annotations

from functools import partial
from typing import Any

from ..agency import SitePage
from ..directory import directory_context
from ..i18n import WORDS, english_date
from ..pages import DASH, PageTask, SiteView
from ..search import fold, json_string, search_entry
from ..urls import SEARCH_PAGE_EN, url_to_file


def language_globals(view: SiteView, lang: str) -> dict[str, Any]:
    """What a page in `lang` shows instead of the site-wide (Vietnamese) globals."""
    c = view.config
    if lang == "vi" or c.english is None:
        return {}
    e = c.english
    site = dict(view.globals()["site"])
    site.update(
        name=e.name, short_name=e.short_name, description=e.description, footer=list(e.footer)
    )
    site["language"] = "en"
    return {
        "site": site,
        "nav": [{"label": n.label, "url": n.url} for n in e.nav],
        "lang": "en",
        "page_lang": "en",
        "ui": WORDS["en"],
        "search_url": SEARCH_PAGE_EN,
    }


def alternates(view: SiteView, page: SitePage) -> list[dict[str, str]]:
    """hreflang alternates of a page with a translation (none without one)."""
    if page.translation is None:
        return []
    urls = {page.lang: page.url, ("en" if page.lang == "vi" else "vi"): page.translation}
    return hreflang_pair(view, urls["vi"], urls["en"])


def hreflang_pair(view: SiteView, vi_url: str, en_url: str) -> list[dict[str, str]]:
    """The alternates of a page and its twin, as the head's `hreflang` links take them."""
    return [
        {"lang": "vi", "href": view.absolute(vi_url)},
        {"lang": "en", "href": view.absolute(en_url)},
    ]


def _updated(page: SitePage, view: SiteView) -> str | None:
    if page.updated is None or not hasattr(page.updated, "year"):
        return None
    if page.lang == "en":
        return english_date(page.updated)
    return f"{page.updated:%d/%m/%Y}"


def page_context(view: SiteView, page: SitePage) -> dict[str, Any]:
    short = (
        view.config.english.short_name
        if page.lang == "en" and view.config.english
        else view.config.short_name
    )
    context = language_globals(view, page.lang)
    meta = view.meta(f"{page.title} {DASH} {short}", page.url, page.description)
    meta["alternates"] = alternates(view, page)
    context.update(
        {
            "meta": meta,
            "page": {
                "title": page.title,
                "body": page.body_html,
                "data": page.data,
                "updated": _updated(page, view),
                "updated_iso": str(page.updated) if page.updated is not None else "",
            },
            "switch": {"url": page.translation, "lang": "en" if page.lang == "vi" else "vi"}
            if page.translation
            else None,
            "presence_page": None,
        }
    )
    if page.data:
        context["directory"] = directory_context(view.agency, page.lang)
    return context


class AgencyPages:
    """/<slug>.html and /en/<slug>.html: the pages of site/pages/."""

    def pages(self, view: SiteView) -> list[PageTask]:
        tasks = []
        data_key = repr(view.agency.units) + repr(view.agency.officials)
        for page in view.agency.pages:
            key = (repr(page), data_key if page.data else "")
            short = view.config.short_name
            if page.lang == "en" and view.config.english:
                short = view.config.english.short_name
            title = f"{page.title} {DASH} {short}"
            tasks.append(
                PageTask(
                    "page.html",
                    url_to_file(page.url),
                    key,
                    partial(page_context, view, page),
                    title,
                )
            )
        return tasks

    def files(self, view: SiteView) -> dict[str, str]:
        return {}


def sitemap_entries(view: SiteView) -> list[tuple[str, Any, list[tuple[str, str]]]]:
    """The pages for sitemap.xml, with their hreflang alternates."""
    return [
        (view.absolute(p.url), None, [(a["lang"], a["href"]) for a in alternates(view, p)])
        for p in view.agency.pages
    ]


def search_entries(view: SiteView) -> list[bytes]:
    """The pages, and each official of the directory, for the site search (entries of
    search.search_index)."""
    entries = []
    for p in view.agency.pages:
        words = WORDS[p.lang]
        key = json_string(fold(f"{p.title} {p.description} {p.text}")).encode()
        entries.append(
            search_entry(
                p.url, p.title, words["language_name"], words["page_kind"], p.description, key
            )
        )
    directory = next(
        (p for p in view.agency.pages if p.data == "directory" and p.lang == "vi"), None
    )
    if directory is None:
        return entries
    units = {u.id: u for u in view.agency.units}
    for o in view.agency.officials:
        unit = units[o.unit].name["vi"]
        summary = f"{o.position['vi']}, {unit}. Điện thoại {o.phone}, {o.email}"
        url = f"{directory.url}#{o.unit}"
        text = f"{o.name} {o.position['vi']} {o.position['en']} {unit} {o.phone} {o.email}"
        key = json_string(fold(text)).encode()
        entries.append(search_entry(url, o.name, unit, WORDS["vi"]["contacts_of"], summary, key))
    return entries
