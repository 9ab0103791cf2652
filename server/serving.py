"""How the service is served: uvicorn's options in one place, with the limits a server facing
clients directly needs.

`portal serve`, the image's command (`python -m server.serving`) and the benchmarks all run
uvicorn through `run` / `uvicorn_options`, so what is measured is what is deployed.

uvicorn's httptools protocol, as shipped, trusts its clients: it accumulates a header of any
size (by repeated concatenation: a 150 MB header costs seconds of CPU), gives a connection
that sends nothing, or half a header, no deadline at all, and for pipelined requests keeps
reading and parsing while responses pile up unread. `GuardedHttpProtocol` adds, per
connection: a bound on the request head, a deadline to receive it, a deadline to take a
response the client does not read, and a bound on requests read ahead of their turn.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from server.logs import logging_config, resolve_log_format

logger = logging.getLogger("uvicorn.error")

# Bytes handed to the parser at once. A chunk read from the socket can hold thousands of tiny
# pipelined requests; parsing it in pieces lets us stop once one request waits for its turn,
# with at most a piece's worth (a dozen of the smallest) parsed and queued.
_PIECE = 512
# Responses buffered for a client before the next one waits for it to read (uvloop's and
# asyncio's default is 64 KiB): a client that stops reading holds no more than this.
_WRITE_BUFFER_HIGH = 16 * 1024
_FULL_WARNING_EVERY = 10.0  # seconds between "connections full" warnings


class ServingError(ValueError):
    """A PORTAL_HTTP_* setting is not valid; the message names it."""


@dataclass(frozen=True)
class HttpLimits:
    """What one connection may cost; PORTAL_HTTP_* environment variables override each."""

    max_header_bytes: int = 64 * 1024
    """Request line and headers together; over it: 431, and the connection is closed."""
    header_timeout: float = 15.0
    """Seconds from a connection's start (or a request's first byte) to the end of its head."""
    body_timeout: float = 15.0
    """Seconds from the end of a head to the end of its body; then the connection is closed."""
    keep_alive_timeout: float = 20.0
    """Seconds an idle connection is kept between requests. Keep it above the keep-alive
    timeout of a proxy in front, so the proxy never reuses a connection being closed."""
    send_timeout: float = 30.0
    """Seconds a response may wait for a client that stopped reading before it is dropped."""
    max_read_ahead: int = 16 * 1024
    """Bytes of pipelined requests kept unparsed while an earlier one is answered; more and
    the connection is closed once the requests already parsed are answered."""
    max_connections: int = 2048
    """Open connections per worker process; over it a new connection is closed at once.
    What one costs is bounded by the limits above, so this bounds the memory they can take."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> HttpLimits:
        env = os.environ if environ is None else environ
        return cls(
            max_header_bytes=int(
                _number(env, "PORTAL_HTTP_MAX_HEADER_BYTES", cls.max_header_bytes)
            ),
            header_timeout=_number(env, "PORTAL_HTTP_HEADER_TIMEOUT", cls.header_timeout),
            body_timeout=_number(env, "PORTAL_HTTP_BODY_TIMEOUT", cls.body_timeout),
            keep_alive_timeout=_number(
                env, "PORTAL_HTTP_KEEP_ALIVE_TIMEOUT", cls.keep_alive_timeout
            ),
            send_timeout=_number(env, "PORTAL_HTTP_SEND_TIMEOUT", cls.send_timeout),
            max_read_ahead=int(_number(env, "PORTAL_HTTP_MAX_READ_AHEAD", cls.max_read_ahead)),
            max_connections=int(_number(env, "PORTAL_HTTP_MAX_CONNECTIONS", cls.max_connections)),
        )


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ServingError(f"{name} must be a number, got {raw!r}") from None
    if not 0 < value <= 10**9:
        raise ServingError(f"{name} must be positive, got {raw!r}")
    return value


@functools.cache
def current_limits() -> HttpLimits:
    """This process's limits, read once: every worker inherits the environment."""
    return HttpLimits.from_env()


_last_full_warning = 0.0


def _warn_full(limit: int) -> None:
    global _last_full_warning
    now = time.monotonic()
    if now - _last_full_warning >= _FULL_WARNING_EVERY:
        _last_full_warning = now
        logger.warning("Connections at PORTAL_HTTP_MAX_CONNECTIONS (%d): refusing new ones", limit)


def _error_response(status: int, reason: str, code: str, message: str) -> bytes:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode() + body


class _GuardedFlow(FlowControl):
    """Reading resumes only when no request waits its turn and responses are being taken."""

    def __init__(self, transport: asyncio.Transport, protocol: GuardedHttpProtocol) -> None:
        super().__init__(transport)
        self._protocol = protocol

    def resume_reading(self) -> None:
        if self.write_paused or not self._protocol.may_read():
            return  # uvicorn resumes on every receive(); that let unread requests pile up
        if self._protocol.has_read_ahead():
            self._protocol.schedule_read_ahead()
            return
        super().resume_reading()

    def pause_writing(self) -> None:
        super().pause_writing()
        self._protocol.start_send_timer()

    def resume_writing(self) -> None:
        super().resume_writing()
        self._protocol.cancel_send_timer()


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with `HttpLimits` on every connection."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = current_limits()
        self._in_head = True  # a connection starts by awaiting a request head
        self._head_bytes = 0  # of the current head, counted generously (never less)
        self._piece_size = 0
        self._read_ahead = b""  # read but not parsed: requests waiting behind an earlier one
        self._read_ahead_scheduled = False
        self._stop_reading = False  # answer what was parsed, then close
        self._in_body = False
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._send_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            _warn_full(self.limits.max_connections)
            transport.abort()
            return
        transport.set_write_buffer_limits(high=_WRITE_BUFFER_HIGH)
        self.flow = _GuardedFlow(transport, self)
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        self._cancel_body_timer()
        self.cancel_send_timer()
        self._read_ahead = b""
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._read_ahead:  # a read that raced a pause: keep the order
            data, self._read_ahead = self._read_ahead + data, b""
        if (
            len(data) <= _PIECE
            and not self.pipeline
            and (not self._in_head or self._head_bytes + len(data) < self.limits.max_header_bytes)
        ):  # the usual case, one small request: no slicing
            self._piece_size = len(data)
            if self._in_head:
                self._head_bytes += len(data)
            super().data_received(data)
        else:
            self._feed(data)
        if self.transport.is_closing():
            return
        # A head or body left incomplete by this read: from now on it has a deadline. (Those
        # that arrive whole, nearly all, cost no timer.)
        if self._in_head and self._head_timer is None:
            self._start_head_timer()
        elif self._in_body and self._body_timer is None:
            self._body_timer = self.loop.call_later(self.limits.body_timeout, self._body_timed_out)

    def _feed(self, data: bytes) -> None:
        """Parse in pieces, counting head bytes; stop where a request must wait its turn."""
        offset = 0
        while offset < len(data):
            if self.pipeline:
                self._keep_read_ahead(data[offset:])
                return
            size = _PIECE
            if self._in_head:
                room = self.limits.max_header_bytes - self._head_bytes
                if room <= 0:  # the limit's worth parsed and the head is not over
                    self._refuse_large_head()
                    return
                size = min(size, room)
            piece = data[offset : offset + size]
            offset += len(piece)
            self._piece_size = len(piece)
            if self._in_head:
                self._head_bytes += len(piece)
            super().data_received(piece)
            if self.transport.is_closing() or self.parser is None:
                return

    def _keep_read_ahead(self, rest: bytes) -> None:
        self.flow.pause_reading()
        if len(rest) > self.limits.max_read_ahead:
            # More requests sent ahead than any client needs; answer what was parsed, then close.
            logger.warning("Pipelined requests over %d bytes: closing", self.limits.max_read_ahead)
            self._read_ahead = b""
            self._stop_reading = True
            self.cycle.keep_alive = False  # the last one parsed closes the connection
            return
        self._read_ahead = rest

    def may_read(self) -> bool:
        return not (self._stop_reading or self.pipeline)

    def has_read_ahead(self) -> bool:
        return bool(self._read_ahead)

    def schedule_read_ahead(self) -> None:
        # Later, not now: resume_reading is called from inside a response's completion, and
        # starting the next request before uvicorn has finished that step would run two at once.
        if not self._read_ahead_scheduled:
            self._read_ahead_scheduled = True
            self.loop.call_soon(self._parse_read_ahead)

    def _parse_read_ahead(self) -> None:
        self._read_ahead_scheduled = False
        if self.transport.is_closing() or self.parser is None or self.pipeline:
            return
        data, self._read_ahead = self._read_ahead, b""
        if data:  # else a read since then took it along
            self.data_received(data)
        self.flow.resume_reading()

    # Parser callbacks: where a head starts and ends.

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._in_head:  # a request that starts inside this piece: count all of it
            self._in_head = True
            self._head_bytes = self._piece_size

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        self._cancel_head_timer()
        self._in_body = True
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_body = False
        self._cancel_body_timer()
        super().on_message_complete()

    # Refusals

    def _refuse_large_head(self) -> None:
        limit = self.limits.max_header_bytes
        logger.warning("Request head over %d bytes refused", limit)
        self._close_with(
            _error_response(
                431,
                "Request Header Fields Too Large",
                "headers_too_large",
                f"The request line and headers exceed {limit} bytes.",
            )
        )

    def send_400_response(self, msg: str) -> None:
        self._close_with(_error_response(400, "Bad Request", "bad_request", msg))

    def _close_with(self, response: bytes) -> None:
        self._cancel_head_timer()
        self._in_head = False
        if not self.transport.is_closing():
            self.transport.write(response)
            self.transport.close()

    # Timers

    def _start_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False  # a pipelined head is late: answer this one, then close
            self._stop_reading = True
            return
        if self._head_bytes:
            self.transport.write(
                _error_response(408, "Request Timeout", "request_timeout", "Request head too slow.")
            )
        self.transport.close()

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _body_timed_out(self) -> None:
        self._body_timer = None
        if self._in_body and not self.transport.is_closing():
            # The handler waiting for this body is told the client went away.
            logger.warning(
                "Request body not received within %g s: closing", self.limits.body_timeout
            )
            self.transport.close()

    def start_send_timer(self) -> None:
        if self._send_timer is None:
            self._send_timer = self.loop.call_later(self.limits.send_timeout, self._send_timed_out)

    def cancel_send_timer(self) -> None:
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None

    def _send_timed_out(self) -> None:
        self._send_timer = None
        if not self.transport.is_closing():
            self.transport.abort()  # close() would wait for a flush that never comes


def uvicorn_options(
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    log_format: str | None = None,
    http: str = "guarded",
) -> dict[str, Any]:
    """The keyword arguments of `uvicorn.run` / `uvicorn.Config`, the same for every server
    of this project (the benchmark's bare endpoint included). `http` other than "guarded"
    ("httptools", "h11": uvicorn's own, without the limits) is for measuring what they cost."""
    limits = current_limits()
    return {
        "host": host,
        "port": port,
        "workers": workers,
        "http": GuardedHttpProtocol if http == "guarded" else http,
        "timeout_keep_alive": limits.keep_alive_timeout,
        # Forwarded headers are trusted only from configured proxies (PORTAL_TRUSTED_PROXIES).
        "proxy_headers": False,
        "server_header": False,
        "access_log": False,  # the app writes its own access log, with request ids
        "log_config": logging_config(resolve_log_format(log_format)),
        "log_level": "info",
        "timeout_graceful_shutdown": 10,
    }


def run(
    app: str,
    *,
    factory: bool = True,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    log_format: str | None = None,
    http: str = "guarded",
) -> None:
    """Serve the ASGI app at this import string ("module:attr") with `uvicorn_options`."""
    import uvicorn

    options = uvicorn_options(
        host=host, port=port, workers=workers, log_format=log_format, http=http
    )
    uvicorn.run(app, factory=factory, **options)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m server.serving [APP] [--host] [--port] [--workers] [--app-dir]`."""
    parser = argparse.ArgumentParser(prog="python -m server.serving", description=main.__doc__)
    parser.add_argument("app", nargs="?", default="server.app:create_app_from_env")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "1")))
    parser.add_argument("--app-dir", default=None, help="prepended to sys.path (benchmarks)")
    parser.add_argument(
        "--http",
        choices=["guarded", "httptools", "h11"],
        default="guarded",
        help="the HTTP protocol; other than guarded only to measure what the limits cost",
    )
    args = parser.parse_args(argv)
    if args.app_dir:
        sys.path.insert(0, args.app_dir)
    run(args.app, host=args.host, port=args.port, workers=args.workers, http=args.http)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
