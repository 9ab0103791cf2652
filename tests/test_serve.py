"""`portal serve` end to end: one origin for site, widgets and API, on the embedded Redis."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO, SITE_DIR
from tests.redis_process import free_port

VOTES = "/api/polls/portal-rating/votes"


def _serve(work: Path, port: int, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`portal serve` on its embedded Redis; stdout to serve.log, stderr to stderr.log."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    full_env["PORTAL_DATA_DIR"] = str(work / "data")
    full_env.update(env or {})
    args = [
        sys.executable, "-m", "portal", "serve", "--port", str(port), "--no-watch",
        "--site", str(SITE_DIR), "--out", str(work / "dist"),
    ]  # fmt: skip
    out = open(work / "serve.log", "ab")  # noqa: SIM115 - lives as long as the process
    err = open(work / "stderr.log", "ab")  # noqa: SIM115 - lives as long as the process
    return subprocess.Popen(args, env=full_env, cwd=REPO, stdout=out, stderr=err)


def _wait_ready(base: str, process: subprocess.Popen[bytes], log: Path, wait: float = 60) -> None:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        assert process.poll() is None, _logs(log)
        try:
            if httpx.get(f"{base}/readyz", timeout=0.5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(_logs(log))


def _logs(log: Path) -> str:
    return log.read_text() + (log.parent / "stderr.log").read_text()


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(20) == 0


def test_serve_on_embedded_redis_keeps_votes_across_restart(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = _serve(tmp_path, port)
    try:
        _wait_ready(base, process, tmp_path / "serve.log")
        with httpx.Client(base_url=base) as client:
            home = client.get("/")
            assert home.status_code == 200 and "text/html" in home.headers["content-type"]
            assert "data-portal-poll" in home.text and "data-portal-presence" in home.text
            assert client.get("/widgets/portal.js").status_code == 200
            missing_page = client.get("/khong-co-trang-nay.html")
            assert missing_page.status_code == 404
            assert "text/html" in missing_page.headers["content-type"]
            for path in ["/api/khong-co", "/api", "/widgets/khong-co.js"]:
                missing = client.get(path)
                assert missing.status_code == 404, path
                assert missing.json()["error"]["code"] == "not_found", path
            assert client.post(VOTES, json={"option": "tot"}).status_code == 201
            token = client.cookies["portal_session"]
    finally:
        _stop(process)
    assert (tmp_path / "data" / "appendonly.aof").exists() or (
        tmp_path / "data" / "appendonlydir"
    ).is_dir()
    secret = (tmp_path / "data" / "secret_key").read_text()

    process = _serve(tmp_path, port)
    try:
        _wait_ready(base, process, tmp_path / "serve.log")
        assert (tmp_path / "data" / "secret_key").read_text() == secret
        with httpx.Client(base_url=base, cookies={"portal_session": token}) as client:
            poll = client.get("/api/polls/portal-rating").json()
            assert poll["total"] == 1 and poll["voted"] == "tot"
            assert client.post(VOTES, json={"option": "rat-tot"}).status_code == 409
    finally:
        _stop(process)


def test_serve_refuses_bad_settings(tmp_path: Path) -> None:
    env = {**os.environ, "PORTAL_PRESENCE_TTL": "abc", "PORTAL_DATA_DIR": str(tmp_path)}
    env.pop("PORTAL_REDIS_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "portal", "serve", "--port", str(free_port()), "--no-watch",
         "--site", str(SITE_DIR), "--out", str(tmp_path / "dist")],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "PORTAL_PRESENCE_TTL must be a whole number of seconds, got 'abc'" in result.stderr
    assert "Traceback" not in result.stderr


def _children(pid: int) -> list[int]:
    return [
        int(child)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for child in (task / "children").read_text().split()
    ]


def _redis_child(pid: int, data_dir: Path) -> int:
    """The Redis (or Valkey) server `portal serve` started on this data dir."""
    (redis,) = [
        child
        for child in _children(pid)
        if str(data_dir) in Path(f"/proc/{child}/cmdline").read_bytes().decode(errors="replace")
    ]
    return redis


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="finds the child in /proc")
def test_serve_restarts_its_embedded_redis_and_readyz_tells_meanwhile(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = _serve(tmp_path, port)
    try:
        _wait_ready(base, process, tmp_path / "serve.log")
        with httpx.Client(base_url=base, timeout=10) as client:
            assert client.post(VOTES, json={"option": "tot"}).status_code == 201
            redis = _redis_child(process.pid, tmp_path / "data")
            # Stopped first, so the outage is certain to be seen; then killed, as a crash.
            os.kill(redis, signal.SIGSTOP)
            down = client.get("/readyz")
            assert down.status_code == 503
            assert down.json()["error"]["code"] == "redis_unavailable"
            os.kill(redis, signal.SIGKILL)
            _wait_ready(base, process, tmp_path / "serve.log", wait=5 + 10)
            assert _redis_child(process.pid, tmp_path / "data") != redis
            poll = client.get("/api/polls/portal-rating").json()
            assert poll["total"] == 1 and poll["voted"] == "tot"  # the same data: kept
            assert client.post(VOTES, json={"option": "rat-tot"}).status_code == 409
    finally:
        _stop(process)
    messages = [json.loads(line)["message"] for line in (tmp_path / "stderr.log").open()]
    assert any("embedded Redis exited" in message for message in messages)


def _raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        try:
            return sock.recv(65536)
        except ConnectionResetError:
            return b""


def test_every_stderr_line_is_json_and_the_banner_goes_to_stdout(tmp_path: Path) -> None:
    """stderr is a file here, not a terminal: JSON by default, uvicorn's own lines included."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = _serve(tmp_path, port, {"PORTAL_HTTP_HEADER_TIMEOUT": "1"})
    try:
        _wait_ready(base, process, tmp_path / "serve.log")
        assert _raw(port, b"\x00\x01garbage\r\n\r\n").startswith(b"HTTP/1.1 400 ")
        assert _raw(port, b"GET / HTTP/1.1\r\nX: " + b"x" * 70_000).startswith(b"HTTP/1.1 431")
        assert _raw(port, b"GET /healthz HTTP/1.1\r\n").startswith(b"HTTP/1.1 408 ")
        with httpx.Client(base_url=base) as client:
            assert client.get("/api/khong-co").status_code == 404
            bad = client.post(
                VOTES, content=b"{not json", headers={"content-type": "application/json"}
            )
            assert bad.status_code == 400
            assert client.post(VOTES, json={"option": "tot"}).status_code == 201
    finally:
        _stop(process)
    lines = (tmp_path / "stderr.log").read_text().splitlines()
    entries = [json.loads(line) for line in lines]  # each line one JSON object, or this fails
    assert all(isinstance(entry, dict) and "message" in entry for entry in entries)
    messages = {(entry["logger"], entry["message"]) for entry in entries}
    assert ("uvicorn.error", "Invalid HTTP request received.") in messages
    assert any(logger == "uvicorn.error" and "Uvicorn running on" in m for logger, m in messages)
    assert any(entry["logger"] == "portal.access" for entry in entries)
    assert "embedded Redis at" in (tmp_path / "serve.log").read_text()


def test_text_logs_on_request(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = _serve(tmp_path, port, {"PORTAL_LOG_FORMAT": "text"})
    try:
        _wait_ready(base, process, tmp_path / "serve.log")
        assert _raw(port, b"\x00garbage\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    finally:
        _stop(process)
    lines = (tmp_path / "stderr.log").read_text().splitlines()
    assert any(
        line.endswith("WARNING uvicorn.error: Invalid HTTP request received.") for line in lines
    )
    assert any('INFO portal.access: GET "/readyz" 200' in line for line in lines)
    assert not any(line.startswith("{") for line in lines)
