"""A poll opens and closes by its schedule (`opens` / `closes` in site.toml), with no
rebuild or restart: `open` follows the clock, votes outside the window are 409 `poll_closed`,
and the console shows the schedule."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from server.settings import Settings
from tests.admin_helpers import POLL, build_site, running
from tests.conftest import ADMIN_TOKEN

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


async def wait_for_open(client: httpx.AsyncClient, wanted: bool) -> dict[str, Any]:
    """The poll once its `open` is `wanted` (or after 10 s, for the assertion to say so)."""
    deadline = time.monotonic() + 10
    while True:
        poll = (await client.get("/api/polls/rating")).json()
        if poll["open"] is wanted or time.monotonic() > deadline:
            return dict(poll)
        await asyncio.sleep(0.1)


async def test_a_poll_opens_and_closes_by_its_schedule(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    now = datetime.now(ZONE).replace(microsecond=0)
    opens, closes = now + timedelta(seconds=2), now + timedelta(seconds=4)
    scheduled = {**POLL, "opens": opens.isoformat(), "closes": closes.isoformat()}
    settings = make_settings(static_dir=build_site(tmp_path, polls=[scheduled]))
    async with running(settings) as app:
        async with app.client() as early, app.client() as voter, app.client() as late:
            before = (await early.get("/api/polls/rating")).json()
            assert before["open"] is False and before["opens"] == opens.isoformat()
            refused = await early.post("/api/polls/rating/votes", json={"option": "tot"})
            assert refused.status_code == 409
            assert refused.json()["error"]["code"] == "poll_closed"

            assert (await wait_for_open(voter, True))["open"] is True
            counted = await voter.post("/api/polls/rating/votes", json={"option": "tot"})
            assert counted.status_code == 201 and counted.json()["total"] == 1

            assert (await wait_for_open(late, False))["open"] is False
            closed = await late.post("/api/polls/rating/votes", json={"option": "khac"})
            assert closed.status_code == 409 and closed.json()["error"]["code"] == "poll_closed"
            assert (await late.get("/api/polls/rating")).json()["total"] == 1

        async with app.client() as admin:
            await admin.post(
                "/admin/login",
                data={"token": ADMIN_TOKEN},
                headers={"origin": "http://portal.test"},
            )
            page = (await admin.get("/admin/polls/rating")).text
            assert "Đã đóng" in page and opens.isoformat()[:19] in page
