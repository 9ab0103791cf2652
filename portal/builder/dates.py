"""Vietnamese date and time formats (Babel's CLDR data, not the OS locale)."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from babel import Locale

#: CLDR's abbreviated day periods (AM, PM) of the usual language, so that most builds
#: need not import Babel (a test holds these equal to Babel's).
KNOWN_DAY_PERIODS = {"vi": ("SA", "CH")}


@lru_cache(maxsize=4)
def _locale(language: str) -> Locale:
    from babel import Locale

    return Locale.parse(language.replace("-", "_"))


def format_datetime(value: dt.datetime, pattern: str, locale: Locale) -> str:
    from babel.dates import format_datetime

    return str(format_datetime(value, pattern, locale=locale))


def format_time(value: dt.datetime, language: str = "vi") -> str:
    """07/06/2023 4:27 CH (SA before noon, CH after)."""
    return format_datetime(value, "dd/MM/yyyy h:mm a", locale=_locale(language))


def format_posted(value: dt.datetime, language: str = "vi") -> str:
    """21 - 03 - 2023 (the page says "Đăng ngày 21 - 03 - 2023")."""
    return format_datetime(value, "dd - MM - yyyy", locale=_locale(language))


@lru_cache(maxsize=4)
def _day_periods(language: str) -> tuple[str, str]:
    if language in KNOWN_DAY_PERIODS:
        return KNOWN_DAY_PERIODS[language]
    return babel_day_periods(language)


def babel_day_periods(language: str) -> tuple[str, str]:
    """The abbreviated AM and PM names of a language, from Babel."""
    names = _locale(language).day_periods["format"]["abbreviated"]
    return str(names["am"]), str(names["pm"])


def formats(value: dt.datetime, language: str = "vi") -> tuple[str, str, str]:
    """(time, posted, short date) for many articles at once.

    Same output as format_time / format_posted (a test holds them equal), but assembled
    from Babel's day-period names directly: thousands of format_datetime calls add up.
    """
    am, pm = _day_periods(language)
    day, month, year = f"{value.day:02d}", f"{value.month:02d}", f"{value.year:04d}"
    hour = value.hour % 12 or 12
    period = am if value.hour < 12 else pm
    time = f"{day}/{month}/{year} {hour}:{value.minute:02d} {period}"
    return time, f"{day} - {month} - {year}", short_date(value)


def short_date(value: dt.datetime) -> str:
    """dd/mm/yyyy (the third of `formats`, alone: the search index has one per article)."""
    return f"{value.day:02d}/{value.month:02d}/{value.year:04d}"
