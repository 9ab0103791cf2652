"""Helpers for the hardening tests."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import VOTES

OPTIONS = ("rat-tot", "tot", "binh-thuong", "chua-tot")


async def new_vote(client: httpx.AsyncClient, option: str = "tot", **kwargs: Any) -> httpx.Response:
    """A vote from a brand-new session (no cookie), as a ballot stuffer would send it."""
    client.cookies.clear()
    return await client.post(VOTES, json={"option": option}, **kwargs)
