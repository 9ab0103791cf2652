"""Helpers for the hardening tests: an app client that calls from a chosen peer address."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from server.app import create_app
from server.settings import Settings

VOTES = "/api/polls/portal-rating/votes"
OPTIONS = ("rat-tot", "tot", "binh-thuong", "chua-tot")


@contextlib.asynccontextmanager
async def peer_client(
    settings: Settings, peer: str = "127.0.0.1", **kwargs: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on the app whose requests arrive from `peer` (the TCP peer address)."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(peer, 40000))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://portal.test", **kwargs
        ) as client:
            yield client


async def new_vote(client: httpx.AsyncClient, option: str = "tot", **kwargs: Any) -> httpx.Response:
    """A vote from a brand-new session (no cookie), as a ballot stuffer would send it."""
    client.cookies.clear()
    return await client.post(VOTES, json={"option": option}, **kwargs)
