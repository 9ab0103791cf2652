"""Upgrading keeps every ballot and tally: a Redis snapshot written by an earlier release
(tests/data/release-*.rdb, five votes cast through its `portal serve`, with what it answered
in the .json beside it) is read by this one."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from server.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.redis_process import RedisProcess

DATA = Path(__file__).parent / "data"
SNAPSHOTS = sorted(DATA.glob("release-*.rdb"))


@pytest.fixture(params=SNAPSHOTS, ids=lambda path: path.stem)
def snapshot(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """A redis-server that loaded the snapshot at start, and what the release answered."""
    rdb: Path = request.param
    shutil.copy(rdb, tmp_path / "dump.rdb")  # the default dbfilename, loaded at start
    redis = RedisProcess(tmp_path).start()
    try:
        yield redis.url, json.loads(rdb.with_suffix(".json").read_text())
    finally:
        redis.stop()


async def test_ballots_and_tallies_of_the_previous_release_are_kept(
    snapshot: tuple[str, Any],
    client_for: Callable[..., Any],
    make_settings: Callable[..., Settings],
) -> None:
    url, release = snapshot
    settings = make_settings(
        redis_url=url,
        redis_prefix="portal:",  # the default, as the release ran
        secret_keys=(release["secret_key"],),
        session_max_age=10 * 365 * 24 * 3600,  # the release's sessions age with the fixture
    )
    path = f"/api/polls/{release['poll']}"
    async with client_for(settings) as client:
        poll = (await client.get(path)).json()
        assert poll["total"] == release["total"]
        assert {o["id"]: o["votes"] for o in poll["options"]} == release["tallies"]
        auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        tally = (await client.get(f"/api/admin/polls/{release['poll']}", headers=auth)).json()
        assert {o["id"]: o["votes"] for o in tally["options"]} == release["tallies"]
    for ballot in release["ballots"]:
        async with client_for(settings) as client:
            session = {"X-Portal-Session": ballot["session"]}
            assert (await client.get(path, headers=session)).json()["voted"] == ballot["option"]
            again = await client.post(f"{path}/votes", json={"option": "tot"}, headers=session)
            assert again.status_code == 409
            assert again.json()["error"]["code"] == "already_voted"
