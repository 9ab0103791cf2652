"""`portal serve` end to end: one origin for site, widgets and API, on the embedded Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import REPO, SITE_DIR
from tests.redis_process import free_port

VOTES = "/api/polls/portal-rating/votes"


def _serve(work: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env["PORTAL_DATA_DIR"] = str(work / "data")
    args = [
        sys.executable, "-m", "portal", "serve", "--port", str(port), "--no-watch",
        "--site", str(SITE_DIR), "--out", str(work / "dist"),
    ]  # fmt: skip
    log = open(work / "serve.log", "ab")  # noqa: SIM115 - lives as long as the process
    return subprocess.Popen(args, env=env, cwd=REPO, stdout=log, stderr=log)


def _wait_ready(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(f"{base}/readyz", timeout=0.5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(log.read_text())


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
