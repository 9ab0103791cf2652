"""The history, the admin API and the console on a real Redis Cluster: every script's keys in
one slot, the reads that span slots (pipelines) answered across nodes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from redis.cluster import key_slot

from server.settings import Settings
from tests.admin_helpers import AUTH, build_site, running
from tests.test_cluster import cluster_url  # noqa: F401  (the module's own cluster)


def test_history_keys_share_their_slots(key_prefix: str) -> None:
    poll = f"{key_prefix}{{poll:rating}}"
    names = [":ballots", ":tally", ":series", ":prefixes", ":cast:0123456789abcdef"]
    assert len({key_slot(f"{poll}{name}".encode()) for name in names}) == 1
    traffic = f"{key_prefix}{{traffic}}:"
    names = ["days", "h:1", "m:1", "s:1", "a:1", "u:202612", "now", "pv:1:3", "since"]
    assert len({key_slot(f"{traffic}{name}".encode()) for name in names}) == 1


async def test_admin_api_on_the_cluster(
    cluster_url: str,  # noqa: F811
    make_settings: Callable[..., Settings],
    tmp_path: Path,
) -> None:
    settings = make_settings(redis_url=cluster_url, static_dir=build_site(tmp_path))
    async with running(settings) as app:
        for peer, option in [
            ("203.0.113.1", "tot"),
            ("203.0.113.1", "tot"),
            ("198.51.100.2", "khac"),
        ]:
            async with app.client(peer) as visitor:
                assert (
                    await visitor.post("/api/polls/rating/votes", json={"option": option})
                ).status_code == 201
                await visitor.post("/api/presence", json={"page": "/tin-tuc/a.html", "view": True})
        async with app.client() as admin:
            series = (await admin.get("/api/admin/polls/rating/series", headers=AUTH)).json()
            assert series["points"][-1]["votes"] == {"tot": 2, "chua-tot": 0, "khac": 1}
            traffic = (await admin.get("/api/admin/traffic", headers=AUTH)).json()
            assert traffic["points"][-1]["visitors"] == 3 and traffic["points"][-1]["views"] == 3
            minutes = (await admin.get("/api/admin/traffic?step=minute", headers=AUTH)).json()
            assert minutes["points"][-1]["online_max"] == 3
            pages = (await admin.get("/api/admin/pages", headers=AUTH)).json()["pages"]
            assert pages == [{"page": "/tin-tuc/a.html", "title": "Tin A", "views": 3}]
            now = (await admin.get("/api/admin/pages/now", headers=AUTH)).json()
            assert now["pages"] == [{"page": "/tin-tuc/a.html", "title": "Tin A", "online": 3}]
            stats = (await admin.get("/api/stats")).json()
            assert stats == {"online": 3, "today": 3, "month": 3, "total": 3}
            abuse = (await admin.get("/api/admin/polls/rating/abuse", headers=AUTH)).json()
            top = abuse["prefixes"][0]
            assert top["ballots"] == 2
            moment = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh"))
            window = {
                "prefix": top["prefix"],
                "from": (moment - timedelta(minutes=1)).isoformat(),
                "to": (moment + timedelta(minutes=1)).isoformat(),
            }
            voided = await admin.post("/api/admin/polls/rating/void", json=window, headers=AUTH)
            assert voided.json()["voided"] == 2 and voided.json()["poll"]["total"] == 1
            login = await admin.post(
                "/admin/login", data={"token": AUTH["authorization"][7:]},
                headers={"origin": "http://portal.test"},
            )  # fmt: skip
            assert login.status_code == 303
            for path in ["/admin/", "/admin/polls/rating", "/admin/traffic", "/admin/audit"]:
                assert (await admin.get(path)).status_code == 200, path
