"""`GET /api/stats`: the public "Thống kê truy cập" numbers.

`online` is the presence widget's number; `today` and `month` are distinct visitors of the
site's day and month (the month is a HyperLogLog estimate, within about 0.8%); `total` adds
up every day's visitors since history began. No session is handed out, and the answer may be
cached for 5 seconds (each worker also keeps it for a second, so a busy page costs Redis at
most one read a second per worker).
"""

from __future__ import annotations

import json
import time

from starlette.requests import Request
from starlette.responses import Response

from server.routes import Services
from server.timebuckets import Moment

_CACHE_SECONDS = 1.0
_HEADERS = {"Cache-Control": "public, max-age=5"}


class StatsCache:
    """The last answer of this worker, reused for a second."""

    def __init__(self) -> None:
        self.body = b""
        self.until = 0.0


async def stats(request: Request) -> Response:
    services: Services = request.app.state.services
    cache: StatsCache = request.app.state.stats_cache
    now = time.monotonic()
    if now >= cache.until:
        assert services.traffic is not None and services.recorder is not None
        await services.recorder.flush()  # this worker's last second, at most once a second
        moment = Moment(time.time(), services.catalog.timezone)
        counts = await services.presence.counts(None)
        today, month, total = await services.traffic.visitor_totals(moment.day, moment.month)
        body = {"online": counts.online, "today": today, "month": month, "total": total}
        cache.body = json.dumps(body, separators=(",", ":")).encode()
        cache.until = now + _CACHE_SECONDS
    return Response(cache.body, media_type="application/json", headers=_HEADERS)
