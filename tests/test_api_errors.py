"""Hostile and broken input: JSON errors with codes, never a 500, nothing counted."""

from __future__ import annotations

import httpx

from tests.conftest import VOTES


def error_code(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith("application/json")
    code: str = response.json()["error"]["code"]
    assert response.json()["error"]["message"]
    return code


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    for body in [b"{", b"not json", b"\xff\xfe", b'{"option": "tot"']:
        response = await client.post(
            VOTES, content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400, body[:20]
        assert error_code(response) == "invalid_json"
    # Nesting as deep as 4 KiB allows: Python 3.11's parser gives up (invalid JSON), 3.13's
    # parses it into an array (not an object). Refused either way, never a 500.
    deep = await client.post(
        VOTES, content=b"[" * 2000 + b"]" * 2000, headers={"content-type": "application/json"}
    )
    assert (deep.status_code, error_code(deep)) in ((400, "invalid_json"), (422, "invalid_body"))


async def test_wrong_shapes_are_422(client: httpx.AsyncClient) -> None:
    for body in [b"[]", b"3", b'"tot"', b"null", b"true"]:
        response = await client.post(
            VOTES, content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422
        assert error_code(response) == "invalid_body"
    response = await client.post(
        "/api/presence", content=b"[1]", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


async def test_big_bodies_are_413_before_being_read(client: httpx.AsyncClient) -> None:
    big = b'{"option": "' + b"a" * 10_000 + b'"}'
    response = await client.post(VOTES, content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413 and error_code(response) == "payload_too_large"

    async def chunks():  # no Content-Length: the limit holds while streaming
        for _ in range(100):
            yield b" " * 1000

    streamed = await client.post(
        VOTES, content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    lying = await client.post(
        "/api/presence", content=b"{}", headers={"content-length": "99999999"}
    )
    assert lying.status_code == 413
    assert (await client.get("/api/polls/portal-rating")).json()["total"] == 0


async def test_unsupported_content_types_are_415(client: httpx.AsyncClient) -> None:
    for kind in ["text/plain", "multipart/form-data; boundary=x", "application/xml", ""]:
        response = await client.post(
            VOTES, content=b'{"option":"tot"}', headers={"content-type": kind}
        )
        assert response.status_code == 415, kind
        assert error_code(response) == "unsupported_media_type"


async def test_unknown_routes_and_methods(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/nothing-here")
    assert response.status_code == 404 and error_code(response) == "not_found"
    response = await client.delete("/api/polls/portal-rating")
    assert response.status_code == 405 and error_code(response) == "method_not_allowed"
    response = await client.get("/api/polls/" + "x" * 5000)
    assert response.status_code == 404 and error_code(response) == "poll_not_found"


async def test_odd_values_never_500(client: httpx.AsyncClient) -> None:
    odd = [
        {"option": "t\u0000ot"},
        {"option": "🙂" * 100},
        {"option": 10**400},
        {"option": 1e308},
        {"option": {"$gt": ""}},
        {"page": "/\u0000"},
        {"page": "/" + "đ" * 100},
    ]
    for body in odd:
        for path in [VOTES, "/api/presence", "/api/presence/leave"]:
            response = await client.post(path, json=body)
            assert response.status_code < 500, (path, body)
    weird = await client.get("/api/presence", params={"page": "/\u0000x"})
    assert weird.status_code == 422


async def test_garbled_sessions_are_new_visitors(client: httpx.AsyncClient) -> None:
    for token in ["", "x", "a.b.c", "Z" * 300, "\u00ff", "kxGnvaDXJu4xDr8u.awsZ2w.AAAA"]:
        client.cookies.clear()
        response = await client.get(
            "/api/polls/portal-rating",
            headers={"x-portal-session": token.encode()},
        )
        assert response.status_code == 200
        assert response.headers["x-portal-session"] != token
    client.cookies.clear()
    response = await client.get("/api/polls", headers={"cookie": 'portal_session="\\"; x=";;;'})
    assert response.status_code == 200


async def test_health_endpoints(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ready"}
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert "portal_http_requests_total" in metrics.text
