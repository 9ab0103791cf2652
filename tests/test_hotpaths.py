"""The hot paths (`server.hotpaths`) answer exactly as the full middleware stack would."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from server.edge import Edge
from server.hotpaths import PRESENCE_ROUTE, VOTES_ROUTE, HotPaths
from server.metrics import Metrics, RequestMetrics
from server.routes import json_vote, presence_heartbeat, presence_read
from server.security import SecurityHeaders
from server.sessions import SessionSigner
from server.settings import Settings
from tests.conftest import SECRET, app_client

VOTES = "/api/polls/portal-rating/votes"
JSON_TYPE = {"Content-Type": "application/json"}
TOT = b'{"option": "tot"}'
# Values that differ between any two answers: each new visitor gets its own session.
PER_SESSION = {"set-cookie", "x-portal-session"}

# Each step: method, path, headers, body, and whether it resends the first answer's session.
Step = tuple[str, str, dict[str, str], bytes, bool]
SCENARIOS: dict[str, list[Step]] = {
    "heartbeats": [
        ("POST", "/api/presence", JSON_TYPE, b"{}", False),
        ("POST", "/api/presence", JSON_TYPE, b'{"page": "/tin-tuc/a.html?x=1#top"}', True),
        ("POST", "/api/presence", {"Content-Type": "text/plain"}, b'{"page": "/"}', True),
        ("POST", "/api/presence", {}, b"", True),
        ("GET", "/api/presence?page=/tin-tuc/a.html", {}, b"", True),
        ("GET", "/api/presence?page=/a.html&page=/tin-tuc/a.html", {}, b"", True),
        ("GET", "/api/presence", {}, b"", False),
    ],
    "votes": [
        ("POST", VOTES, JSON_TYPE, b'{"option": "tot"}', False),
        ("POST", VOTES, JSON_TYPE, b'{"option": "rat-tot"}', True),  # 409 already_voted
        ("POST", VOTES, {"Content-Type": "application/json; charset=utf-8"}, TOT, False),
    ],
    "refusals": [
        ("POST", "/api/presence", JSON_TYPE, b"{not json", False),
        ("POST", "/api/presence", JSON_TYPE, b"[1, 2]", False),
        ("POST", "/api/presence", JSON_TYPE, b'{"page": 7}', False),
        ("POST", "/api/presence", JSON_TYPE, b'{"page": "' + b"x" * 5000 + b'"}', False),
        ("POST", "/api/presence", {"Content-Type": "image/png"}, b"{}", False),
        ("GET", "/api/presence?page=relative.html", {}, b"", False),
        ("POST", VOTES, JSON_TYPE, b'{"option": "khong-co"}', False),
        ("POST", VOTES, JSON_TYPE, b'{"choice": "tot"}', False),
        ("POST", VOTES, JSON_TYPE, b"\xff\xfe", False),
        ("POST", "/api/polls/khong-co/votes", JSON_TYPE, b'{"option": "tot"}', False),
        ("POST", VOTES, {"Content-Type": "text/plain"}, b'{"option": "tot"}', False),
        ("POST", VOTES, {**JSON_TYPE, "X-Portal-Session": "forged.token.value"}, b"{}", False),
    ],
}


async def _run(client: httpx.AsyncClient, steps: list[Step]) -> list[httpx.Response]:
    answers: list[httpx.Response] = []
    for method, path, headers, body, same_session in steps:
        headers = {**headers, "X-Request-Id": "req-42"}
        if same_session and answers:
            headers["X-Portal-Session"] = answers[0].headers["x-portal-session"]
        client.cookies.clear()
        answers.append(await client.request(method, path, headers=headers, content=body))
    return answers


def _comparable(response: httpx.Response) -> tuple[int, Any, list[tuple[str, str]]]:
    headers = sorted(
        (key, "<session>" if key in PER_SESSION else value)
        for key, value in response.headers.multi_items()
    )
    return response.status_code, response.json(), headers


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
async def test_hot_paths_answer_as_the_full_stack(
    scenario: str, make_settings: Callable[..., Settings], key_prefix: str
) -> None:
    results = {}
    for hot in (True, False):
        settings = make_settings(redis_prefix=f"{key_prefix}{hot}:")
        async with app_client(settings, hot_paths=hot) as client:
            results[hot] = [_comparable(r) for r in await _run(client, SCENARIOS[scenario])]
    assert results[True] == results[False]
    statuses = [status for status, _, _ in results[True]]
    if scenario == "votes":
        assert statuses == [201, 409, 201]
    elif scenario == "refusals":
        assert statuses == [400, 422, 422, 413, 415, 422, 422, 422, 400, 404, 415, 422]
    else:
        assert set(statuses) == {200}
    for _, _, headers in results[True]:
        names = [name for name, _ in headers]
        assert ("x-request-id", "req-42") in headers
        assert {"x-content-type-options", "cache-control", "content-type"} <= set(names)


async def test_new_session_handed_out_on_hot_paths(settings: Settings) -> None:
    async with app_client(settings) as client:
        first = await client.post("/api/presence", json={})
        token = first.headers["x-portal-session"]
        assert client.cookies["portal_session"] == token
        again = await client.post("/api/presence", json={}, headers={"X-Portal-Session": token})
        assert "x-portal-session" not in again.headers and "set-cookie" not in again.headers
        assert again.json()["online"] == first.json()["online"]


async def test_hot_paths_believe_trusted_proxies_only(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(trusted_proxies=(ipaddress.ip_network("10.0.0.0/8"),))
    https = {"X-Forwarded-Proto": "https"}
    async with app_client(settings, "10.0.0.2") as client:
        answer = await client.post("/api/presence", json={}, headers=https)
        assert "Secure" in answer.headers["set-cookie"]
    async with app_client(settings, "198.51.100.9") as client:
        answer = await client.post("/api/presence", json={}, headers=https)
        assert "Secure" not in answer.headers["set-cookie"]


async def test_hot_paths_leave_cors_requests_to_the_cors_layer(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(allowed_origins=("https://embed.example",))
    async with app_client(settings) as client:
        answer = await client.post(
            "/api/presence", json={}, headers={"Origin": "https://embed.example"}
        )
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "https://embed.example"
    assert "X-Portal-Session" in answer.headers["access-control-expose-headers"]


async def test_hot_paths_count_and_log_each_request(
    make_settings: Callable[..., Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    async with app_client(make_settings(access_log=True)) as client:
        await client.post("/api/presence", json={}, headers={"X-Request-Id": "beat-1"})
        await client.post(VOTES, json={"option": "nope"}, headers={"X-Request-Id": "vote-1"})
        metrics = (await client.get("/metrics")).text
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    access = {line["request_id"]: line for line in lines if line.get("logger") == "portal.access"}
    assert access["beat-1"]["route"] == PRESENCE_ROUTE and access["beat-1"]["status"] == 200
    assert access["vote-1"]["route"] == VOTES_ROUTE and access["vote-1"]["status"] == 422
    assert 'route="/api/polls/{poll_id}/votes",status="422"' in metrics
    assert 'method="POST",route="/api/presence",status="200"' in metrics


def _scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "headers": headers}


@pytest.mark.parametrize(
    ("method", "path", "headers", "expected"),
    [
        ("POST", "/api/presence", [], presence_heartbeat),
        ("GET", "/api/presence", [], presence_read),
        ("POST", VOTES, [(b"content-type", b"application/json")], json_vote),
        ("POST", VOTES, [(b"content-type", b"Application/JSON; charset=utf-8")], json_vote),
        ("HEAD", "/api/presence", [], None),
        ("PUT", "/api/presence", [], None),
        ("POST", "/api/presence/leave", [], None),
        ("POST", VOTES, [(b"content-type", b"application/x-www-form-urlencoded")], None),
        ("POST", VOTES, [], None),
        ("POST", "/api/polls//votes", [(b"content-type", b"application/json")], None),
        ("POST", "/api/polls/a/b/votes", [(b"content-type", b"application/json")], None),
        ("GET", VOTES, [(b"content-type", b"application/json")], None),
        ("POST", "/api/presence", [(b"origin", b"https://embed.example")], None),
    ],
)
def test_which_requests_take_the_hot_paths(
    method: str, path: str, headers: list[tuple[bytes, bytes]], expected: object
) -> None:
    edge = Edge(SecurityHeaders(), RequestMetrics(Metrics()), None)
    hot = HotPaths(edge, SessionSigner((SECRET,), 60), (), cross_origin=True)
    found = hot.match(_scope(method, path, headers))
    assert (found[0] if found else None) is expected
    without_cors = HotPaths(edge, SessionSigner((SECRET,), 60), (), cross_origin=False)
    if headers == [(b"origin", b"https://embed.example")]:
        assert without_cors.match(_scope(method, path, headers)) is not None
