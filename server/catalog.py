"""The site the service serves: its pages (with titles), its polls and its time zone.

They come from the build output's manifest, `_portal/site.json`, which `portal build` writes
(atomically) as the last step of every successful build. The catalog re-reads it whenever the
file changes (`refresh`, which the app calls about once a second), so a rebuild under
`portal serve`, or a builder refreshing a shared volume, reaches the API with no restart:
a poll closed or added in `site.toml`, a new article's page.

With no built site (the API serving embeds on another site) there is no page list, and the
polls and time zone are those of `site.toml`.
"""

from __future__ import annotations

import json
import logging
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from server.poll_config import Poll, PollConfigError, load_polls, polls_from_tables

MANIFEST_FORMAT = 1
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
_log = logging.getLogger(__name__)


def canonical_page(path: str) -> str:
    """One name per page: `/` is `/index.html`, `/dir/` is `/dir/index.html`."""
    return path + "index.html" if path.endswith("/") else path


class SiteCatalog:
    """What the service knows of the site; `refresh()` follows the manifest's changes."""

    def __init__(self, manifest: Path | None, site_toml: Path | None) -> None:
        self.manifest = manifest
        self.pages: Mapping[str, str] | None = None
        """Canonical page path -> title; None when the service has no list of the pages."""
        self.polls: dict[str, Poll] = {}
        self.timezone = ZoneInfo(DEFAULT_TIMEZONE)
        self._stamp: tuple[int, int, int] | None = None
        if site_toml is not None:
            try:
                self.polls = load_polls(site_toml)
                self.timezone = _zone(_site_timezone(site_toml), str(site_toml))
            except PollConfigError as exc:
                if manifest is None:
                    raise
                # Following a build: the build reports a bad site.toml as a problem and the
                # last good build's manifest (if any) is what counts; the service stays up.
                _log.warning("%s not loaded, waiting for a good build: %s", site_toml, exc)
        self.refresh()

    def refresh(self) -> bool:
        """Re-read the manifest if it changed since the last look; True if it was re-read.

        A manifest that cannot be read or is not valid keeps what the catalog had, with a
        warning: the last good build stays in force.
        """
        if self.manifest is None:
            return False
        try:
            info = self.manifest.stat()
        except OSError:
            return False
        stamp = (info.st_mtime_ns, info.st_size, info.st_ino)
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            self._load(json.loads(self.manifest.read_bytes()))
        except (OSError, ValueError, TypeError, KeyError, PollConfigError) as exc:
            _log.warning(
                "site manifest %s not loaded, keeping the last one: %s", self.manifest, exc
            )
            return False
        return True

    def _load(self, data: dict[str, Any]) -> None:
        if data.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"format {data.get('format')!r}, expected {MANIFEST_FORMAT}")
        where = str(self.manifest)
        pages = {canonical_page(str(p["path"])): str(p.get("title", "")) for p in data["pages"]}
        polls = polls_from_tables(data.get("polls", []), where)
        timezone = _zone(data.get("timezone") or DEFAULT_TIMEZONE, where)
        self.pages, self.polls, self.timezone = pages, polls, timezone
        _log.info("site manifest loaded: %d pages, %d polls", len(pages), len(polls))


def _site_timezone(site_toml: Path) -> str:
    try:
        data = tomllib.loads(site_toml.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return DEFAULT_TIMEZONE
    site = data.get("site")
    zone = site.get("timezone") if isinstance(site, dict) else None
    return zone if isinstance(zone, str) else DEFAULT_TIMEZONE


def _zone(name: str, where: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PollConfigError(f"{where}: unknown time zone {name!r}") from None


def write_manifest(path: Path, data: dict[str, Any]) -> None:
    """Write a manifest atomically (temp file, then rename): readers never see half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_text(
        json.dumps(data, ensure_ascii=False, sort_keys=True, indent=1, default=str) + "\n",
        encoding="utf-8",
    )
    os.replace(temp, path)
