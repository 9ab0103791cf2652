"""Minutes, hours, days and months of the site's time zone, as the history stores them.

History buckets are numbered in local wall-clock time counted from 1970-01-01 00:00 local:
`local = unix + utc_offset`, day `local // 86400`, hour `local // 3600`. Lua scripts compute
the same numbers from Redis's clock and the offset the service passes, so every instance
files a vote or a visit under the same hour, whatever its own time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

_EPOCH = datetime(1970, 1, 1)
_EPOCH_DAY = date(1970, 1, 1)


def utc_offset(zone: ZoneInfo, unix: float) -> int:
    """Seconds east of UTC in `zone` at the instant `unix`."""
    offset = datetime.fromtimestamp(unix, zone).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


@dataclass(frozen=True, slots=True)
class Moment:
    """One instant in the site's zone, with the bucket numbers history files it under."""

    unix: float
    zone: ZoneInfo

    @property
    def local(self) -> int:
        return int(self.unix) + utc_offset(self.zone, self.unix)

    @property
    def day(self) -> int:
        return self.local // 86400

    @property
    def hour(self) -> int:
        return self.local // 3600

    @property
    def minute(self) -> int:
        return self.local // 60

    @property
    def month(self) -> str:
        return day_date(self.day).strftime("%Y%m")


def day_number(day: date) -> int:
    return (day - _EPOCH_DAY).days


def day_date(number: int) -> date:
    return _EPOCH_DAY + timedelta(days=number)


def day_label(number: int) -> str:
    """`2026-12-02`."""
    return day_date(number).isoformat()


def local_label(seconds: int, zone: ZoneInfo) -> str:
    """An hour or minute bucket (its start, in local seconds) as `2026-12-02T14:00+07:00`."""
    wall = _EPOCH + timedelta(seconds=seconds)
    return wall.replace(tzinfo=zone).isoformat(timespec="minutes")


def hour_label(number: int, zone: ZoneInfo) -> str:
    return local_label(number * 3600, zone)


def minute_label(number: int, zone: ZoneInfo) -> str:
    return local_label(number * 60, zone)


def instant_label(unix: float, zone: ZoneInfo) -> str:
    """An instant as ISO 8601 in the site's zone, to the second."""
    return datetime.fromtimestamp(unix, zone).isoformat(timespec="seconds")
