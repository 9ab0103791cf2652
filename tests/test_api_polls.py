"""Polls: one vote per session, exact tallies, every status of the contract."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from server.sessions import HEADER_NAME
from server.settings import Settings
from tests.conftest import VOTES


async def test_list_polls_from_site_toml(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/polls")
    assert response.status_code == 200
    (poll,) = response.json()["polls"]
    assert poll["id"] == "portal-rating"
    assert poll["question"] == "Đánh giá của bạn về cổng thông tin điện tử"
    assert [o["label"] for o in poll["options"]] == ["Rất tốt", "Tốt", "Bình thường", "Chưa tốt"]
    assert poll["total"] == 0 and poll["voted"] is None and poll["open"] is True


async def test_vote_then_read_shows_the_choice(client: httpx.AsyncClient) -> None:
    response = await client.post(VOTES, json={"option": "tot"})
    assert response.status_code == 201
    body = response.json()
    assert body["voted"] == "tot" and body["total"] == 1
    assert {o["id"]: o["votes"] for o in body["options"]}["tot"] == 1
    read = (await client.get("/api/polls/portal-rating")).json()
    assert read["voted"] == "tot" and read["total"] == 1
    assert (await client.get("/api/polls")).json()["polls"][0]["voted"] == "tot"


async def test_second_vote_is_409_with_first_choice_and_unchanged_tally(
    client: httpx.AsyncClient,
) -> None:
    await client.post(VOTES, json={"option": "rat-tot"})
    again = await client.post(VOTES, json={"option": "chua-tot"})
    assert again.status_code == 409
    body = again.json()
    assert body["error"]["code"] == "already_voted"
    assert body["poll"]["voted"] == "rat-tot"
    assert body["poll"]["total"] == 1
    assert {o["id"]: o["votes"] for o in body["poll"]["options"]}["chua-tot"] == 0


async def test_fifty_concurrent_duplicates_count_once(client: httpx.AsyncClient) -> None:
    token = (await client.get("/api/polls")).headers[HEADER_NAME]
    responses = await asyncio.gather(
        *(
            client.post(VOTES, json={"option": "tot"}, headers={HEADER_NAME: token})
            for _ in range(50)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 1 and statuses.count(409) == 49
    assert (await client.get("/api/polls/portal-rating")).json()["total"] == 1


async def test_exact_tallies_for_many_sessions(
    client_for: Callable[..., Any], settings: Settings
) -> None:
    options = ["rat-tot", "tot", "binh-thuong", "chua-tot"]
    choices = [options[(i * 7 + i // 5) % 4] for i in range(200)]
    # Cookie-less clients: each request carries its own session in the header.
    async with client_for(settings) as client:
        tokens = []
        for _ in choices:
            client.cookies.clear()
            tokens.append((await client.get("/api/polls")).headers[HEADER_NAME])

        async def vote(token: str, option: str) -> tuple[int, int]:
            headers = {HEADER_NAME: token}
            first = await client.post(VOTES, json={"option": option}, headers=headers)
            retry = await client.post(VOTES, json={"option": "tot"}, headers=headers)
            return first.status_code, retry.status_code

        results = await asyncio.gather(*(vote(t, c) for t, c in zip(tokens, choices, strict=True)))
        poll = (await client.get("/api/polls/portal-rating")).json()
    assert set(results) == {(201, 409)}
    assert {o["id"]: o["votes"] for o in poll["options"]} == {o: choices.count(o) for o in options}
    assert poll["total"] == 200


async def test_invalid_option_is_422_and_counts_nothing(client: httpx.AsyncClient) -> None:
    for body in [{"option": "nope"}, {"option": 3}, {"option": None}, {}, {"option": ["tot"]}]:
        response = await client.post(VOTES, json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "invalid_option"
    assert (await client.get("/api/polls/portal-rating")).json()["total"] == 0
    # Still free to vote properly afterwards.
    assert (await client.post(VOTES, json={"option": "tot"})).status_code == 201


async def test_unknown_poll_is_404(client: httpx.AsyncClient) -> None:
    for response in [
        await client.get("/api/polls/nope"),
        await client.post("/api/polls/nope/votes", json={"option": "tot"}),
    ]:
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "poll_not_found"


async def test_closed_poll_is_409_poll_closed(
    client_for: Callable[..., Any], make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    (tmp_path / "site.toml").write_text(
        """
[[polls]]
id = "old"
question = "Cũ?"
open = false
options = [{ id = "co", label = "Có" }, { id = "khong", label = "Không" }]
""",
        encoding="utf-8",
    )
    async with client_for(make_settings(site_dir=tmp_path)) as client:
        assert (await client.get("/api/polls/old")).json()["open"] is False
        response = await client.post("/api/polls/old/votes", json={"option": "co"})
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "poll_closed"
        assert (await client.get("/api/polls/old")).json()["total"] == 0


async def test_form_post_votes_and_redirects_back(client: httpx.AsyncClient) -> None:
    page = "http://portal.test/tin-tuc/bai-1.html"
    response = await client.post(
        VOTES,
        data={"option": "binh-thuong"},
        headers={"referer": page, "origin": "http://portal.test"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == page
    poll = (await client.get("/api/polls/portal-rating")).json()
    assert poll["voted"] == "binh-thuong" and poll["total"] == 1
    # A second form vote also goes back, counting nothing.
    again = await client.post(VOTES, data={"option": "tot"}, headers={"referer": page})
    assert again.status_code == 303
    assert (await client.get("/api/polls/portal-rating")).json()["total"] == 1


async def test_form_post_never_redirects_to_another_site(client: httpx.AsyncClient) -> None:
    response = await client.post(VOTES, data={"option": "tot"}, headers={"referer": ""})
    assert response.status_code == 303 and response.headers["location"] == "/"
    forged = await client.post(
        VOTES, data={"option": "tot"}, headers={"referer": "https://evil.example/x"}
    )
    assert forged.status_code == 403
    assert forged.json()["error"]["code"] == "forbidden_origin"
    cross = await client.post(
        VOTES, data={"option": "tot"}, headers={"origin": "https://evil.example"}
    )
    assert cross.status_code == 403


async def test_form_post_from_allowed_origin_goes_back_there(
    client_for: Callable[..., Any], make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(allowed_origins=("https://xa.example",))
    async with client_for(settings) as client:
        page = "https://xa.example/tin.html"
        response = await client.post(
            VOTES, data={"option": "tot"}, headers={"origin": "https://xa.example", "referer": page}
        )
        assert response.status_code == 303 and response.headers["location"] == page


async def test_form_post_without_choice_goes_back_counting_nothing(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        VOTES,
        content="option=",
        headers={
            "referer": "http://portal.test/",
            "content-type": "application/x-www-form-urlencoded",
        },
    )
    assert response.status_code == 303
    assert (await client.get("/api/polls/portal-rating")).json()["total"] == 0


def test_poll_json_bytes_is_poll_json_serialised() -> None:
    import json
    from datetime import UTC, datetime

    from server.poll_config import Option, Poll
    from server.polls import Tally, poll_json, poll_json_bytes

    # Quotes, backslashes, control characters and `%` (the template is %-formatted).
    question = 'Câu "hỏi" \\ mới: 50%% hay 100%?'
    options = (Option("a", "Rất tốt %s", 'Very "good" %s'), Option("b-2", "Chưa\ttốt %d", "No %%"))
    poll = Poll("p-1", question, options, question_en="A 100% question?")
    for votes, voted, is_open, lang in [
        ({"a": 0, "b-2": 0}, None, True, "vi"),
        ({"a": 7, "b-2": 12}, "b-2", False, "vi"),
        ({"a": 7, "b-2": 12}, "b-2", False, "en"),
    ]:
        closed = Poll(poll.id, poll.question, poll.options, is_open, question_en=poll.question_en)
        tally = Tally(votes, voted, datetime.now(UTC))
        body = poll_json(closed, tally, lang)
        assert body["lang"] == lang
        expected = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        assert poll_json_bytes(closed, tally, lang) == expected.encode()


ENGLISH = {
    "question": "How do you rate this electronic portal?",
    "labels": ["Very good", "Good", "Average", "Not good yet"],
}


def _texts(poll: dict[str, Any]) -> tuple[str, str, list[str]]:
    return poll["lang"], poll["question"], [o["label"] for o in poll["options"]]


async def test_polls_answer_in_english_with_lang_en_and_the_tally_stays_one(
    client: httpx.AsyncClient,
) -> None:
    english = ("en", ENGLISH["question"], ENGLISH["labels"])
    assert _texts((await client.get("/api/polls/portal-rating?lang=en")).json()) == english
    assert _texts((await client.get("/api/polls?lang=en")).json()["polls"][0]) == english
    voted = await client.post(VOTES + "?lang=en", json={"option": "tot"})
    assert voted.status_code == 201 and _texts(voted.json()) == english
    again = await client.post(VOTES + "?lang=en", json={"option": "tot"})
    assert again.status_code == 409 and _texts(again.json()["poll"]) == english
    # One tally: the English vote is in the Vietnamese answer, which keeps its texts.
    vietnamese = (await client.get("/api/polls/portal-rating?lang=vi")).json()
    assert vietnamese["lang"] == "vi" and vietnamese["total"] == 1
    assert vietnamese["question"] == "Đánh giá của bạn về cổng thông tin điện tử"
    assert {o["id"]: o["votes"] for o in vietnamese["options"]}["tot"] == 1


async def test_accept_language_decides_without_lang_and_lang_wins_over_it(
    client: httpx.AsyncClient,
) -> None:
    async def lang_of(path: str, accept: str) -> str:
        answer = await client.get(path, headers={"Accept-Language": accept})
        assert answer.status_code == 200
        return str(answer.json()["lang"])

    poll = "/api/polls/portal-rating"
    assert await lang_of(poll, "en-US,en;q=0.9") == "en"
    assert await lang_of(poll, "vi-VN,vi;q=0.9,en-US;q=0.8,en;q=0.7") == "vi"
    assert await lang_of(poll, "fr-FR,fr;q=0.9,en;q=0.5") == "en"
    assert await lang_of(poll, "fr, de") == "vi"
    assert await lang_of(poll, "en;q=nonsense") == "vi"
    assert await lang_of(poll + "?lang=vi", "en-US,en") == "vi"  # what the widget sends


async def test_an_unknown_lang_is_422_and_counts_nothing(client: httpx.AsyncClient) -> None:
    read = await client.get("/api/polls/portal-rating?lang=fr")
    assert read.status_code == 422 and read.json()["error"]["code"] == "invalid_lang"
    vote = await client.post(VOTES + "?lang=xx", json={"option": "tot"})
    assert vote.status_code == 422 and vote.json()["error"]["code"] == "invalid_lang"
    assert (await client.get("/api/polls/portal-rating")).json()["total"] == 0


def test_english_texts_are_all_or_none(tmp_path: Path) -> None:
    import pytest

    from server.poll_config import PollConfigError, load_polls

    options = '{ id = "a", label = "A", label_en = "A" }, { id = "b", label = "B" }'
    toml = tmp_path / "site.toml"
    for poll in [
        f'question = "Q"\nquestion_en = "Q"\noptions = [{options}]',
        'question = "Q"\noptions = [{ id = "a", label = "A", label_en = "A" }, '
        '{ id = "b", label = "B", label_en = "B" }]',
    ]:
        toml.write_text(f'[[polls]]\nid = "p"\n{poll}\n', "utf-8")
        with pytest.raises(PollConfigError, match="English texts incomplete"):
            load_polls(toml)
    toml.write_text(
        '[[polls]]\nid = "p"\nquestion = "Q"\noptions = [{ id = "a", label = "A" }, '
        '{ id = "b", label = "B" }]\n',
        "utf-8",
    )
    (poll,) = load_polls(toml).values()
    assert not poll.has_english
    from server.polls import Tally, poll_json

    body = poll_json(poll, Tally({"a": 0, "b": 0}, None, None), "en")
    assert body["lang"] == "vi" and body["question"] == "Q"  # no English: the Vietnamese
