"""The site settings in `site.toml`."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from server.poll_config import Poll, PollConfigError, load_polls

from .errors import BuildError, Problem, did_you_mean
from .slugs import is_valid_slug


@dataclass(frozen=True, slots=True)
class Category:
    """A category: its URL id and its Vietnamese name."""

    id: str
    name: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class NavItem:
    """One entry of the main navigation."""

    label: str
    url: str


@dataclass(frozen=True, slots=True)
class SiteLink:
    """One entry of the "Liên kết website" block: another agency's portal."""

    label: str
    url: str
    label_en: str = ""


@dataclass(frozen=True, slots=True)
class English:
    """The `[english]` table: what English pages show instead of the Vietnamese settings."""

    name: str
    short_name: str
    description: str
    footer: tuple[str, ...]
    nav: tuple[NavItem, ...]


@dataclass(frozen=True, slots=True)
class SiteConfig:
    """Everything the builder reads from `site.toml`."""

    name: str
    short_name: str
    base_url: str
    language: str
    timezone: str
    page_size: int
    description: str
    latest_count: int
    feed_size: int
    publisher: str
    footer: tuple[str, ...]
    nav: tuple[NavItem, ...]
    categories: tuple[Category, ...]
    polls: tuple[Poll, ...] = field(default_factory=tuple)
    links: tuple[SiteLink, ...] = ()
    english: English | None = None
    # /tai-ve/<slug>.html for every article (one more file per article: off saves that)
    article_downloads: bool = True

    @property
    def category_map(self) -> dict[str, Category]:
        """Categories by id."""
        return {c.id: c for c in self.categories}

    @property
    def tz(self) -> ZoneInfo:
        """The site's time zone (dates are shown in it)."""
        return ZoneInfo(self.timezone)


_SITE_KEYS = {
    "name", "short_name", "base_url", "language", "timezone", "page_size", "description",
    "latest_count", "feed_size", "publisher", "footer", "article_downloads",
}  # fmt: skip
_TABLES = {"site", "categories", "nav", "polls", "links", "english"}
_CATEGORY_KEYS = {"id", "name", "description"}
_NAV_KEYS = {"label", "url"}
_LINK_KEYS = {"label", "label_en", "url"}
_ENGLISH_KEYS = {"name", "short_name", "description", "footer", "nav"}
FILE = "site.toml"


class _Checker:
    """Reads settings, collecting a Problem for each bad one instead of stopping at the first."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.problems: list[Problem] = []

    def line_of(self, key: str) -> int | None:
        """The first line setting `key` (problems point there when it is written)."""
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        return next((i + 1 for i, line in enumerate(self.lines) if pattern.match(line)), None)

    def add(
        self, key: str | None, message: str, hint: str | None = None, *, locate: bool = True
    ) -> None:
        # Keys of repeated tables ([[categories]] id) are ambiguous: no line for them.
        line = self.line_of(key) if key and locate else None
        self.problems.append(Problem(FILE, line, key, message, hint))

    def unknown(self, table: dict[str, Any], known: set[str], where: str) -> None:
        for key in sorted(str(k) for k in table if k not in known):
            hint = did_you_mean(key, known) or f"known: {', '.join(sorted(known))}"
            self.add(key, f"unknown setting in {where}", hint, locate=where == "[site]")

    def get(
        self, table: dict[str, Any], key: str, kind: type, where: str, default: Any = None
    ) -> Any:
        """`table[key]` when it is a `kind`; else a problem and None."""
        value = table.get(key, default)
        if value is None:
            self.problems.append(
                Problem(FILE, None, key, f"missing in {where}", f"add a {key} = ... line")
            )
            return None
        # bool is an int subclass: don't let `page_size = true` through.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.add(
                key,
                f"must be a {kind.__name__} (in {where}), got {value!r}",
                locate=where == "[site]",
            )
            return None
        return value


def read_settings(site_dir: Path) -> tuple[str, dict[str, Any]]:
    """The text and the TOML data of `site.toml`; BuildError when it cannot be read."""
    path = site_dir / FILE
    try:
        text = path.read_text(encoding="utf-8")
        return text, tomllib.loads(text)
    except FileNotFoundError:
        problem = Problem(FILE, None, None, "no site.toml here", "is this a site directory?")
    except UnicodeDecodeError as exc:
        problem = Problem(FILE, None, None, f"not UTF-8 text ({exc.reason})", None)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        problem = Problem(FILE, line, None, f"not valid TOML: {exc}", None)
    raise BuildError([problem])


def load_config(site_dir: Path) -> SiteConfig:
    """Read and validate `site.toml`; a BuildError lists every problem."""
    text, data = read_settings(site_dir)
    check = _Checker(text)
    check.unknown(data, _TABLES, "the top level")
    site = data.get("site")
    if not isinstance(site, dict):
        check.add(None, "missing the [site] table", "add a [site] table with name and base_url")
        site = {}
    check.unknown(site, _SITE_KEYS, "[site]")
    w = "[site]"
    name = check.get(site, "name", str, w)
    base_url = (check.get(site, "base_url", str, w) or "https://invalid").rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        check.add("base_url", "must start with http:// or https://")
    timezone = check.get(site, "timezone", str, w, "Asia/Ho_Chi_Minh") or "UTC"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        check.add("timezone", f"unknown time zone {timezone!r}", "e.g. Asia/Ho_Chi_Minh")
        timezone = "UTC"
    counts = {}
    for key, default in (("page_size", 10), ("latest_count", 6), ("feed_size", 20)):
        value = check.get(site, key, int, w, default)
        counts[key] = default if value is None else value
        if counts[key] < 1:
            check.add(key, "must be at least 1")
    footer = site.get("footer", [])
    if not isinstance(footer, list) or not all(isinstance(x, str) for x in footer):
        check.add("footer", "must be a list of strings")
        footer = []
    categories = _categories(check, data.get("categories", []))
    nav = _nav(check, data.get("nav", []))
    polls = _polls(check, site_dir)
    links = site_links(check, data.get("links", []))
    english = _english(check, data.get("english"))
    downloads = check.get(site, "article_downloads", bool, w, True)
    if check.problems:
        raise BuildError(check.problems)
    return SiteConfig(
        name=name,
        short_name=site.get("short_name", name),
        base_url=base_url,
        language=check.get(site, "language", str, w, "vi"),
        timezone=timezone,
        page_size=counts["page_size"],
        description=site.get("description", ""),
        latest_count=counts["latest_count"],
        feed_size=counts["feed_size"],
        publisher=site.get("publisher", name),
        footer=tuple(footer),
        nav=tuple(nav),
        categories=tuple(categories),
        polls=tuple(polls),
        links=tuple(links),
        english=english,
        article_downloads=downloads is not False,
    )


def _categories(check: _Checker, raw_list: Any) -> list[Category]:
    categories: list[Category] = []
    for i, raw in enumerate(raw_list if isinstance(raw_list, list) else []):
        cw = f"[[categories]] #{i + 1}"
        if not isinstance(raw, dict):
            check.add(None, f"{cw} must be a table")
            continue
        check.unknown(raw, _CATEGORY_KEYS, cw)
        cid, name = check.get(raw, "id", str, cw), check.get(raw, "name", str, cw)
        if cid is None or name is None:
            continue
        if not is_valid_slug(cid):
            check.add(
                "id", f"{cid!r} in {cw}: use lowercase letters, digits, hyphens", locate=False
            )
        elif any(c.id == cid for c in categories):
            check.add("id", f"duplicate category id {cid!r} in {cw}", locate=False)
        else:
            categories.append(Category(cid, name, raw.get("description", "")))
    if not categories:
        check.add(None, "no categories", "define at least one [[categories]] entry")
    return categories


def _nav(check: _Checker, raw_list: Any) -> list[NavItem]:
    nav: list[NavItem] = []
    for i, raw in enumerate(raw_list if isinstance(raw_list, list) else []):
        nw = f"[[nav]] #{i + 1}"
        if not isinstance(raw, dict):
            check.add(None, f"{nw} must be a table")
            continue
        check.unknown(raw, _NAV_KEYS, nw)
        label, url = check.get(raw, "label", str, nw), check.get(raw, "url", str, nw)
        if label is not None and url is not None:
            nav.append(NavItem(label, url))
    return nav


#: What a link of the "Liên kết website" block may look like: https (or http) and a host
#: name with a dot; no spaces, no credentials.
_LINK_SHAPE = re.compile(
    r"^https?://[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9-]+)+(?::\d+)?(?:[/?#]\S*)?$"
)


def site_links(check: _Checker, raw_list: Any) -> list[SiteLink]:
    """`[[links]]`: label (and label_en), url; each url checked for shape."""
    links: list[SiteLink] = []
    for i, raw in enumerate(raw_list if isinstance(raw_list, list) else []):
        lw = f"[[links]] #{i + 1}"
        if not isinstance(raw, dict):
            check.add(None, f"{lw} must be a table")
            continue
        check.unknown(raw, _LINK_KEYS, lw)
        label, url = check.get(raw, "label", str, lw), check.get(raw, "url", str, lw)
        if label is None or url is None:
            continue
        if not _LINK_SHAPE.match(url.strip().lower()):
            check.add(
                "url",
                f"{lw} ({label}): {url!r} is not a web address",
                "write it in full, e.g. https://dichvucong.gov.vn",
                locate=False,
            )
            continue
        links.append(SiteLink(label, url.strip(), str(raw.get("label_en") or "")))
    return links


def _english(check: _Checker, raw: Any) -> English | None:
    """`[english]`: the names, footer and navigation of the English pages."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        check.add(None, "[english] must be a table")
        return None
    check.unknown(raw, _ENGLISH_KEYS, "[english]")
    name = check.get(raw, "name", str, "[english]")
    footer = raw.get("footer", [])
    if not isinstance(footer, list) or not all(isinstance(x, str) for x in footer):
        check.add("footer", "[english] footer must be a list of strings", locate=False)
        footer = []
    nav = _nav(check, raw.get("nav", []))
    if name is None:
        return None
    return English(
        name=name,
        short_name=str(raw.get("short_name", name)),
        description=str(raw.get("description", "")),
        footer=tuple(footer),
        nav=tuple(nav),
    )


def _polls(check: _Checker, site_dir: Path) -> list[Poll]:
    try:
        # The service's own reading of the polls: the ballots built are the polls it serves.
        return list(load_polls(site_dir / FILE).values())
    except PollConfigError as exc:
        message = str(exc).replace(f"{site_dir / FILE}: ", "")
        check.add(None, message)
        return []
