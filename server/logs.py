"""Logs: one JSON object per line (or readable text on a terminal), every record tagged with
its request's id. Every line the process writes to stderr goes through here: the service's,
uvicorn's, other libraries', uncaught exceptions and warnings alike.

The id comes from an incoming `X-Request-Id` when it is sane (a proxy's or a load balancer's,
so one request can be followed across them), else a fresh one; the response echoes it. Client
addresses are not logged: the proxy in front already logs them, and they are personal data.
"""

from __future__ import annotations

import asyncio
import bisect
import contextvars
import itertools
import json
import logging
import logging.config
import os
import re
import secrets
import sys
import threading
import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from json.encoder import encode_basestring as encode_json_string  # the C encoder
from typing import Any, TextIO

REQUEST_ID_HEADER = b"x-request-id"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:+/=-]{1,128}$")
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "portal_request_id", default=None
)

# Attributes every LogRecord has; anything else was passed in `extra=` and goes in the JSON.
# uvicorn's `color_message` repeats the message with terminal colours.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {
    "message", "asctime", "taskName", "color_message",
}  # fmt: skip
_access_text = False  # access lines as text (set by configure_logging)


def current_request_id() -> str | None:
    return _request_id.get()


def bind_request_id(request_id: str) -> contextvars.Token[str | None]:
    """Tag what this request logs (errors too) with its id; `_request_id.reset` undoes it."""
    return _request_id.set(request_id)


def unbind_request_id(token: contextvars.Token[str | None]) -> None:
    _request_id.reset(token)


class RequestIds:
    """Fresh request ids: a random per-process prefix and a counter (unique, and no syscall)."""

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(4)
        self._next = itertools.count()

    def new(self) -> str:
        return f"{self._prefix}{next(self._next) & 0xFFFFFFFF:08x}"


def sane_request_id(value: str) -> str | None:
    """An incoming id worth keeping: short, printable, no spaces or quotes to break log lines."""
    value = value.strip()
    return value if _SANE_ID.match(value) else None


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message", "request_id", ...extra}` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`12:03:04 WARNING uvicorn.error: message key=value ...` for a person at a terminal."""

    converter = staticmethod(time.gmtime)  # UTC, as the JSON lines and the access lines

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = [f"{key}={value}" for key, value in record.__dict__.items() if key not in _STANDARD]
        request_id = current_request_id()
        if request_id and "request_id" not in record.__dict__:
            extra.append(f"request_id={request_id}")
        if not extra:
            return line
        head, newline, rest = line.partition("\n")  # a traceback follows the first line
        return f"{head} {' '.join(extra)}{newline}{rest}"


def resolve_log_format(log_format: str | None = None) -> str:
    """The format asked for, else PORTAL_LOG_FORMAT, else by whether stderr is a terminal."""
    if log_format is not None:
        return log_format
    from server.settings import SettingsError, log_format_from_env

    try:
        return log_format_from_env(os.environ)
    except SettingsError:
        return "text"  # the settings check reports it, readably


def logging_config(log_format: str) -> dict[str, Any]:
    """A `logging.config.dictConfig` dict: every logger through one stderr handler, in this
    format. uvicorn applies it in each worker process it starts (`log_config=`)."""
    formatter = "server.logs.JsonFormatter" if log_format == "json" else "server.logs.TextFormatter"
    info = {"level": "INFO", "handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"portal": {"()": formatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "portal",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": "WARNING", "handlers": ["stderr"]},
        "loggers": {
            "portal": info,
            "server": info,
            "uvicorn": info,
            "uvicorn.error": info,
            "uvicorn.access": {"level": "INFO", "handlers": [], "propagate": False},
        },
    }


def configure_logging(log_format: str | None = None) -> None:
    """Apply `logging_config`, and route what would bypass logging (uncaught exceptions in
    any thread, exceptions nobody can raise, warnings) through it too."""
    global _access_text
    resolved = resolve_log_format(log_format)
    logging.config.dictConfig(logging_config(resolved))
    _access_text = resolved == "text"
    logging.captureWarnings(True)
    crashes = logging.getLogger("portal.crash")
    sys.excepthook = lambda kind, exc, tb: crashes.critical(
        "Uncaught exception", exc_info=(kind, exc, tb)
    )
    threading.excepthook = lambda hook: crashes.critical(
        "Uncaught exception in thread %s",
        hook.thread.name if hook.thread else "?",
        exc_info=(hook.exc_type, hook.exc_value, hook.exc_traceback),  # type: ignore[arg-type]
    )
    sys.unraisablehook = lambda hook: crashes.error(
        "Exception ignored: %s",
        hook.err_msg or repr(hook.object),
        exc_info=(hook.exc_type, hook.exc_value, hook.exc_traceback),  # type: ignore[arg-type]
    )


ACCESS_LOG_MODES = ("summary", "all", "off")
"""`summary`: high-volume 2xx/3xx reads summed up per minute, everything else one line each;
`all`: one line per request; `off`: none."""

# Latency buckets of the per-minute summaries: 10% wide, 10 microseconds to about 100 seconds;
# the same bounds in seconds, to bucket a request's duration as it is measured.
_BOUNDS_MS = [0.01 * 1.1**step for step in range(170)]
_BOUNDS_S = [bound / 1000 for bound in _BOUNDS_MS]


class _Minute:
    """One minute of one summarised route: requests by status, bytes, a latency histogram."""

    __slots__ = ("buckets", "bytes", "requests", "statuses")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.bytes = 0
        self.statuses: dict[int, int] = {}
        self.buckets = [0] * (len(_BOUNDS_MS) + 1)

    def add(self, status: int, size: int, seconds: float) -> None:
        self.requests += 1
        self.bytes += size
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.buckets[bisect.bisect_left(_BOUNDS_S, seconds)] += 1

    def percentile(self, share: float) -> float:
        """The upper bound of the bucket holding the `share` quantile (within 10%)."""
        rank, seen = share * self.requests, 0
        for index, count in enumerate(self.buckets):
            seen += count
            if seen >= rank and count:
                return round(_BOUNDS_MS[min(index, len(_BOUNDS_MS) - 1)], 2)
        return 0.0


class AccessLog:
    """Access lines on stderr, written once per event-loop tick.

    In `all` mode every request gets a line. In `summary` mode (the default) the requests of
    `summarised` (method, route) pairs answered below 400 (heartbeats, count reads, probes:
    `server.routes.SUMMARISED`) are summed up in one line per minute and route: requests by
    status, bytes, latency p50/p90/p99. Everything else (votes, admin calls, errors, any
    answer >= 400) keeps its own line, with its request id.

    Access lines skip the `logging` machinery (a LogRecord, a caller lookup, a formatter
    walking its attributes, a flush per line): under load that cost more than answering
    the request. A tick's lines go out in one write; none wait longer than that tick.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        mode: str = "all",
        summarised: Collection[tuple[str, str]] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._stream = stream
        # The open minute's summary of each summarised (method, route); one lookup per
        # request tells whether it is summed up, and where.
        self._minutes = {key: _Minute() for key in summarised} if mode == "summary" else {}
        self._clock = clock
        self._pending: list[str] = []
        self._scheduled = False
        self._second = 0
        self._second_text = ""
        self._minute = 0
        self._timer: asyncio.TimerHandle | None = None

    def write(
        self, request_id: str, method: str, path: str, route: str, status: int, size: int,
        seconds: float,
    ) -> None:  # fmt: skip
        now = self._clock()
        summary = self._minutes.get((method, route)) if status < 400 else None
        if summary is not None:
            minute = int(now // 60)
            if minute != self._minute:
                self._close_minute()
                self._minute = minute
                self._schedule_close(60 - now % 60)
            summary.add(status, size, seconds)
            return
        second = int(now)
        if second != self._second:  # formatting a date costs more than the rest of the line
            self._second = second
            self._second_text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        stamp = f"{self._second_text}.{int((now - second) * 1000):03d}+00:00"
        if _access_text:  # a person at a terminal
            line = (
                f"{self._second_text[11:]} INFO portal.access: {method} "
                f"{encode_json_string(path[:200])} {status} {size}B {seconds * 1000:.1f}ms "
                f"request_id={request_id}\n"
            )
        else:
            # Route templates and request ids are plain ASCII of our own: only the method and
            # the path come from the client and need escaping.
            method = encode_json_string(method)
            line = (
                f'{{"time":"{stamp}","level":"info","logger":"portal.access",'
                f'"message":"{method[1:-1]} {route} {status}","request_id":"{request_id}",'
                f'"method":{method},"path":{encode_json_string(path[:200])},"route":"{route}",'
                f'"status":{status},"bytes":{size},"duration_ms":{round(seconds * 1000, 2)}}}\n'
            )
        self._queue(line)

    def _schedule_close(self, delay: float) -> None:
        """Write the minute's summaries when it ends, even if no request follows."""
        if self._timer is not None:
            self._timer.cancel()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._timer = loop.call_later(delay + 0.01, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if int(self._clock() // 60) != self._minute:
            self._close_minute()
            self.flush()

    def _close_minute(self) -> None:
        """Queue one summary line per route of the minute that ended, and start afresh."""
        start = datetime.fromtimestamp(self._minute * 60, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        for (method, route), summary in self._minutes.items():
            if summary.requests:
                self._queue(_summary_line(start, method, route, summary))
                summary.reset()

    def _queue(self, line: str) -> None:
        self._pending.append(line)
        if not self._scheduled:
            try:
                asyncio.get_running_loop().call_soon(self.flush)
                self._scheduled = True
            except RuntimeError:  # no event loop: nothing to batch with
                self.flush()

    def close(self) -> None:
        """Write what is pending, the current minute's summaries included (on shutdown)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._close_minute()
        self.flush()

    def flush(self) -> None:
        lines, self._pending, self._scheduled = self._pending, [], False
        if lines:
            stream = self._stream or sys.stderr  # looked up late: tests capture sys.stderr
            stream.write("".join(lines))
            stream.flush()


def _summary_line(start: str, method: str, route: str, summary: _Minute) -> str:
    """`{"kind": "summary", "minute", "method", "route", "requests", "status": {...},
    "bytes", "p50_ms", "p90_ms", "p99_ms"}` (or its text form)."""
    p50, p90, p99 = (summary.percentile(share) for share in (0.5, 0.9, 0.99))
    statuses = {str(status): count for status, count in sorted(summary.statuses.items())}
    message = f"{method} {route}: {summary.requests} requests in the minute"
    if _access_text:
        counts = " ".join(f"{status}={count}" for status, count in statuses.items())
        return (
            f"{start[11:16]} INFO portal.access: {message} {counts} {summary.bytes}B "
            f"p50={p50}ms p90={p90}ms p99={p99}ms\n"
        )
    entry = {
        "time": f"{start}.000+00:00", "level": "info", "logger": "portal.access",
        "message": message, "kind": "summary", "minute": start[:16], "method": method,
        "route": route, "requests": summary.requests, "status": statuses,
        "bytes": summary.bytes, "p50_ms": p50, "p90_ms": p90, "p99_ms": p99,
    }  # fmt: skip
    return json.dumps(entry, separators=(",", ":")) + "\n"
