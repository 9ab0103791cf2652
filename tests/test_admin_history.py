"""History the service records, read through the admin JSON/CSV API and /api/stats: vote
series that add up to the tallies, traffic from scripted heartbeats, per-address bounds,
a burst voided, CSV equal to JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from server.settings import Settings
from tests.admin_helpers import AUTH, PAGES, RunningApp, build_site, read_csv, running

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def site_settings(make_settings: Callable[..., Settings], tmp_path: Path) -> Settings:
    return make_settings(static_dir=build_site(tmp_path))


async def vote(app: RunningApp, option: str, peer: str = "127.0.0.1") -> None:
    async with app.client(peer) as visitor:
        answer = await visitor.post("/api/polls/rating/votes", json={"option": option})
        assert answer.status_code == 201, answer.text


async def beat(app: RunningApp, page: str | None, view: bool, peer: str = "127.0.0.1") -> dict:
    async with app.client(peer) as visitor:
        body = {"page": page, "view": view} if page else {}
        answer = await visitor.post("/api/presence", json=body)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())


async def test_series_add_up_to_the_tally_and_csv_equals_json(site_settings: Settings) -> None:
    async with running(site_settings) as app:
        for option in ["tot", "tot", "chua-tot", "khac", "tot"]:
            await vote(app, option)
        async with app.client() as admin:
            tally = (await admin.get("/api/admin/polls/rating", headers=AUTH)).json()
            by_day = (await admin.get("/api/admin/polls/rating/series", headers=AUTH)).json()
            by_hour = (
                await admin.get("/api/admin/polls/rating/series?step=hour", headers=AUTH)
            ).json()
            exported = await admin.get("/api/admin/polls/rating/series?format=csv", headers=AUTH)
    assert tally["total"] == 5
    for series, step, count in [(by_day, "day", 30), (by_hour, "hour", None)]:
        assert series["poll"] == "rating" and series["step"] == step
        assert datetime.fromisoformat(series["since"]) <= datetime.now(ZONE)
        if count:
            assert len(series["points"]) == count
        for option in tally["options"]:
            counted = sum(p["votes"][option["id"]] for p in series["points"])
            assert counted == option["votes"], (step, option)
        assert sum(p["total"] for p in series["points"]) == tally["total"]
    today = datetime.now(ZONE).date().isoformat()
    assert by_day["points"][-1]["t"] == today
    assert by_day["points"][-1]["votes"] == {"tot": 3, "chua-tot": 1, "khac": 1}
    hour = by_hour["points"][-1]["t"]
    assert hour.endswith(":00+07:00") and hour.startswith(today)
    rows = read_csv(exported)
    assert rows[0] == ["t", "total", "tot", "chua-tot", "khac"]
    assert rows[1:] == [
        [p["t"], str(p["total"]), *(str(p["votes"][o]) for o in ["tot", "chua-tot", "khac"])]
        for p in by_day["points"]
    ]


async def test_traffic_from_heartbeats(site_settings: Settings) -> None:
    async with running(site_settings) as app:
        for page in ["/index.html", "/index.html", "/tin-tuc/a.html", "/unknown.html"]:
            await beat(app, page, view=True)
        await beat(app, "/tin-tuc/a.html", view=False)  # a later heartbeat: no view
        async with app.client() as admin:
            days = (await admin.get("/api/admin/traffic", headers=AUTH)).json()
            hours = (await admin.get("/api/admin/traffic?step=hour", headers=AUTH)).json()
            minutes = (await admin.get("/api/admin/traffic?step=minute", headers=AUTH)).json()
            pages = (await admin.get("/api/admin/pages", headers=AUTH)).json()
            now = (await admin.get("/api/admin/pages/now", headers=AUTH)).json()
            pages_csv = read_csv(await admin.get("/api/admin/pages?format=csv", headers=AUTH))
            traffic_csv = read_csv(await admin.get("/api/admin/traffic?format=csv", headers=AUTH))
    today = days["points"][-1]
    assert days["step"] == "day" and len(days["points"]) == 30 and days["since"]
    # Five sessions, four page views: the view on an unknown page counts for the site only.
    assert (today["visitors"], today["views"], today["online_max"]) == (5, 4, 5)
    assert hours["points"][-1]["views"] == 4 and hours["points"][-1]["visitors"] is None
    assert hours["points"][-1]["online_max"] == 5
    assert len(minutes["points"]) == 48 * 60
    assert minutes["points"][-1]["online_max"] == 5
    assert minutes["points"][-1]["views"] is None
    assert pages["pages"] == [
        {"page": "/index.html", "title": "Trang chủ", "views": 2},
        {"page": "/tin-tuc/a.html", "title": "Tin A", "views": 1},
    ]
    assert now == {
        "online": 5,
        "pages": [  # as many people on each: by path
            {"page": "/index.html", "title": "Trang chủ", "online": 2},
            {"page": "/tin-tuc/a.html", "title": "Tin A", "online": 2},
        ],
    }
    assert pages_csv == [["page", "title", "views"], ["/index.html", "Trang chủ", "2"],
                         ["/tin-tuc/a.html", "Tin A", "1"]]  # fmt: skip
    assert traffic_csv[0] == ["t", "online_max", "visitors", "views"]
    assert traffic_csv[-1] == [today["t"], "5", "5", "4"]


async def test_csv_escapes_formula_cells(site_settings: Settings) -> None:
    async with running(site_settings) as app:
        await beat(app, "/tin-tuc/b.html", view=True)
        async with app.client() as admin:
            rows = read_csv(await admin.get("/api/admin/pages?format=csv", headers=AUTH))
            now = read_csv(await admin.get("/api/admin/pages/now?format=csv", headers=AUTH))
    assert PAGES["/tin-tuc/b.html"] == "=HYPERLINK(1)"
    assert rows[1] == ["/tin-tuc/b.html", "'=HYPERLINK(1)", "1"]
    assert now[1] == ["/tin-tuc/b.html", "'=HYPERLINK(1)", "1"]


async def test_one_address_adds_a_bounded_number_of_visitors(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(static_dir=build_site(tmp_path), max_visitors_per_address=3)
    async with running(settings) as app:
        for _ in range(6):
            await beat(app, "/index.html", view=False, peer="203.0.113.5")
        await beat(app, "/index.html", view=False, peer="198.51.100.7")
        async with app.client() as admin:
            days = (await admin.get("/api/admin/traffic", headers=AUTH)).json()
        async with app.client() as reader:
            stats = await reader.get("/api/stats")
    assert days["points"][-1]["visitors"] == 4  # 3 from the first address, 1 from the other
    assert stats.status_code == 200
    assert stats.headers["cache-control"] == "public, max-age=5"
    assert "set-cookie" not in stats.headers and "x-portal-session" not in stats.headers
    assert stats.json() == {"online": 7, "today": 4, "month": 4, "total": 4}


async def test_history_queries_are_checked(site_settings: Settings) -> None:
    async with running(site_settings) as app, app.client() as admin:
        for path in [
            "/api/admin/traffic?step=week",
            "/api/admin/traffic?from=2026-13-01",
            "/api/admin/traffic?from=2026-12-02&to=2026-12-01",
            "/api/admin/traffic?from=2024-01-01&to=2026-01-01",
            "/api/admin/traffic?step=minute&from=2026-11-01&to=2026-11-20",
            "/api/admin/polls/rating/series?step=minute",
            "/api/admin/pages?format=xml",
        ]:
            answer = await admin.get(path, headers=AUTH)
            assert answer.status_code == 422, path
            assert answer.json()["error"]["code"] == "invalid_query"
        assert (await admin.get("/api/admin/traffic")).status_code == 401
        assert (await admin.get("/api/admin/polls/nope/series", headers=AUTH)).status_code == 404


async def test_a_burst_voided_corrects_tally_and_series(site_settings: Settings) -> None:
    async with running(site_settings) as app:
        await vote(app, "chua-tot", peer="198.51.100.7")
        for _ in range(4):
            await vote(app, "tot", peer="203.0.113.9")
        async with app.client() as admin:
            abuse = (await admin.get("/api/admin/polls/rating/abuse", headers=AUTH)).json()
            top = abuse["prefixes"][0]
            now = datetime.now(ZONE)
            window = {
                "prefix": top["prefix"],
                "from": (now - timedelta(minutes=5)).isoformat(),
                "to": (now + timedelta(minutes=1)).isoformat(),
            }
            voided = await admin.post("/api/admin/polls/rating/void", json=window, headers=AUTH)
            again = await admin.post("/api/admin/polls/rating/void", json=window, headers=AUTH)
            series = (await admin.get("/api/admin/polls/rating/series", headers=AUTH)).json()
            bad = await admin.post(
                "/api/admin/polls/rating/void", json={**window, "from": "yesterday"}, headers=AUTH
            )
            after = (await admin.get("/api/admin/polls/rating/abuse", headers=AUTH)).json()
        snapshot = await app.app.state.admin.snapshot()
    assert snapshot.votes_today == 1  # the live count of votes today is corrected too
    assert abuse["poll"] == "rating" and len(abuse["prefixes"]) == 2
    assert top["ballots"] == 4 and top["peak_per_minute"] == 4
    assert "203.0.113" not in json.dumps(abuse)  # hashes, never addresses
    assert datetime.fromisoformat(top["first"]) <= datetime.fromisoformat(top["last"])
    assert voided.status_code == 200, voided.text
    body = voided.json()
    assert body["voided"] == 4
    assert body["poll"]["total"] == 1
    assert {o["id"]: o["votes"] for o in body["poll"]["options"]}["tot"] == 0
    assert again.json()["voided"] == 0
    assert series["points"][-1]["votes"] == {"tot": 0, "chua-tot": 1, "khac": 0}
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_window"
    assert [p["ballots"] for p in after["prefixes"]] == [1]


async def test_odd_dates_are_422_not_500(site_settings: Settings) -> None:
    async with running(site_settings) as app, app.client() as admin:
        for query in [
            "step=minute&from=%C2%93%0B%C3%9B%C3%88%21L%3F",
            "step=minute&from=0001-01-01",
            "from=9999-12-31",
            "date=2026-02-30",
            "step=hour&to=1969-12-31",
        ]:
            answer = await admin.get(f"/api/admin/traffic?{query}", headers=AUTH)
            assert answer.status_code == 422, query
