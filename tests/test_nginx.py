"""deploy/nginx.conf: `nginx -t` accepts it, and run in front of a real `portal serve` it serves
the built site itself, proxies the API and widgets, and passes the client address on."""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from server.sessions import HEADER_NAME
from tests.redis_process import free_port

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = REPO / "deploy" / "nginx.conf"
MIME_TYPES = Path("/etc/nginx/mime.types")
VOTES = "/api/polls/portal-rating/votes"


def nginx_binary() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    if found is None or not MIME_TYPES.exists():
        pytest.skip("nginx is not installed (apt-get install -y nginx); .ci/run installs it")
    return found


def render(values: dict[str, str]) -> str:
    """The template with these placeholders filled, as envsubst does in the nginx image (which
    substitutes only variables that are set)."""
    text = TEMPLATE.read_text(encoding="utf-8")
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    leftover = [line for line in text.splitlines() if "${" in line.partition("#")[0]]
    assert not leftover, f"placeholders without a value: {leftover}"
    return text


def main_config(work: Path, include: Path) -> str:
    """What the nginx image's own nginx.conf provides, with every path inside `work`."""
    user = "user root root;\n" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {kind}_temp_path {work / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{user}worker_processes 1;
pid {work / "nginx.pid"};
error_log {work / "error.log"} warn;
daemon off;
events {{ worker_connections 256; }}
http {{
    include {MIME_TYPES};
    default_type application/octet-stream;
    access_log {work / "access.log"};
{temp}
    include {include};
}}
"""


def write_config(work: Path, listen: str, upstream: str, static_root: Path) -> Path:
    work.mkdir(parents=True, exist_ok=True)
    portal = work / "portal.conf"
    portal.write_text(
        render(
            {
                "NGINX_LISTEN": listen,
                "PORTAL_UPSTREAM": upstream,
                "PORTAL_STATIC_ROOT": str(static_root),
            }
        )
    )
    config = work / "nginx.conf"
    config.write_text(main_config(work, portal))
    return config


def test_nginx_accepts_the_config(tmp_path: Path) -> None:
    nginx = nginx_binary()
    (tmp_path / "dist").mkdir()
    config = write_config(tmp_path / "nginx", "127.0.0.1:8080", "127.0.0.1:8000", tmp_path / "dist")
    result = subprocess.run(
        [nginx, "-t", "-c", str(config), "-e", str(tmp_path / "nginx" / "error.log")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


@dataclass
class Stack:
    nginx: str
    portal: str
    dist: Path


@pytest.fixture
def stack(start_portal: Callable[..., str], tmp_path: Path) -> Iterator[Stack]:
    """nginx on a loopback port, in front of `portal serve`, serving the dist it built."""
    nginx = nginx_binary()
    dist = tmp_path / "dist"
    portal = start_portal(
        env={"PORTAL_TRUSTED_PROXIES": "127.0.0.1/32", "PORTAL_VOTE_RATE_LIMIT": "1/minute"},
        extra_args=["--out", str(dist)],
    )
    process, base = run_nginx(nginx, tmp_path / "nginx", portal.removeprefix("http://"), dist)
    try:
        yield Stack(base, portal, dist)
    finally:
        process.terminate()
        process.wait(10)


def run_nginx(
    nginx: str, work: Path, upstream: str, dist: Path
) -> tuple[subprocess.Popen[bytes], str]:
    """nginx in the foreground on a free loopback port, answering; returns it and its URL."""
    port = free_port()
    config = write_config(work, f"127.0.0.1:{port}", upstream, dist)
    process = subprocess.Popen(
        [nginx, "-c", str(config), "-e", str(work / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while True:
        try:
            httpx.get(base + "/robots.txt", timeout=0.5)
            return process, base
        except httpx.HTTPError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                log = (work / "error.log").read_text() if (work / "error.log").exists() else ""
                raise RuntimeError(f"nginx did not start: {log}") from None
            time.sleep(0.05)


def test_service_down_is_a_json_503(tmp_path: Path) -> None:
    nginx = nginx_binary()
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "index.html").write_text("<!doctype html><title>ok</title>")
    process, base = run_nginx(nginx, tmp_path / "nginx", f"127.0.0.1:{free_port()}", dist)
    try:
        assert httpx.get(base + "/").status_code == 200  # the static site stays up
        down = httpx.post(base + "/api/presence", json={})
        assert down.status_code == 503
        assert down.json()["error"]["code"] == "service_unavailable"
        assert down.headers["retry-after"] and down.headers["cache-control"] == "no-store"
    finally:
        process.terminate()
        process.wait(10)


def client_from(address: str) -> httpx.Client:
    """A client whose connections come from `address` (any 127.x address is loopback)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=10)


def test_pages_come_from_nginx_cached_briefly_and_gzipped(stack: Stack) -> None:
    page = httpx.get(stack.nginx + "/")
    assert page.status_code == 200
    assert page.headers["server"] == "nginx"  # not uvicorn: nginx served it from dist/
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "public, max-age=60"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.content == (stack.dist / "index.html").read_bytes()

    stylesheet = re.search(r'href="(/static/css/site\.css\?v=[^"]+)"', page.text)
    assert stylesheet is not None
    css = httpx.get(stack.nginx + stylesheet.group(1))
    assert css.status_code == 200
    assert css.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "content-security-policy" not in css.headers
    assert httpx.get(stack.nginx + "/static/css/site.css").headers["cache-control"] == (
        "public, max-age=3600"
    )

    missing = httpx.get(stack.nginx + "/khong-co-trang-nay.html")
    assert missing.status_code == 404
    assert missing.content == (stack.dist / "404.html").read_bytes()

    raw = httpx.get(stack.nginx + "/", headers={"Accept-Encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in raw.headers["vary"]
    # httpx decoded it; the decoded page is the file.
    assert raw.content == (stack.dist / "index.html").read_bytes()
    with httpx.stream("GET", stack.nginx + "/", headers={"Accept-Encoding": "gzip"}) as stream:
        compressed = b"".join(stream.iter_raw())
    assert len(compressed) < len(raw.content)
    assert gzip.decompress(compressed) == raw.content


def test_api_and_widgets_are_proxied_with_json_errors(stack: Stack) -> None:
    with httpx.Client(base_url=stack.nginx, timeout=10) as client:
        polls = client.get("/api/polls")
        assert polls.status_code == 200
        assert polls.headers["cache-control"] == "no-store"
        assert polls.json()["polls"][0]["id"] == "portal-rating"
        assert client.cookies.get("portal_session")  # the session cookie crossed nginx
        vote = client.post(VOTES, json={"option": "tot"})
        assert vote.status_code == 201 and vote.json()["voted"] == "tot"
        # As a browser sends it: the page's origin, port included, matches the Host nginx
        # passes on; another site's page is refused.
        own = {"Origin": stack.nginx}
        beat = client.post("/api/presence", json={"page": "/index.html"}, headers=own)
        assert beat.status_code == 200 and beat.json()["online"] >= 1
        other = {"Origin": "https://evil.example"}
        assert client.post("/api/presence", json={}, headers=other).status_code == 403
        unknown = client.get("/api/polls/khong-co")
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "poll_not_found"

        script = re.search(r'src="(/widgets/portal\.js\?v=[^"]+)"', client.get("/").text)
        assert script is not None
        versioned = client.get(script.group(1))
        assert versioned.status_code == 200
        assert versioned.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert versioned.content == httpx.get(stack.portal + script.group(1)).content
        plain = client.get("/widgets/portal.js")
        assert plain.headers["cache-control"] == "public, max-age=300"

        assert client.get("/metrics").status_code == 200  # loopback is internal
        assert "portal_" in client.get("/metrics").text

        # Over the API's 4 KiB: the service says so; over nginx's 16 KiB: nginx, same shape.
        for size in (8 * 1024, 64 * 1024):
            body = '{"page": "/' + "a" * size + '"}'
            response = client.post(
                "/api/presence", content=body, headers={"Content-Type": "application/json"}
            )
            assert response.status_code == 413, size
            assert response.json()["error"]["code"] == "payload_too_large"


def test_client_address_reaches_the_service(stack: Stack) -> None:
    """With a vote limit of 1/minute per address, the limit must see each client's own address
    (nginx's is the same for all) and ignore an X-Forwarded-For the client wrote itself."""
    with client_from("127.0.0.5") as first:
        first.get(stack.nginx + "/api/polls")
        assert first.post(stack.nginx + VOTES, json={"option": "tot"}).status_code == 201
    with client_from("127.0.0.5") as spoofing:
        spoofing.get(stack.nginx + "/api/polls")
        forged = spoofing.post(
            stack.nginx + VOTES,
            json={"option": "tot"},
            headers={"X-Forwarded-For": "198.51.100.7"},
        )
        assert forged.status_code == 429
        assert forged.json()["error"]["code"] == "rate_limited"
    with client_from("127.0.0.6") as other:
        token = other.get(stack.nginx + "/api/polls").headers[HEADER_NAME]
        assert other.post(stack.nginx + VOTES, json={"option": "tot"}).status_code == 201
        assert token


def test_each_new_build_is_served_through_the_symlinked_root(tmp_path: Path) -> None:
    """The build directory is a symlink switched to each new build (`portal build --watch` in
    compose): nginx must follow it, and serve a new build as soon as it is switched in."""
    from portal.builder import build_site

    nginx = nginx_binary()
    assert re.search(r"^\s*disable_symlinks off;", TEMPLATE.read_text(), re.MULTILINE)
    site = tmp_path / "site"
    shutil.copytree(REPO / "site", site)
    dist = tmp_path / "dist"
    build_site(site, dist)
    assert dist.is_symlink()
    article = site / "content/tin-tuc/tiep-xuc-cu-tri.md"
    url = "/bai-viet/dai-bieu-hdnd-tinh-tiep-xuc-cu-tri-huyen-song-may-truoc-ky-hop-thu-14.html"
    process, base = run_nginx(nginx, tmp_path / "nginx", f"127.0.0.1:{free_port()}", dist)
    try:
        first = httpx.get(base + url)
        assert first.status_code == 200 and "Bản sửa mới." not in first.text
        served_before = os.readlink(dist)
        article.write_text(article.read_text(encoding="utf-8") + "\nBản sửa mới.\n")
        build_site(site, dist)
        assert os.readlink(dist) != served_before  # a new generation was switched in
        second = httpx.get(base + url)
        assert second.status_code == 200 and "Bản sửa mới." in second.text
        assert second.content == (dist / url.lstrip("/")).read_bytes()
    finally:
        process.terminate()
        process.wait(10)
