"""Sessions: signed ids in a cookie or header; forged, expired or garbled means new visitor."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from itsdangerous import TimestampSigner

from server.sessions import HEADER_NAME, SessionSigner, session_of
from server.settings import Settings
from tests.conftest import VOTES


def test_tokens_round_trip_and_reject_tampering() -> None:
    signer = SessionSigner(("k" * 20,), max_age=3600)
    visitor = signer.new()
    assert len(visitor.id) == 16 and visitor.is_new
    again = signer.verify(visitor.token)
    assert again is not None and again.id == visitor.id and not again.is_new
    tampered = visitor.token[:-2] + ("AA" if not visitor.token.endswith("AA") else "BB")
    assert signer.verify(tampered) is None
    other_id = signer.new().id
    assert signer.verify(other_id + visitor.token[16:]) is None
    assert SessionSigner(("z" * 20,), max_age=3600).verify(visitor.token) is None


def test_expired_tokens_are_rejected() -> None:
    signer = SessionSigner(("k" * 20,), max_age=1)
    token = signer.new().token
    time.sleep(2.1)
    assert signer.verify(token) is None


def test_key_rotation_accepts_old_and_signs_with_new() -> None:
    old = SessionSigner(("old-key-aaaaaaaaaaaa",), max_age=3600)
    rotated = SessionSigner(("new-key-bbbbbbbbbbbb", "old-key-aaaaaaaaaaaa"), max_age=3600)
    token = old.new().token
    assert rotated.verify(token) is not None
    assert old.verify(rotated.new().token) is None


def test_tokens_stay_compatible_with_itsdangerous() -> None:
    """Sessions handed out by earlier releases (itsdangerous's TimestampSigner) stay valid,
    and the other way round: visitors keep their ballots across the upgrade."""
    keys = ("new-key-bbbbbbbbbbbb", "old-key-aaaaaaaaaaaa")
    library = TimestampSigner(list(reversed(keys)), salt="portal.session")
    ours = SessionSigner(keys, max_age=3600)
    earlier = library.sign("AAAAAAAAAAAAAAAA").decode()
    visitor = ours.verify(earlier)
    assert visitor is not None and visitor.id == "AAAAAAAAAAAAAAAA"
    by_old_key = TimestampSigner("old-key-aaaaaaaaaaaa", salt="portal.session")
    assert ours.verify(by_old_key.sign("BBBBBBBBBBBBBBBB").decode()) is not None
    new = ours.new()
    value, signed_at = library.unsign(new.token, max_age=3600, return_timestamp=True)
    assert value.decode() == new.id and abs(signed_at.timestamp() - time.time()) < 2
    other_salt = TimestampSigner(keys[0], salt="another.app").sign("CCCCCCCCCCCCCCCC")
    assert ours.verify(other_salt.decode()) is None


def test_tokens_from_the_future_are_rejected() -> None:
    signer = SessionSigner(("k" * 20,), max_age=3600)

    class Ahead(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) + 60

    token = Ahead("k" * 20, salt="portal.session").sign("DDDDDDDDDDDDDDDD").decode()
    assert signer.verify(token) is None


async def test_new_client_gets_cookie_and_header(client: Any) -> None:
    response = await client.get("/api/polls")
    token = response.headers[HEADER_NAME]
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"portal_session={token};")
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"]:
        assert attribute in cookie
    assert "Secure" not in cookie  # plain http in this test
    # The cookie travels back: no new session.
    again = await client.get("/api/polls")
    assert HEADER_NAME not in again.headers and "set-cookie" not in again.headers


async def test_header_session_works_without_cookies(
    client_for: Callable[..., Any], settings: Settings
) -> None:
    async with client_for(settings) as first, client_for(settings) as second:
        token = (await first.post(VOTES, json={"option": "tot"})).headers[HEADER_NAME]
        # A cookie-less client (a cross-origin embed) sends the header instead.
        response = await second.get("/api/polls/portal-rating", headers={HEADER_NAME: token})
        assert response.json()["voted"] == "tot"
        assert HEADER_NAME not in response.headers


async def test_forged_session_is_a_new_visitor_who_can_vote(
    client_for: Callable[..., Any], settings: Settings
) -> None:
    async with client_for(settings) as voter, client_for(settings) as forger:
        token = (await voter.post(VOTES, json={"option": "tot"})).headers[HEADER_NAME]
        visitor_id = token.split(".", 1)[0]
        forged = f"{visitor_id}.AAAAAA.{'A' * 27}"
        response = await forger.post(
            VOTES, json={"option": "chua-tot"}, headers={HEADER_NAME: forged}
        )
        assert response.status_code == 201  # not the voter's session
        assert response.headers[HEADER_NAME] != forged
        assert response.json()["total"] == 2


async def test_https_cookie_is_secure(client_for: Callable[..., Any], settings: Settings) -> None:
    async with client_for(settings) as client:
        response = await client.get("https://portal.test/api/polls")
        assert "Secure" in response.headers["set-cookie"]


async def test_cors_exposes_session_header_to_allowed_origins(
    client_for: Callable[..., Any], make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(allowed_origins=("https://xa.example",))
    async with client_for(settings) as client:
        preflight = await client.options(
            "/api/polls/portal-rating/votes",
            headers={
                "origin": "https://xa.example",
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type, x-portal-session",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://xa.example"
        assert preflight.headers["access-control-allow-credentials"] == "true"
        response = await client.get("/api/polls", headers={"origin": "https://xa.example"})
        assert response.headers["access-control-allow-origin"] == "https://xa.example"
        assert "x-portal-session" in response.headers["access-control-expose-headers"].lower()
        other = await client.get("/api/polls", headers={"origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_the_header_wins_over_the_cookie_and_either_alone_is_enough() -> None:
    signer = SessionSigner(("k" * 20,), max_age=3600)
    by_header, by_cookie = signer.new(), signer.new()
    scope = {"scheme": "http"}

    def of(header: str | None, cookie: str | None) -> Any:
        headers = {b"host": b"portal.test"}
        if header is not None:
            headers[HEADER_NAME.lower().encode()] = header.encode()
        if cookie is not None:
            headers[b"cookie"] = f"other=1; portal_session={cookie}".encode()
        return session_of(signer, scope, headers)

    for _ in range(2):  # verified, then remembered
        visitor, handout = of(by_header.token, by_cookie.token)
        assert (visitor.id, visitor.is_new, handout) == (by_header.id, False, [])
        assert of(" " + by_header.token + " ", None)[0].id == by_header.id
        assert of("garbled", by_cookie.token)[0].id == by_cookie.id
        assert of(None, by_cookie.token)[0].id == by_cookie.id
    visitor, handout = of("garbled", "garbled too")
    assert visitor.is_new and visitor.id not in (by_header.id, by_cookie.id)
    assert [name for name, _ in handout] == [b"set-cookie", HEADER_NAME.lower().encode()]
