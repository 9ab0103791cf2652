"""Two `portal serve` processes on one Redis with one secret key behave as one service."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from server.sessions import HEADER_NAME
from server.settings import Settings
from tests.conftest import VOTES


@pytest.fixture
def pair(start_portal: Callable[..., str]) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """Clients of two instances: same Redis, same key prefix, same secret, separate processes."""
    first, second = start_portal(), start_portal()
    assert first != second
    with (
        httpx.Client(base_url=first, timeout=10) as a,
        httpx.Client(base_url=second, timeout=10) as b,
    ):
        yield a, b


def test_a_session_from_one_instance_is_honoured_by_the_other(
    pair: tuple[httpx.Client, httpx.Client],
) -> None:
    a, b = pair
    token = a.get("/api/polls").headers[HEADER_NAME]
    session = {HEADER_NAME: token}
    assert a.post(VOTES, json={"option": "tot"}, headers=session).status_code == 201

    again = b.post(VOTES, json={"option": "chua-tot"}, headers=session)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_voted"
    assert again.json()["poll"]["voted"] == "tot" and again.json()["poll"]["total"] == 1
    read = b.get("/api/polls/portal-rating", headers=session)
    assert read.json()["voted"] == "tot"
    assert HEADER_NAME not in read.headers or read.headers[HEADER_NAME] == token

    # The cookie works the same way (cookies do not depend on the port).
    cookie = {"portal_session": token}
    b.cookies.update(cookie)
    assert b.post(VOTES, json={"option": "tot"}).status_code == 409


def test_presence_counts_a_session_once_across_instances(
    pair: tuple[httpx.Client, httpx.Client],
) -> None:
    a, b = pair
    token = a.post("/api/presence", json={"page": "/index.html"}).headers[HEADER_NAME]
    session = {HEADER_NAME: token}
    on_b = b.post("/api/presence", json={"page": "/index.html"}, headers=session)
    assert on_b.json()["online"] == 1 and on_b.json()["page_online"] == 1

    other = b.post("/api/presence", json={"page": "/index.html"})  # a second visitor, on b
    assert other.headers[HEADER_NAME] != token
    assert a.get("/api/presence", params={"page": "/index.html"}).json()["online"] == 2

    assert b.post("/api/presence/leave", json={}, headers=session).is_success  # the whole site
    counts = a.get("/api/presence", params={"page": "/index.html"}).json()
    assert counts["online"] == 1 and counts["page_online"] == 1


async def test_an_instance_with_another_secret_does_not_honour_the_session(
    start_portal: Callable[..., str],
    client_for: Callable[..., Any],
    make_settings: Callable[..., Settings],
) -> None:
    """What the shared secret is for: without it the ballot's session is a stranger."""
    async with httpx.AsyncClient(base_url=start_portal(), timeout=10) as a:
        token = (await a.get("/api/polls")).headers[HEADER_NAME]
        first = await a.post(VOTES, json={"option": "tot"}, headers={HEADER_NAME: token})
    assert first.status_code == 201
    stranger = make_settings(secret_keys=("another-secret-key-0123456789",))
    async with client_for(stranger) as client:
        vote = await client.post(VOTES, json={"option": "tot"}, headers={HEADER_NAME: token})
    assert vote.status_code == 201 and vote.json()["total"] == 2
