"""The site settings in `site.toml`."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from server.poll_config import Poll, PollConfigError, load_polls

from .errors import BuildError
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

    @property
    def category_map(self) -> dict[str, Category]:
        """Categories by id."""
        return {c.id: c for c in self.categories}

    @property
    def tz(self) -> ZoneInfo:
        """The site's time zone (dates are shown in it)."""
        return ZoneInfo(self.timezone)


def _get(table: dict[str, Any], key: str, kind: type, where: str, default: Any = None) -> Any:
    value = table.get(key, default)
    if value is None:
        raise BuildError(f"{where}: missing required setting '{key}'")
    # bool is an int subclass: don't let `page_size = true` through.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BuildError(f"{where}: setting '{key}' must be a {kind.__name__}, got {value!r}")
    return value


def load_config(site_dir: Path) -> SiteConfig:
    """Read and validate `site.toml`; a BuildError names the problem."""
    path = site_dir / "site.toml"
    where = "site.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BuildError(f"{path}: no site.toml here (is this a site directory?)") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BuildError(f"{where}: not valid TOML: {exc}") from None
    site = data.get("site")
    if not isinstance(site, dict):
        raise BuildError(f"{where}: missing the [site] table")
    w = f"{where} [site]"
    name = _get(site, "name", str, w)
    base_url = _get(site, "base_url", str, w).rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        raise BuildError(f"{w}: base_url must start with http:// or https://")
    timezone = _get(site, "timezone", str, w, "Asia/Ho_Chi_Minh")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise BuildError(f"{w}: unknown time zone {timezone!r}") from None
    page_size = _get(site, "page_size", int, w, 10)
    latest_count = _get(site, "latest_count", int, w, 6)
    feed_size = _get(site, "feed_size", int, w, 20)
    for key, value in (("page_size", page_size), ("latest_count", latest_count)):
        if value < 1:
            raise BuildError(f"{w}: {key} must be at least 1")
    footer = site.get("footer", [])
    if not isinstance(footer, list) or not all(isinstance(x, str) for x in footer):
        raise BuildError(f"{w}: footer must be a list of strings")

    categories: list[Category] = []
    for i, raw in enumerate(data.get("categories", [])):
        cw = f"{where} [[categories]] #{i + 1}"
        if not isinstance(raw, dict):
            raise BuildError(f"{cw}: must be a table")
        cid = _get(raw, "id", str, cw)
        if not is_valid_slug(cid):
            raise BuildError(f"{cw}: id {cid!r} must be lowercase letters, digits and hyphens")
        if any(c.id == cid for c in categories):
            raise BuildError(f"{cw}: duplicate category id {cid!r}")
        categories.append(Category(cid, _get(raw, "name", str, cw), raw.get("description", "")))
    if not categories:
        raise BuildError(f"{where}: define at least one [[categories]] entry")

    nav: list[NavItem] = []
    for i, raw in enumerate(data.get("nav", [])):
        nw = f"{where} [[nav]] #{i + 1}"
        if not isinstance(raw, dict):
            raise BuildError(f"{nw}: must be a table")
        nav.append(NavItem(_get(raw, "label", str, nw), _get(raw, "url", str, nw)))

    try:
        # The service's own reading of the polls: the ballots built are the polls it serves.
        polls = list(load_polls(path).values())
    except PollConfigError as exc:
        raise BuildError(str(exc)) from None

    return SiteConfig(
        name=name,
        short_name=site.get("short_name", name),
        base_url=base_url,
        language=_get(site, "language", str, w, "vi"),
        timezone=timezone,
        page_size=page_size,
        description=site.get("description", ""),
        latest_count=latest_count,
        feed_size=feed_size,
        publisher=site.get("publisher", name),
        footer=tuple(footer),
        nav=tuple(nav),
        categories=tuple(categories),
        polls=tuple(polls),
    )
