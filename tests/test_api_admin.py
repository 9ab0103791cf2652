"""Admin tallies: bearer token, percentages that add up, updated_at."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from server.polls import percentages
from server.settings import Settings
from tests.conftest import ADMIN_TOKEN

AUTH = {"authorization": f"Bearer {ADMIN_TOKEN}"}


async def test_admin_needs_the_token(client: httpx.AsyncClient) -> None:
    for headers in [
        {},
        {"authorization": "Bearer wrong"},
        {"authorization": ADMIN_TOKEN},
        {"authorization": f"Basic {ADMIN_TOKEN}"},
        {"authorization": "Bearer "},
    ]:
        for path in ["/api/admin/polls", "/api/admin/polls/portal-rating"]:
            response = await client.get(path, headers=headers)
            assert response.status_code == 401, (headers, path)
            assert response.json()["error"]["code"] == "unauthorized"


async def test_admin_disabled_without_token(
    client_for: Callable[..., Any], make_settings: Callable[..., Settings]
) -> None:
    async with client_for(make_settings(admin_token=None)) as client:
        response = await client.get("/api/admin/polls", headers={"authorization": "Bearer "})
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "admin_disabled"


async def test_admin_tally(client_for: Callable[..., Any], settings: Settings) -> None:
    async with client_for(settings) as admin:
        empty = (await admin.get("/api/admin/polls/portal-rating", headers=AUTH)).json()
        assert empty["total"] == 0 and empty["updated_at"] is None
        assert [o["percent"] for o in empty["options"]] == [0.0, 0.0, 0.0, 0.0]
        for option in ["rat-tot", "tot", "tot"]:
            async with client_for(settings) as visitor:
                assert (
                    await visitor.post("/api/polls/portal-rating/votes", json={"option": option})
                ).status_code == 201
        tally = (await admin.get("/api/admin/polls/portal-rating", headers=AUTH)).json()
        listed = (await admin.get("/api/admin/polls", headers=AUTH)).json()["polls"]
    assert listed == [tally]
    assert tally["total"] == 3 and tally["voted"] is None
    assert [(o["id"], o["votes"], o["percent"]) for o in tally["options"]] == [
        ("rat-tot", 1, 33.3),
        ("tot", 2, 66.7),
        ("binh-thuong", 0, 0.0),
        ("chua-tot", 0, 0.0),
    ]
    updated = datetime.fromisoformat(tally["updated_at"])
    assert updated.tzinfo is not None
    assert abs((datetime.now(updated.tzinfo) - updated).total_seconds()) < 60


async def test_admin_unknown_poll(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/admin/polls/nope", headers=AUTH)
    assert response.status_code == 404 and response.json()["error"]["code"] == "poll_not_found"


def test_percentages_always_add_up_to_100() -> None:
    for counts in [[1, 1, 1], [1, 2, 3, 4], [7, 0, 0], [1, 1, 1, 1, 1, 1, 1], [999, 1, 1]]:
        shares = percentages(counts)
        assert round(sum(shares), 1) == 100.0, counts
        for count, share in zip(counts, shares, strict=True):
            assert abs(share - 100 * count / sum(counts)) < 0.1 + 1e-9
