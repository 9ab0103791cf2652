"""The `from` / `to` / `step` / `date` query of the history answers, checked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from starlette.datastructures import QueryParams

from server.errors import ApiError
from server.timebuckets import Moment, day_number

MAX_DAYS = 400
MAX_MINUTE_DAYS = 3
DEFAULT_DAYS = {"day": 30, "hour": 2}
STEPS = ("minute", "hour", "day")
EARLIEST, LATEST = date(1970, 1, 2), date(9999, 12, 30)


@dataclass(frozen=True, slots=True)
class Range:
    step: str
    first: int
    """The first bucket (a day, hour or minute number, see `server.timebuckets`)."""
    last: int


def _date(query: QueryParams, name: str) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        day = date.fromisoformat(raw) if len(raw) == 10 else None
    except ValueError:
        day = None
    if day is None or not EARLIEST <= day <= LATEST:
        raise ApiError(422, "invalid_query", f"{name} must be a date like 2026-12-02")
    return day_number(day)


def day_span(query: QueryParams, now: Moment, default_days: int) -> tuple[int, int]:
    """`from`..`to` as day numbers (both included), checked; the last `default_days` days
    by default. `date=` names a single day."""
    single = _date(query, "date")
    first, last = (
        (single, single) if single is not None else (_date(query, "from"), _date(query, "to"))
    )
    if last is None:
        last = now.day if first is None else min(now.day, first + default_days - 1)
    if first is None:
        first = last - default_days + 1
    if last < first:
        raise ApiError(422, "invalid_query", "to must not be before from")
    if last - first + 1 > MAX_DAYS:
        raise ApiError(422, "invalid_query", f"from and to may be at most {MAX_DAYS} days apart")
    return first, last


def parse_range(query: QueryParams, now: Moment, steps: tuple[str, ...] = STEPS) -> Range:
    step = query.get("step") or "day"
    if step not in steps:
        raise ApiError(422, "invalid_query", f"step must be one of: {', '.join(steps)}")
    if step == "minute":
        if query.get("from") is None and query.get("to") is None:
            return Range(step, now.minute - 48 * 60 + 1, now.minute)
        first, last = day_span(query, now, 2)
        if last - first + 1 > MAX_MINUTE_DAYS:
            raise ApiError(
                422,
                "invalid_query",
                f"minutes are kept 48 hours: ask at most {MAX_MINUTE_DAYS} days",
            )
        return Range(step, first * 1440, min(last * 1440 + 1439, now.minute))
    first, last = day_span(query, now, DEFAULT_DAYS[step])
    if step == "hour":
        return Range(step, first * 24, min(last * 24 + 23, now.hour))
    return Range(step, first, last)
