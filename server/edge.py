"""The bookkeeping of every request: its id on the way in; a count in the metrics and a line in
the access log on the way out. The concerns live in their own modules (`logs.py`,
`metrics.py`); the pipeline (`server.pipeline`) calls this once per request."""

from __future__ import annotations

import time

from starlette.types import Scope

from server.logs import AccessLog, RequestIds, sane_request_id
from server.metrics import RequestMetrics


class Edge:
    """Request ids, request metrics and the access log."""

    def __init__(self, metrics: RequestMetrics, access_log: AccessLog | None) -> None:
        self.metrics = metrics
        self.access_log = access_log
        self._ids = RequestIds()

    def request_id(self, incoming: bytes | None) -> str:
        """An incoming sane `X-Request-Id` (kept, and echoed), else a fresh one."""
        if incoming is not None:
            return sane_request_id(incoming.decode("latin-1")) or self._ids.new()
        return self._ids.new()

    def record(
        self, request_id: str, scope: Scope, route: str, status: int, size: int, started: float
    ) -> None:
        """Counts the answered request and logs it (`started` is a `perf_counter` reading)."""
        seconds = time.perf_counter() - started
        self.metrics.observe(route, scope["method"], status, seconds)
        if self.access_log is not None:
            self.access_log.write(
                request_id, scope["method"], scope["path"], route, status, size, seconds
            )
