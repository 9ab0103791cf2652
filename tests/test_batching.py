"""Coalescing: concurrent calls share one Redis round trip, and each still gets its own answer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import pytest
import redis
from redis.asyncio import Redis

from server.batching import Coalescer
from server.catalog import SiteCatalog
from server.poll_config import Option, Poll
from server.polls import PollStore
from server.presence import Presence
from server.sessions import HEADER_NAME, SessionSigner
from server.settings import Settings
from tests.conftest import SECRET

VOTES = "/api/polls/portal-rating/votes"


class Recorder:
    """A batch function that remembers the batches it was given."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.batches: list[list[int]] = []
        self.fail = fail

    async def __call__(self, items: list[int]) -> Sequence[int]:
        self.batches.append(list(items))
        await asyncio.sleep(0)
        if self.fail is not None:
            raise self.fail
        return [item * 10 for item in items]


async def test_one_tick_is_one_batch_and_each_caller_gets_its_answer() -> None:
    run = Recorder()
    coalesce: Coalescer[int, int] = Coalescer(run)
    results = await asyncio.gather(*(coalesce(i) for i in range(20)))
    assert results == [i * 10 for i in range(20)]
    assert run.batches == [list(range(20))]


async def test_calls_awaited_one_after_another_are_not_held_back() -> None:
    run = Recorder()
    coalesce: Coalescer[int, int] = Coalescer(run)
    assert [await coalesce(i) for i in range(3)] == [0, 10, 20]
    assert run.batches == [[0], [1], [2]]


async def test_batches_are_capped() -> None:
    run = Recorder()
    coalesce: Coalescer[int, int] = Coalescer(run, max_batch=8)
    results = await asyncio.gather(*(coalesce(i) for i in range(20)))
    assert results == [i * 10 for i in range(20)]
    assert [len(batch) for batch in run.batches] == [8, 8, 4]
    assert [i for batch in run.batches for i in batch] == list(range(20))


async def test_an_error_reaches_every_waiter() -> None:
    coalesce: Coalescer[int, int] = Coalescer(Recorder(fail=redis.ConnectionError("gone")))
    results = await asyncio.gather(*(coalesce(i) for i in range(5)), return_exceptions=True)
    assert all(isinstance(r, redis.ConnectionError) for r in results)
    # The next batch is unaffected.
    coalesce._run = Recorder()
    assert await coalesce(4) == 40


async def test_a_wrong_number_of_results_is_an_error() -> None:
    async def short(items: list[int]) -> list[int]:
        return items[:-1]

    coalesce: Coalescer[int, int] = Coalescer(short)
    results = await asyncio.gather(coalesce(1), coalesce(2), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)


async def test_a_cancelled_caller_does_not_disturb_the_others() -> None:
    release = asyncio.Event()

    async def slow(items: list[int]) -> list[int]:
        await release.wait()
        return items

    coalesce: Coalescer[int, int] = Coalescer(slow)
    tasks = [asyncio.ensure_future(coalesce(i)) for i in range(3)]
    await asyncio.sleep(0.01)
    tasks[1].cancel()
    release.set()
    assert await tasks[0] == 0 and await tasks[2] == 2
    with pytest.raises(asyncio.CancelledError):
        await tasks[1]


def test_max_batch_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Coalescer(Recorder(), max_batch=0)


def count_calls(obj: Any, name: str) -> list[int]:
    """Wrap the script `obj.<name>` so each call's key count is recorded; it still runs."""
    script = getattr(obj, name)
    calls: list[int] = []

    async def counted(keys: list[Any] | None = None, args: list[Any] | None = None) -> Any:
        calls.append(len(keys or []))
        return await script(keys=keys, args=args)

    setattr(obj, name, counted)
    return calls


@pytest.fixture
async def async_redis(redis_url: str) -> Any:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


def session_ids(count: int) -> list[str]:
    signer = SessionSigner((SECRET,), 3600)
    return [signer.new().id for _ in range(count)]


async def test_concurrent_heartbeats_one_script_call_each_its_own_counts(
    async_redis: Redis, key_prefix: str
) -> None:
    presence = Presence(async_redis, key_prefix, 60)
    calls = count_calls(presence, "_heartbeat_script")
    ids = session_ids(30)
    pages = ["/a.html", "/b.html", None]
    beats = [(sid, pages[i % 3]) for i, sid in enumerate(ids)]
    # The first session beats again at the end, on /a.html: it is not counted twice.
    beats.append((ids[0], "/a.html"))
    results = await asyncio.gather(*(presence.heartbeat(sid, page) for sid, page in beats))
    assert len(calls) == 1 and calls[0] == 6  # two keys each: the site, the two pages; one call
    # Applied in order, each answered as if alone: the site count grows one by one.
    assert [r.online for r in results] == [*range(1, 31), 30]
    assert [r.page_online for r in results[:6]] == [1, 1, None, 2, 2, None]
    assert results[-1].page_online == 10
    read = await asyncio.gather(presence.counts("/a.html"), presence.counts(None))
    assert (read[0].online, read[0].page_online, read[1].page_online) == (30, 10, None)


async def test_concurrent_reads_share_one_call(async_redis: Redis, key_prefix: str) -> None:
    presence = Presence(async_redis, key_prefix, 60)
    for sid, page in zip(session_ids(3), ["/a.html", "/a.html", "/b.html"], strict=True):
        await presence.heartbeat(sid, page)
    calls = count_calls(presence, "_count_script")
    pages = ["/a.html", None, "/b.html", "/a.html", "/c.html"]
    results = await asyncio.gather(*(presence.counts(page) for page in pages))
    assert calls == [4]  # the site and three distinct pages
    assert [(r.online, r.page_online) for r in results] == [
        (3, 2),
        (3, None),
        (3, 1),
        (3, 2),
        (3, 0),
    ]


async def test_concurrent_votes_each_get_their_own_result(
    async_redis: Redis, key_prefix: str
) -> None:
    options = (Option("yes", "Yes"), Option("no", "No"))
    polls = {"p-1": Poll("p-1", "One?", options), "p-2": Poll("p-2", "Two?", options)}
    catalog = SiteCatalog(None, None)
    catalog.polls = polls
    store = PollStore(async_redis, key_prefix, catalog)
    calls = count_calls(store, "_vote")
    ids = session_ids(10)
    votes = [(polls["p-1"], sid, "yes" if i % 3 else "no") for i, sid in enumerate(ids)]
    votes.append((polls["p-1"], ids[0], "yes"))  # a second vote in the same batch
    votes.append((polls["p-2"], ids[0], "yes"))  # another poll: its own call (hash slot)
    results = await asyncio.gather(
        *(store.vote(poll, sid, opt, "voter-hash") for poll, sid, opt in votes)
    )
    # One call per poll, each touching that poll's keys: ballots, tally, and its history
    # (series, the address index, the one address's ballots).
    assert calls == [5, 5]
    assert [r.counted for r in results] == [True] * 10 + [False, True]
    # Each counted vote sees the tally right after it, in order.
    assert [sum(r.tally.votes.values()) for r in results[:10]] == list(range(1, 11))
    assert results[0].tally.votes == {"yes": 0, "no": 1}
    # The repeat keeps the first choice and leaves the tally as the batch left it.
    assert results[10].tally.voted == "no"
    assert results[10].tally.votes == {"yes": 6, "no": 4}
    assert results[11].tally.votes == {"yes": 1, "no": 0}
    assert all(r.tally.updated_at is not None for r in results)
    stored = await store.tally(polls["p-1"], ids[0])
    assert stored.votes == {"yes": 6, "no": 4} and stored.voted == "no"


async def test_concurrent_http_votes_are_201_once_and_409_after(
    client_for: Callable[..., Any], settings: Settings
) -> None:
    tokens = [SessionSigner((SECRET,), 3600).new().token for _ in range(12)]
    async with client_for(settings) as client:

        def vote(token: str) -> Any:
            return client.post(VOTES, json={"option": "tot"}, headers={HEADER_NAME: token})

        first = await asyncio.gather(*(vote(t) for t in tokens), vote(tokens[0]))
        statuses = sorted(r.status_code for r in first)
        assert statuses == [201] * 12 + [409]
        assert sorted(r.json().get("total", 0) for r in first if r.status_code == 201) == list(
            range(1, 13)
        )
        again = await asyncio.gather(*(vote(t) for t in tokens))
        assert {r.status_code for r in again} == {409}
        assert {r.json()["poll"]["total"] for r in again} == {12}


async def test_redis_down_fails_every_waiter_with_503(
    client_for: Callable[..., Any], make_settings: Callable[..., Settings]
) -> None:
    from tests.redis_process import free_port

    settings = make_settings(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    async with client_for(settings) as client:
        responses = await asyncio.gather(
            *(client.post("/api/presence", json={"page": "/x.html"}) for _ in range(5)),
            *(client.post(VOTES, json={"option": "tot"}) for _ in range(5)),
            *(client.get("/api/presence") for _ in range(5)),
        )
    assert [r.status_code for r in responses] == [503] * 15
    assert {r.json()["error"]["code"] for r in responses} == {"redis_unavailable"}


async def test_flushed_scripts_reload_inside_a_batch(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    tokens = [SessionSigner((SECRET,), 3600).new().token for _ in range(8)]
    assert (await client.post("/api/presence")).status_code == 200
    sync = redis.Redis.from_url(redis_url)
    sync.script_flush()
    sync.close()
    responses = await asyncio.gather(
        *(client.post("/api/presence", headers={HEADER_NAME: t}) for t in tokens),
        *(client.post(VOTES, json={"option": "tot"}, headers={HEADER_NAME: t}) for t in tokens),
    )
    assert [r.status_code for r in responses] == [200] * 8 + [201] * 8
    assert (await client.get("/api/presence")).json()["online"] == 9
