"""`_portal/site.json`: what the service learns from a build (contract 1).

Every HTML page with its canonical path and title, the `[[polls]]` of site.toml as they
are written there, the time zone, and when the site next changes by itself (a scheduled
article, a poll opening or closing), so a builder can build again then.
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from collections.abc import Sequence
from typing import Any

from .config import SiteConfig
from .model import SiteModel
from .pages import PageTask

FORMAT = 1


def _raw_polls(settings: bytes) -> list[dict[str, Any]]:
    try:
        polls = tomllib.loads(settings.decode("utf-8")).get("polls", [])
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return []
    return [p for p in polls if isinstance(p, dict)] if isinstance(polls, list) else []


def _moment(value: Any, config: SiteConfig) -> dt.datetime | None:
    """A poll's opens/closes as an aware time (naive ones are in the site's time zone)."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if not isinstance(value, dt.datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=config.tz)


def next_change(
    settings: bytes, config: SiteConfig, model: SiteModel, now: dt.datetime
) -> dt.datetime | None:
    """The next scheduled publication, or a poll's opens/closes if sooner (site time zone)."""
    moments = [model.next_publish] if model.next_publish else []
    for poll in _raw_polls(settings):
        for key in ("opens", "closes"):
            moment = _moment(poll.get(key), config)
            if moment is not None and moment > now:
                moments.append(moment)
    return min(moments).astimezone(config.tz) if moments else None


def _canonical(file: str) -> str:
    return "/" + file


def _json_default(value: Any) -> str:
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    raise TypeError(f"not JSON: {value!r}")


def site_manifest(
    config: SiteConfig, settings: bytes, tasks: Sequence[PageTask], change: dt.datetime | None
) -> bytes:
    """The manifest's bytes: the same inputs always give the same bytes."""
    pages = sorted(
        ({"path": _canonical(t.file), "title": t.title} for t in tasks if t.file.endswith(".html")),
        key=lambda p: p["path"],
    )
    data = {
        "format": FORMAT,
        "timezone": config.timezone,
        "pages": pages,
        "polls": _raw_polls(settings),
        "next_change": change.isoformat(timespec="seconds") if change else None,
    }
    # No indent: json's C encoder then does the work (a page list can be long).
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, default=_json_default)
    return (text + "\n").encode("utf-8")
