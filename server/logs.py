"""Structured logs: one JSON object per line, every record tagged with its request's id.

The id comes from an incoming `X-Request-Id` when it is sane (a proxy's or a load balancer's,
so one request can be followed across them), else a fresh one; the response echoes it. Client
addresses are not logged: the proxy in front already logs them, and they are personal data.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import json
import logging
import re
import secrets
import sys
import time
from datetime import UTC, datetime
from json.encoder import encode_basestring as encode_json_string  # the C encoder
from typing import Any, TextIO

REQUEST_ID_HEADER = b"x-request-id"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:+/=-]{1,128}$")
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "portal_request_id", default=None
)

# Attributes every LogRecord has; anything else was passed in `extra=` and goes in the JSON.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


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


def configure_logging(level: int = logging.INFO) -> None:
    """Send the service's loggers (`portal.*`, `server.*`) to stderr as JSON lines (idempotent)."""
    for name in ("portal", "server"):
        logger = logging.getLogger(name)
        if any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
            continue
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False


class AccessLog:
    """One JSON line per request on stderr, written once per event-loop tick.

    Access lines skip the `logging` machinery (a LogRecord, a caller lookup, a formatter
    walking its attributes, a flush per line): under load that cost more than answering
    the request. A tick's lines go out in one write; none wait longer than that tick.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._pending: list[str] = []
        self._scheduled = False
        self._second = 0
        self._second_text = ""

    def write(
        self, request_id: str, method: str, path: str, route: str, status: int, size: int,
        seconds: float,
    ) -> None:  # fmt: skip
        now = time.time()
        second = int(now)
        if second != self._second:  # formatting a date costs more than the rest of the line
            self._second = second
            self._second_text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        stamp = f"{self._second_text}.{int((now - second) * 1000):03d}+00:00"
        # Route templates and request ids are plain ASCII of our own: only the method and the
        # path come from the client and need escaping.
        method = encode_json_string(method)
        self._pending.append(
            f'{{"time":"{stamp}","level":"info","logger":"portal.access",'
            f'"message":"{method[1:-1]} {route} {status}","request_id":"{request_id}",'
            f'"method":{method},"path":{encode_json_string(path[:200])},"route":"{route}",'
            f'"status":{status},"bytes":{size},"duration_ms":{round(seconds * 1000, 2)}}}\n'
        )
        if not self._scheduled:
            try:
                asyncio.get_running_loop().call_soon(self.flush)
                self._scheduled = True
            except RuntimeError:  # no event loop: nothing to batch with
                self.flush()

    def flush(self) -> None:
        lines, self._pending, self._scheduled = self._pending, [], False
        if lines:
            stream = self._stream or sys.stderr  # looked up late: tests capture sys.stderr
            stream.write("".join(lines))
            stream.flush()
