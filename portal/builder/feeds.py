"""Atom and RSS feeds, sitemap.xml and robots.txt, built as text (stable byte for byte)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# xml.sax.saxutils and email.utils would do, but import urllib and the socket stack: more
# than the rest of an incremental build. These give the same bytes.
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def escape(text: str) -> str:
    """Escape &, < and > for XML text."""
    return text.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")


def quoteattr(text: str) -> str:
    """An XML attribute value with its quotes (as xml.sax.saxutils.quoteattr)."""
    text = escape(text).replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    if '"' not in text:
        return f'"{text}"'
    if "'" not in text:
        return f"'{text}'"
    return '"' + text.replace('"', "&quot;") + '"'


def rfc2822(value: dt.datetime) -> str:
    """An RFC 2822 date (as email.utils.format_datetime)."""
    zone = value.strftime("%z") if value.tzinfo is not None else "-0000"
    return (
        f"{_DAYS[value.weekday()]}, {value.day:02d} {_MONTHS[value.month - 1]} "
        f"{value.year:04d} {value.hour:02d}:{value.minute:02d}:{value.second:02d} {zone}"
    )


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One article as a feed needs it."""

    title: str
    url: str  # absolute
    published: dt.datetime
    updated: dt.datetime
    summary: str
    category: str
    author: str


def _iso(value: dt.datetime) -> str:
    return value.isoformat(timespec="seconds")


def atom_feed(
    *, title: str, feed_url: str, page_url: str, language: str, entries: Sequence[FeedEntry]
) -> str:
    """An Atom 1.0 feed; `updated` is the newest entry's, never the build time."""
    newest = max((e.updated for e in entries), default=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    out = [
        '<?xml version="1.0" encoding="utf-8"?>\n',
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang={quoteattr(language)}>\n',
        f"  <title>{escape(title)}</title>\n",
        f"  <id>{escape(feed_url)}</id>\n",
        f'  <link rel="self" type="application/atom+xml" href={quoteattr(feed_url)}/>\n',
        f'  <link rel="alternate" type="text/html" href={quoteattr(page_url)}/>\n',
        f"  <updated>{_iso(newest)}</updated>\n",
    ]
    for e in entries:
        out += [
            "  <entry>\n",
            f"    <title>{escape(e.title)}</title>\n",
            f'    <link rel="alternate" type="text/html" href={quoteattr(e.url)}/>\n',
            f"    <id>{escape(e.url)}</id>\n",
            f"    <published>{_iso(e.published)}</published>\n",
            f"    <updated>{_iso(e.updated)}</updated>\n",
            f"    <author><name>{escape(e.author)}</name></author>\n",
            f"    <category term={quoteattr(e.category)}/>\n",
            f"    <summary>{escape(e.summary)}</summary>\n",
            "  </entry>\n",
        ]
    out.append("</feed>\n")
    return "".join(out)


def rss_feed(
    *,
    title: str,
    feed_url: str,
    page_url: str,
    description: str,
    language: str,
    entries: Sequence[FeedEntry],
) -> str:
    """An RSS 2.0 feed."""
    out = [
        '<?xml version="1.0" encoding="utf-8"?>\n',
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">\n',
        "  <channel>\n",
        f"    <title>{escape(title)}</title>\n",
        f"    <link>{escape(page_url)}</link>\n",
        f"    <description>{escape(description or title)}</description>\n",
        f"    <language>{escape(language)}</language>\n",
        f'    <atom:link href={quoteattr(feed_url)} rel="self" type="application/rss+xml"/>\n',
    ]
    if entries:
        newest = max(e.updated for e in entries)
        out.append(f"    <lastBuildDate>{rfc2822(newest)}</lastBuildDate>\n")
    for e in entries:
        out += [
            "    <item>\n",
            f"      <title>{escape(e.title)}</title>\n",
            f"      <link>{escape(e.url)}</link>\n",
            f'      <guid isPermaLink="true">{escape(e.url)}</guid>\n',
            f"      <pubDate>{rfc2822(e.published)}</pubDate>\n",
            f"      <category>{escape(e.category)}</category>\n",
            f"      <description>{escape(e.summary)}</description>\n",
            "    </item>\n",
        ]
    out.append("  </channel>\n</rss>\n")
    return "".join(out)


def sitemap(urls: Sequence[tuple[Any, ...]]) -> str:
    """sitemap.xml: absolute URLs with their last modification time and, for pages in
    two languages, their hreflang alternates: (url, lastmod[, [(lang, url), ...]])."""
    out = [
        '<?xml version="1.0" encoding="utf-8"?>\n',
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
        ' xmlns:xhtml="http://www.w3.org/1999/xhtml">\n',
    ]
    for url, lastmod, *rest in urls:
        mod = f"<lastmod>{_iso(lastmod)}</lastmod>" if lastmod else ""
        alt = "".join(
            f'<xhtml:link rel="alternate" hreflang="{lang}" href="{escape(href)}"/>'
            for lang, href in (rest[0] if rest else ())
        )
        out.append(f"  <url><loc>{escape(url)}</loc>{mod}{alt}</url>\n")
    out.append("</urlset>\n")
    return "".join(out)


def robots(base_url: str) -> str:
    """robots.txt: everything but the builder's own data (_portal/) may be crawled; where
    the sitemap is."""
    return f"User-agent: *\nAllow: /\nDisallow: /_portal/\n\nSitemap: {base_url}/sitemap.xml\n"
