"""Cross-site requests, security headers, proxies, sessions and request ids."""

from __future__ import annotations

import io
import ipaddress
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from server.clients import forwarded_client, forwarded_scheme, parse_ip
from server.logs import AccessLog, JsonFormatter, sane_request_id
from server.sessions import COOKIE_NAME, SessionSigner
from server.settings import Settings
from tests.conftest import SECRET, VOTES, app_client

PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8"))


# Headers


async def test_html_pages_carry_a_strict_csp_and_frame_protection(
    make_settings: Callable[..., Settings], static_site: Path
) -> None:
    settings = make_settings(static_dir=static_site, allowed_origins=("https://embed.example",))
    async with app_client(settings) as client:
        page = await client.get("/")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    directives = {d.split()[0]: d.split()[1:] for d in csp.split("; ")}
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["img-src"] == ["'self'", "data:"]
    assert directives["connect-src"] == ["'self'", "https://embed.example"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "strict-origin-when-cross-origin"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/polls"),
        ("GET", "/api/polls/nope"),
        ("POST", "/api/presence"),
        ("DELETE", "/api/polls"),
        ("GET", "/api/nothing-here"),
        ("GET", "/healthz"),
    ],
)
async def test_api_answers_are_json_nosniff_no_store(client: Any, method: str, path: str) -> None:
    response = await client.request(method, path)
    assert response.headers["content-type"].startswith("application/json"), path
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert "content-security-policy" not in response.headers
    json.loads(response.text)


async def test_unknown_api_paths_are_json_even_beside_the_static_site(
    make_settings: Callable[..., Settings], static_site: Path
) -> None:
    (static_site / "404.html").write_text("<!doctype html><title>Không tìm thấy</title>")
    async with app_client(make_settings(static_dir=static_site)) as client:
        for path in ("/api/nothing", "/api/polls/x/y/z", "/api/" + "x" * 3000):
            response = await client.get(path)
            assert response.status_code == 404, path
            assert response.json()["error"]["code"] == "not_found"
            assert response.headers["x-content-type-options"] == "nosniff"
        page = await client.get("/no-such-page.html")
        assert page.status_code == 404 and "Không tìm thấy" in page.text
        assert "content-security-policy" in page.headers


# Cross-site requests


async def test_json_votes_need_a_json_content_type(client: Any) -> None:
    # What a plain HTML form on another site can send: text/plain or multipart.
    for content_type in ("text/plain", "multipart/form-data; boundary=x", ""):
        response = await client.post(
            VOTES, content=b'{"option": "tot"}', headers={"Content-Type": content_type}
        )
        assert response.status_code == 415, content_type
        assert response.json()["error"]["code"] == "unsupported_media_type"
    assert (await client.get("/api/polls/portal-rating")).json()["total"] == 0


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ({"Origin": "http://portal.test"}, True),
        ({"Origin": "https://embed.example"}, True),
        ({"Origin": "https://evil.example"}, False),
        ({"Origin": "null"}, False),
        ({"Referer": "http://portal.test/tin-tuc/a.html"}, True),
        ({"Referer": "https://evil.example/page"}, False),
        ({"Origin": "https://evil.example", "Referer": "http://portal.test/"}, False),
    ],
)
async def test_form_votes_must_come_from_an_allowed_origin(
    make_settings: Callable[..., Settings], headers: dict[str, str], allowed: bool
) -> None:
    settings = make_settings(allowed_origins=("https://embed.example",))
    async with app_client(settings) as client:
        response = await client.post(VOTES, data={"option": "tot"}, headers=headers)
        total = (await client.get("/api/polls/portal-rating")).json()["total"]
    if allowed:
        assert response.status_code == 303 and total == 1
    else:
        assert response.status_code == 403 and total == 0
        assert response.json()["error"]["code"] == "forbidden_origin"


async def test_cors_only_for_allowed_origins_and_never_star(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(allowed_origins=("https://embed.example",))
    async with app_client(settings) as client:
        ok = await client.get("/api/polls", headers={"Origin": "https://embed.example"})
        assert ok.headers["access-control-allow-origin"] == "https://embed.example"
        assert ok.headers["access-control-allow-credentials"] == "true"
        other = await client.get("/api/polls", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        preflight = await client.options(
            VOTES,
            headers={
                "Origin": "https://evil.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert preflight.headers.get("access-control-allow-origin") != "*"
        assert preflight.status_code == 400


# Proxies and sessions


def test_forwarded_client_rules() -> None:
    peer = ipaddress.ip_address("10.0.0.1")
    outsider = ipaddress.ip_address("198.51.100.1")
    assert forwarded_client(outsider, ["1.2.3.4"], PROXIES) == outsider
    assert forwarded_client(peer, ["1.2.3.4"], PROXIES) == ipaddress.ip_address("1.2.3.4")
    assert forwarded_client(peer, ["6.6.6.6, 1.2.3.4"], PROXIES) == ipaddress.ip_address("1.2.3.4")
    assert forwarded_client(peer, ["6.6.6.6", "1.2.3.4, 10.1.1.1"], PROXIES) == (
        ipaddress.ip_address("1.2.3.4")
    )
    assert forwarded_client(peer, ["10.2.2.2"], PROXIES) == ipaddress.ip_address("10.2.2.2")
    assert forwarded_client(peer, [], PROXIES) == peer
    assert forwarded_client(peer, ["garbage, 10.3.3.3"], PROXIES) == (
        ipaddress.ip_address("10.3.3.3")
    )
    assert parse_ip("[2001:db8::1]:443") == ipaddress.ip_address("2001:db8::1")
    assert parse_ip("192.0.2.1:8080") == ipaddress.ip_address("192.0.2.1")
    assert parse_ip("::ffff:192.0.2.1") == ipaddress.ip_address("192.0.2.1")
    assert parse_ip("unknown") is None and parse_ip("") is None
    assert forwarded_scheme("https") == "https"
    assert forwarded_scheme("http, https") == "https"
    assert forwarded_scheme("javascript") is None


def _session_cookie(response: Any) -> str:
    cookies = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
    mine = [c for c in cookies if c.startswith(f"{COOKIE_NAME}=")]
    assert len(mine) == 1, cookies
    return mine[0]


async def test_secure_cookie_only_when_a_trusted_proxy_says_https(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(trusted_proxies=PROXIES)
    https = {"X-Forwarded-Proto": "https"}
    async with app_client(settings, "10.0.0.2") as client:
        cookie = _session_cookie(await client.get("/api/polls", headers=https))
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert "Partitioned" not in cookie
        plain = _session_cookie(await client.get("/api/polls"))
        assert "Secure" not in plain
    async with app_client(settings, "198.51.100.9") as client:
        spoofed = _session_cookie(await client.get("/api/polls", headers=https))
        assert "Secure" not in spoofed, "X-Forwarded-Proto from a stranger is ignored"


async def test_partitioned_cookie_for_cross_site_requests_over_https(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(trusted_proxies=PROXIES, allowed_origins=("https://embed.example",))
    headers = {"X-Forwarded-Proto": "https", "Origin": "https://embed.example"}
    async with app_client(settings, "10.0.0.2") as client:
        cross = _session_cookie(await client.get("/api/polls", headers=headers))
        assert "Partitioned" in cross and "Secure" in cross
        same = _session_cookie(
            await client.get(
                "/api/polls",
                headers={"X-Forwarded-Proto": "https", "Origin": "https://portal.test"},
            )
        )
        assert "Partitioned" not in same
    async with app_client(settings, "10.0.0.2") as client:
        insecure = _session_cookie(
            await client.get("/api/polls", headers={"Origin": "https://embed.example"})
        )
        assert "Partitioned" not in insecure, "Partitioned requires Secure"


async def test_secret_key_rotation_keeps_old_sessions(
    make_settings: Callable[..., Settings],
) -> None:
    old = SessionSigner((SECRET,), 3600)
    visitor = old.new()
    rotated = make_settings(secret_keys=("a-brand-new-secret-key-123", SECRET))
    async with app_client(rotated) as client:
        voted = await client.post(
            VOTES, json={"option": "tot"}, headers={"X-Portal-Session": visitor.token}
        )
        assert voted.status_code == 201
        assert "x-portal-session" not in voted.headers, "the old-key session was accepted"
        again = await client.post(
            VOTES, json={"option": "tot"}, headers={"X-Portal-Session": visitor.token}
        )
        assert again.status_code == 409
        fresh = await client.get("/api/polls")
        token = fresh.headers["x-portal-session"]
        assert SessionSigner(("a-brand-new-secret-key-123",), 3600).verify(token) is not None
        assert old.verify(token) is None, "new sessions are signed with the newest key"
    dropped = make_settings(secret_keys=("a-brand-new-secret-key-123",))
    async with app_client(dropped) as client:
        response = await client.get(
            "/api/polls/portal-rating", headers={"X-Portal-Session": visitor.token}
        )
        assert "x-portal-session" in response.headers, "a retired key's session is a new one"
        assert response.json()["voted"] is None


# Request ids and logs


async def test_request_id_is_echoed_or_generated_and_logged(
    client_for: Any, make_settings: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    async with client_for(make_settings(access_log="all")) as client:
        given = await client.get("/api/polls", headers={"X-Request-Id": "abc-123.def"})
        assert given.headers["x-request-id"] == "abc-123.def"
        for insane in ("", "a b", "x" * 500, "<script>", 'a"b'):
            generated = await client.get("/healthz", headers={"X-Request-Id": insane})
            rid = generated.headers["x-request-id"]
            assert rid != insane and len(rid) == 16, insane
        await client.get("/api/%22quoted%22%5Cpath")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    access = [line for line in lines if line.get("logger") == "portal.access"]
    assert len(access) == 7
    first = access[0]
    assert first["request_id"] == "abc-123.def" and first["level"] == "info"
    assert first["status"] == 200 and first["method"] == "GET" and first["route"] == "/api/polls"
    assert isinstance(first["duration_ms"], float) and first["bytes"] > 0
    assert access[-1]["path"] == '/api/"quoted"\\path' and access[-1]["status"] == 404
    assert "client" not in first and "127.0.0.1" not in json.dumps(access)


async def test_summary_log_sums_up_busy_reads_and_keeps_votes_and_errors(
    client_for: Any, make_settings: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    async with client_for(make_settings(access_log="summary")) as client:
        for _ in range(3):
            assert (await client.post("/api/presence", json={"page": "/a.html"})).is_success
        for _ in range(2):
            assert (await client.get("/api/presence")).is_success
        vote = await client.post(VOTES, json={"option": "tot"}, headers={"X-Request-Id": "v-1"})
        missing = await client.get("/api/polls/no-such-poll", headers={"X-Request-Id": "e-1"})
    assert vote.status_code == 201 and missing.status_code == 404
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    access = [line for line in lines if line.get("logger") == "portal.access"]
    summaries = {(line["method"], line["route"]): line for line in access if "kind" in line}
    singles = {line["request_id"]: line for line in access if "kind" not in line}
    beats = summaries[("POST", "/api/presence")]
    assert beats["kind"] == "summary" and beats["requests"] == 3 and beats["status"] == {"200": 3}
    assert 0 < beats["p50_ms"] <= beats["p90_ms"] <= beats["p99_ms"] and beats["bytes"] > 0
    assert summaries[("GET", "/api/presence")]["requests"] == 2
    assert set(singles) == {"v-1", "e-1"}, "only the vote and the 404 have lines of their own"
    assert singles["v-1"]["route"] == "/api/polls/{poll_id}/votes"
    assert singles["e-1"]["status"] == 404


def test_summary_log_writes_one_line_per_route_and_minute() -> None:
    stream, now = io.StringIO(), [600.0]
    log = AccessLog(stream, mode="summary", summarised={("GET", "/r")}, clock=lambda: now[0])
    for milliseconds in range(1, 101):  # 1 .. 100 ms
        log.write("id", "GET", "/r", "/r", 200 if milliseconds <= 90 else 304, 10, ms(milliseconds))
    log.write("id-5xx", "GET", "/r", "/r", 503, 10, 0.001)
    assert [json.loads(line)["request_id"] for line in stream.getvalue().splitlines()] == [
        "id-5xx"
    ], "an answer >= 400 is written at once; the minute's summary waits for its end"
    now[0] = 661.0  # the next minute: its first request closes the previous one
    log.write("id", "GET", "/r", "/r", 200, 10, 0.002)
    log.close()
    first, second = (json.loads(line) for line in stream.getvalue().splitlines()[1:])
    assert first["minute"] == "1970-01-01T00:10" and first["requests"] == 100
    assert first["status"] == {"200": 90, "304": 10} and first["bytes"] == 1000
    assert 50 <= first["p50_ms"] <= 55 and 90 <= first["p90_ms"] <= 99
    assert 99 <= first["p99_ms"] <= 109
    assert second["minute"] == "1970-01-01T00:11" and second["requests"] == 1


def ms(milliseconds: float) -> float:
    return milliseconds / 1000


def test_sane_request_ids() -> None:
    assert sane_request_id(" 7f3a-b2 ") == "7f3a-b2"
    assert sane_request_id("a\nb") is None
    assert sane_request_id("é") is None


def test_json_formatter_includes_exceptions_and_extra() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.getLogger("portal.errors").makeRecord(
            "portal.errors",
            logging.ERROR,
            __file__,
            1,
            "unhandled %s",
            ("x",),
            __import__("sys").exc_info(),
            extra={"request_id": "r1"},
        )
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "unhandled x" and line["request_id"] == "r1"
    assert "RuntimeError: boom" in line["exception"]
