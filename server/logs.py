"""Logs: one JSON object per line (or readable text on a terminal), every record tagged with
its request's id. Every line the process writes to stderr goes through here: the service's,
uvicorn's, other libraries', uncaught exceptions and warnings alike.

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
import logging.config
import os
import re
import secrets
import sys
import threading
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
        self._pending.append(line)
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
