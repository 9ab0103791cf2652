"""The live stream over a real HTTP server: a count change arrives as an event within 2 s,
one Redis read per tick serves every open stream, and a stream that goes away is dropped."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx

from server.settings import Settings
from tests.admin_helpers import AUTH, build_site, read_events, served


def test_a_heartbeat_reaches_every_stream_within_two_seconds(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(static_dir=build_site(tmp_path))
    with served(settings) as (base, app), httpx.Client(base_url=base, timeout=20) as http:
        assert http.get("/api/admin/live").status_code == 401
        with (
            http.stream("GET", "/api/admin/live", headers=AUTH) as first,
            http.stream("GET", "/api/admin/live", headers=AUTH) as second,
        ):
            assert first.status_code == 200
            assert first.headers["content-type"].startswith("text/event-stream")
            assert first.headers["x-accel-buffering"] == "no"
            lines = [first.iter_lines(), second.iter_lines()]
            before = [next(read_events(stream, 1)) for stream in lines]
            assert before[0] == {"online": 0, "pages": [], "votes_today": 0} == before[1]
            sent = time.monotonic()
            beat = http.post("/api/presence", json={"page": "/tin-tuc/a.html", "view": True})
            assert beat.status_code == 200
            for stream in lines:
                event = next(read_events(stream, 1))
                assert time.monotonic() - sent < 2.0
                assert event["online"] == 1
                assert event["pages"] == [
                    {"page": "/tin-tuc/a.html", "title": "Tin A", "online": 1}
                ]
            http.post("/api/polls/rating/votes", json={"option": "tot"})
            assert next(read_events(lines[0], 1))["votes_today"] == 1
        # Both clients went away: their streams are dropped, and with them the reads.
        hub = app.state.live
        deadline = time.monotonic() + 10
        while hub.streams and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not hub.streams
        reads = hub.reads
        time.sleep(2.5)
        assert hub.reads <= reads + 1  # at most the tick that was under way


def test_a_stream_sees_heartbeats_sent_to_another_instance(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(static_dir=build_site(tmp_path))
    with (
        served(settings) as (one, _),
        served(settings) as (other, _),
        httpx.Client(timeout=20) as http,
        http.stream("GET", f"{other}/api/admin/live", headers=AUTH) as stream,
    ):
        lines = stream.iter_lines()
        assert next(read_events(lines, 1))["online"] == 0
        http.post(f"{one}/api/presence", json={"page": "/index.html", "view": True})
        assert next(read_events(lines, 1))["online"] == 1
        # The page arrives once the first instance files its second of heartbeats.
        for event in read_events(lines, 5):
            if event["pages"]:
                assert event["pages"] == [
                    {"page": "/index.html", "title": "Trang chủ", "online": 1}
                ]
                break
        else:
            raise AssertionError("the page never reached the other instance's stream")
