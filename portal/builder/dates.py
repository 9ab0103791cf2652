"""Vietnamese date and time formats (Babel's CLDR data, not the OS locale)."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from babel import Locale
from babel.dates import format_datetime


@lru_cache(maxsize=4)
def _locale(language: str) -> Locale:
    return Locale.parse(language.replace("-", "_"))


def format_time(value: dt.datetime, language: str = "vi") -> str:
    """07/06/2023 4:27 CH (SA before noon, CH after)."""
    return format_datetime(value, "dd/MM/yyyy h:mm a", locale=_locale(language))


def format_posted(value: dt.datetime, language: str = "vi") -> str:
    """21 - 03 - 2023 (the page says "Đăng ngày 21 - 03 - 2023")."""
    return format_datetime(value, "dd - MM - yyyy", locale=_locale(language))


def formats(value: dt.datetime, language: str = "vi") -> tuple[str, str, str]:
    """(time, posted, short date) with one Babel call: thousands of articles add up."""
    time = format_time(value, language)
    day, month, year = time.split(" ", 1)[0].split("/")
    return time, f"{day} - {month} - {year}", f"{day}/{month}/{year}"
