"""Redis Cluster: a real 3-master cluster on loopback; the service detects it and the whole
API works on it, with every script's keys in one hash slot."""

from __future__ import annotations

import asyncio
import random
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.cluster import key_slot

from server.sessions import HEADER_NAME
from server.settings import Settings
from server.store import RedisClient, connect
from tests.redis_process import answers, free_port

ADMIN = {"Authorization": "Bearer test-admin-token"}
POLL_IDS = [f"poll-{i}" for i in range(8)]
SITE_TOML = "\n".join(
    f'[[polls]]\nid = "{poll_id}"\nquestion = "Question {poll_id}?"\n'
    'options = [{ id = "yes", label = "Yes" }, { id = "no", label = "No" }]\n'
    for poll_id in POLL_IDS
)


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _cluster_ports(count: int) -> list[int]:
    """Loopback ports whose cluster bus ports (+10000) are free too, all at most 65535."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 55535 - count)
        ports = list(range(base, base + count))
        if all(_port_free(p) and _port_free(p + 10000) for p in ports):
            return ports
    raise RuntimeError("no free ports for a Redis Cluster")


@pytest.fixture(scope="module")
def cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Three masters from `redis-server --cluster-enabled yes`, joined by `redis-cli`."""
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if server is None or cli is None:
        pytest.skip("redis-server and redis-cli are needed (apt-get install redis-server)")
    ports = _cluster_ports(3)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for port in ports:
            data = tmp_path_factory.mktemp(f"cluster-{port}")
            args = [
                server,
                "--port", str(port), "--bind", "127.0.0.1",
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", "5000",
                "--dir", str(data), "--save", "", "--appendonly", "no",
                "--logfile", "redis.log",
            ]  # fmt: skip
            processes.append(
                subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )
        deadline = time.monotonic() + 10
        while not all(answers(p) for p in ports):
            assert time.monotonic() < deadline, "cluster nodes did not start"
            time.sleep(0.05)
        create = [cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports)]
        subprocess.run(
            [*create, "--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        deadline = time.monotonic() + 20
        while not all(_cluster_ok(p) for p in ports):
            assert time.monotonic() < deadline, "the cluster did not become ok"
            time.sleep(0.1)
        yield f"redis://127.0.0.1:{ports[0]}/0"
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def _cluster_ok(port: int) -> bool:
    client = redis.Redis(port=port, socket_timeout=1)
    try:
        info: dict[str, str] = client.execute_command("CLUSTER INFO")
        return info.get("cluster_state") == "ok"
    finally:
        client.close()


@pytest.fixture
def cluster_settings(
    cluster_url: str, make_settings: Callable[..., Settings], tmp_path: Path
) -> Settings:
    site = tmp_path / "site"
    site.mkdir()
    (site / "site.toml").write_text(SITE_TOML, encoding="utf-8")
    return make_settings(redis_url=cluster_url, site_dir=site)


async def test_connect_detects_the_cluster_and_a_single_redis(
    cluster_settings: Settings, settings: Settings
) -> None:
    clustered: RedisClient = await connect(cluster_settings)
    single: RedisClient = await connect(settings)
    # Unreachable at start: assumed single, so the service still starts (and answers 503).
    down: RedisClient = await connect(
        replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    )
    try:
        assert isinstance(clustered, RedisCluster)
        assert isinstance(single, Redis) and isinstance(down, Redis)
    finally:
        for client in (clustered, single, down):
            await client.aclose()


def test_the_test_polls_span_several_nodes(cluster_url: str, key_prefix: str) -> None:
    """Otherwise the tests below would prove nothing about cross-node reads."""
    client = redis.RedisCluster.from_url(cluster_url)
    try:
        nodes = {
            client.get_node_from_key(f"{key_prefix}{{poll:{poll_id}}}:tally").name
            for poll_id in POLL_IDS
        }
    finally:
        client.close()
    assert len(nodes) >= 2


def test_script_keys_share_a_slot(key_prefix: str) -> None:
    ballots, tally = (f"{key_prefix}{{poll:poll-1}}:{name}" for name in ("ballots", "tally"))
    assert key_slot(ballots.encode()) == key_slot(tally.encode())
    site, page = f"{key_prefix}{{presence}}:v3:site", f"{key_prefix}{{presence}}:v3:page:0a1b"
    assert key_slot(site.encode()) == key_slot(page.encode())


async def test_full_api_on_the_cluster(
    client_for: Callable[..., Any], cluster_settings: Settings
) -> None:
    async with client_for(cluster_settings) as client:
        assert (await client.get("/readyz")).status_code == 200

        beat = await client.post("/api/presence", json={"page": "/a.html"})
        assert beat.status_code == 200
        assert beat.json() == {"online": 1, "page_online": 1, "ttl": 60}
        token = beat.headers[HEADER_NAME]
        client.cookies.clear()
        other = await client.post("/api/presence", json={"page": "/b.html"})
        assert other.json()["online"] == 2 and other.json()["page_online"] == 1
        read = await client.get("/api/presence", params={"page": "/a.html"})
        assert read.json()["online"] == 2 and read.json()["page_online"] == 1
        leave = await client.post(
            "/api/presence/leave", json={"page": "/a.html"}, headers={HEADER_NAME: token}
        )
        assert leave.status_code == 204
        read = await client.get("/api/presence", params={"page": "/a.html"})
        assert read.json()["online"] == 2 and read.json()["page_online"] == 0  # that page only

        # A vote in every poll, from one session, then all of them read back together.
        for i, poll_id in enumerate(POLL_IDS):
            option = "yes" if i % 2 == 0 else "no"
            response = await client.post(f"/api/polls/{poll_id}/votes", json={"option": option})
            assert response.status_code == 201, response.text
        polls = (await client.get("/api/polls")).json()["polls"]
        assert [p["voted"] for p in polls] == ["yes" if i % 2 == 0 else "no" for i in range(8)]
        assert all(p["total"] == 1 for p in polls)
        again = await client.post("/api/polls/poll-3/votes", json={"option": "yes"})
        assert again.status_code == 409 and again.json()["poll"]["voted"] == "no"

        tallies = (await client.get("/api/admin/polls", headers=ADMIN)).json()["polls"]
        assert [t["id"] for t in tallies] == POLL_IDS
        assert tallies[0]["options"][0]["percent"] == 100.0 and tallies[0]["updated_at"]
        one = await client.get("/api/admin/polls/poll-5", headers=ADMIN)
        assert one.status_code == 200 and one.json()["options"][1]["votes"] == 1


async def test_fifty_concurrent_duplicates_count_once_on_the_cluster(
    client_for: Callable[..., Any], cluster_settings: Settings
) -> None:
    async with client_for(cluster_settings) as client:
        token = (await client.get("/api/polls")).headers[HEADER_NAME]
        responses = await asyncio.gather(
            *(
                client.post(
                    "/api/polls/poll-6/votes", json={"option": "no"}, headers={HEADER_NAME: token}
                )
                for _ in range(50)
            )
        )
        statuses = [r.status_code for r in responses]
        assert statuses.count(201) == 1 and statuses.count(409) == 49
        tally = (await client.get("/api/admin/polls/poll-6", headers=ADMIN)).json()
        assert tally["total"] == 1


async def test_scripts_reload_after_the_cluster_forgets_them(
    client_for: Callable[..., Any], cluster_settings: Settings, cluster_url: str
) -> None:
    async with client_for(cluster_settings) as client:
        assert (await client.post("/api/polls/poll-0/votes", json={"option": "yes"})).is_success
        flusher = redis.RedisCluster.from_url(cluster_url)
        try:
            for node in flusher.get_nodes():
                flusher.execute_command("SCRIPT FLUSH", target_nodes=node)
        finally:
            flusher.close()
        assert (await client.post("/api/presence", json={})).status_code == 200
        assert (await client.get("/api/polls")).status_code == 200
        assert (await client.post("/api/polls/poll-1/votes", json={"option": "no"})).is_success


async def test_vote_rate_limit_on_the_cluster(
    client_for: Callable[..., Any], cluster_settings: Settings
) -> None:
    settings = replace(cluster_settings, vote_rate_limit="2/minute")
    async with client_for(settings) as client:
        statuses = []
        for poll_id in ("poll-0", "poll-1", "poll-2"):
            client.cookies.clear()  # a new session each time, from the same address
            vote = await client.post(f"/api/polls/{poll_id}/votes", json={"option": "yes"})
            statuses.append(vote.status_code)
        assert statuses == [201, 201, 429]
