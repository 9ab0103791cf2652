"""A real `portal serve`, facing clients with raw sockets: the per-connection limits of
server.serving hold (head size and time, idle connections, pipelined requests never read).

The timeouts are shortened through PORTAL_HTTP_* so the suite stays quick; the defaults'
values are checked on their own."""

from __future__ import annotations

import json
import selectors
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from server.serving import GuardedHttpProtocol, HttpLimits, ServingError, uvicorn_options
from tests.conftest import PORTAL_PROCESSES

SHORT = {
    "PORTAL_HTTP_HEADER_TIMEOUT": "1",
    "PORTAL_HTTP_BODY_TIMEOUT": "1",
    "PORTAL_HTTP_KEEP_ALIVE_TIMEOUT": "1",
    "PORTAL_HTTP_SEND_TIMEOUT": "2",
}
KIB = 1024
MIB = 1024 * KIB
# Generous bounds for "the server closed it": ten times the configured timeouts.
WAIT = 10.0


def test_default_limits_are_those_promised() -> None:
    limits = HttpLimits.from_env({})
    assert limits.max_header_bytes == 64 * KIB
    assert limits.header_timeout <= 15
    assert limits.keep_alive_timeout <= 30
    assert limits.body_timeout <= 15
    options = uvicorn_options()
    assert options["http"] is GuardedHttpProtocol
    assert options["timeout_keep_alive"] == limits.keep_alive_timeout
    assert options["proxy_headers"] is False and options["access_log"] is False


def test_with_the_defaults_idle_and_incomplete_connections_are_closed(
    start_portal: Callable[..., str],
) -> None:
    """The default timeouts, end to end: a silent connection and a partial head are closed
    (15 s), an idle keep-alive connection too (20 s); all three started together."""
    base = start_portal()
    address = ("127.0.0.1", int(base.rsplit(":", 1)[1]))
    silent, partial, idle = (socket.create_connection(address, timeout=30) for _ in range(3))
    with silent, partial, idle:
        partial.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _read_until_closed(silent) == b""
        assert _read_until_closed(partial).startswith(b"HTTP/1.1 408 ")
        assert _read_until_closed(idle).count(b"HTTP/1.1 200 ") == 1


def test_bad_limit_settings_are_named() -> None:
    with pytest.raises(ServingError, match="PORTAL_HTTP_HEADER_TIMEOUT must be a number"):
        HttpLimits.from_env({"PORTAL_HTTP_HEADER_TIMEOUT": "soon"})
    with pytest.raises(ServingError, match="PORTAL_HTTP_MAX_CONNECTIONS must be positive"):
        HttpLimits.from_env({"PORTAL_HTTP_MAX_CONNECTIONS": "0"})


@pytest.fixture
def served(start_portal: Callable[..., str]) -> Iterator[tuple[str, int]]:
    base = start_portal(env=SHORT)
    yield "127.0.0.1", int(base.rsplit(":", 1)[1])


def _connect(address: tuple[str, int]) -> socket.socket:
    sock = socket.create_connection(address, timeout=WAIT)
    return sock


def _read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or WAIT passes: then the
    test fails, since the connection was not closed)."""
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        except TimeoutError:
            raise AssertionError(f"still open after {sock.gettimeout()} s") from None
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _head(extra: int) -> bytes:
    start = b"GET /healthz HTTP/1.1\r\nHost: portal\r\nX-Filler: "
    return start + b"a" * (extra - len(start) - 4) + b"\r\n\r\n"


def test_a_head_of_64_kib_is_served_and_one_byte_more_refused(served: tuple[str, int]) -> None:
    with _connect(served) as sock:
        sock.sendall(_head(64 * KIB))
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
    with _connect(served) as sock:
        sock.sendall(_head(64 * KIB + 1))
        answer = _read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 431 ")
    body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert body["error"]["code"] == "headers_too_large"


def test_a_huge_head_is_refused_before_it_is_all_sent(served: tuple[str, int]) -> None:
    """The server answers 431 and closes once 64 KiB have come: it never holds the rest."""
    with _connect(served) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nX-Big: ")
        sent = 0
        with pytest.raises(OSError):  # the server closed: writing fails (reset or broken pipe)
            for _ in range(256):  # up to 256 MiB, which the server never sees
                sock.sendall(b"b" * MIB)
                sent += MIB
        assert sent < 64 * MIB
    with _connect(served) as sock:  # and it still serves everyone else
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")


def test_an_incomplete_head_is_dropped_even_when_trickled(served: tuple[str, int]) -> None:
    with _connect(served) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        assert _read_until_closed(sock).startswith(b"HTTP/1.1 408 ")
    with _connect(served) as sock:  # one byte every 0.2 s: each well within the timeout
        sock.settimeout(0.2)
        for byte in b"GET /healthz HTTP/1.1\r\nX-Slow: " + b"s" * 50:
            try:
                sock.sendall(bytes([byte]))
                assert sock.recv(65536).startswith(b"HTTP/1.1 408 ")
                break
            except TimeoutError:
                continue
        else:
            raise AssertionError("a head trickled for 16 s was never dropped")


def test_a_body_that_never_comes_is_dropped(served: tuple[str, int]) -> None:
    with _connect(served) as sock:
        sock.sendall(
            b"POST /api/polls/portal-rating/votes HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )
        assert b" 201 " not in _read_until_closed(sock)


def test_idle_connections_are_closed(served: tuple[str, int]) -> None:
    with _connect(served) as sock:  # never sends a byte
        assert _read_until_closed(sock) == b""
    with _connect(served) as sock:  # one request, then idle on keep-alive
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = _read_until_closed(sock)
        assert answer.startswith(b"HTTP/1.1 200 ") and answer.count(b"HTTP/1.1") == 1


def test_pipelined_requests_are_answered_in_order(served: tuple[str, int]) -> None:
    requests = b"".join(
        f"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: pipe-{n:03d}\r\n\r\n".encode()
        for n in range(60)
    )
    with _connect(served) as sock:
        sock.sendall(requests + b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
        answer = _read_until_closed(sock)
    ids = [line.split(b": ")[1] for line in answer.split(b"\r\n") if b"x-request-id" in line]
    assert ids[:60] == [f"pipe-{n:03d}".encode() for n in range(60)]
    assert answer.count(b"HTTP/1.1 200 ") == 61


def test_too_many_requests_sent_ahead_are_answered_in_part_then_closed(
    served: tuple[str, int],
) -> None:
    """More than 16 KiB pipelined at once: what was parsed is answered, then the connection
    closes (a client may resend the rest); nothing is garbled."""
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    count = 64 * KIB // len(request)
    with _connect(served) as sock:
        sock.sendall(request * count)
        answer = _read_until_closed(sock)
    answered = answer.count(b"HTTP/1.1 ")
    assert 2 <= answered < count  # the first, and those parsed behind it
    assert answer.count(b"HTTP/1.1 200 OK\r\n") == answered


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * KIB
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc")
def test_pipelined_requests_never_read_keep_memory_bounded(
    start_portal: Callable[..., str],
) -> None:
    """More connections than the server admits, each sending requests as fast as it can and
    never reading an answer: the server grows by less than 256 MB."""
    base = start_portal(env=SHORT)
    process = PORTAL_PROCESSES[base]
    address = ("127.0.0.1", int(base.rsplit(":", 1)[1]))
    before = _rss(process.pid)
    burst = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * 100
    selector = selectors.DefaultSelector()
    sockets = []
    refused = 0
    try:
        for _ in range(HttpLimits().max_connections + 200):
            sock = socket.create_connection(address)
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_WRITE)
            sockets.append(sock)
        peak = before
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.1):
                try:
                    key.fileobj.send(burst)  # type: ignore[union-attr]
                except BlockingIOError:
                    pass
                except OSError:
                    selector.unregister(key.fileobj)
                    refused += 1
            peak = max(peak, _rss(process.pid))
    finally:
        selector.close()
        for sock in sockets:
            sock.close()
    assert peak - before < 256 * MIB, f"grew {(peak - before) // MIB} MiB"
    assert refused >= 200  # those over PORTAL_HTTP_MAX_CONNECTIONS, at least
