"""The embedded Redis of `portal serve`: votes survive a stop and start of the service."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from server.embedded import EmbeddedRedis, EmbeddedRedisError
from server.settings import Settings

VOTES = "/api/polls/portal-rating/votes"


async def test_votes_survive_a_restart(
    client_for: Callable[..., Any], make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    with EmbeddedRedis(data) as url:
        assert url.startswith("unix://")
        async with client_for(make_settings(redis_url=url)) as client:
            assert (await client.post(VOTES, json={"option": "tot"})).status_code == 201
            token = client.cookies["portal_session"]
    with EmbeddedRedis(data) as url:
        async with client_for(make_settings(redis_url=url), cookies={"portal_session": token}) as c:
            poll = (await c.get("/api/polls/portal-rating")).json()
            assert poll["total"] == 1 and poll["voted"] == "tot"
            assert (await c.post(VOTES, json={"option": "rat-tot"})).status_code == 409


def test_second_instance_on_same_data_dir_is_refused(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path), pytest.raises(EmbeddedRedisError, match="already serves"):
        EmbeddedRedis(tmp_path).start()


def test_long_data_dir_falls_back_to_tcp(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    with EmbeddedRedis(deep) as url:
        assert url.startswith("redis://127.0.0.1:")


def test_embedded_redis_dies_with_its_parent(tmp_path: Path) -> None:
    """A `portal serve` killed with SIGKILL leaves no Redis behind holding the data dir."""
    import subprocess
    import sys
    import time

    from server.embedded import redis_answers

    code = (
        "import sys, time; from pathlib import Path; from server.embedded import EmbeddedRedis;"
        f"EmbeddedRedis(Path({str(tmp_path)!r})).start(); print('up', flush=True); time.sleep(60)"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert parent.stdout is not None and parent.stdout.readline().strip() == b"up"
    socket_path = str(tmp_path / "redis.sock")
    assert redis_answers(socket_path)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while redis_answers(socket_path):
        assert time.monotonic() < deadline, "the embedded Redis outlived its parent"
        time.sleep(0.05)
    with EmbeddedRedis(tmp_path) as url:  # the data dir is free again
        assert url.startswith("unix://")


def test_a_supervised_redis_that_dies_is_started_again_on_its_data(tmp_path: Path) -> None:
    import os
    import signal
    import time

    import redis

    embedded = EmbeddedRedis(tmp_path)
    url = embedded.start()
    embedded.supervise(interval=0.05)
    try:
        client = redis.Redis.from_url(url)
        client.set("kept", "yes")
        assert embedded.process is not None
        first = embedded.process.pid
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 15
        while embedded.restarts == 0:
            assert time.monotonic() < deadline, "not restarted"
            time.sleep(0.05)
        assert embedded.process is not None and embedded.process.pid != first
        assert client.get("kept") == b"yes"  # same address, same append-only file
    finally:
        embedded.stop()
    assert embedded.process is None  # stopped for good: the supervisor does not bring it back
    time.sleep(0.2)
    assert embedded.process is None
