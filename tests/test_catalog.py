"""The service follows the build output's manifest: pages, polls and time zone, reloaded when
a build changes it (the hook `portal serve`'s rebuild loop and a deployment's builder use)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from server.catalog import SiteCatalog, canonical_page, write_manifest
from server.poll_config import PollConfigError
from server.settings import Settings
from tests.conftest import ADMIN_TOKEN

AUTH = {"authorization": f"Bearer {ADMIN_TOKEN}"}
OPTIONS = [{"id": "tot", "label": "Tốt"}, {"id": "chua-tot", "label": "Chưa tốt"}]


def manifest(polls: list[dict[str, Any]], pages: list[str] | None = None) -> dict[str, Any]:
    return {
        "format": 1,
        "timezone": "Asia/Ho_Chi_Minh",
        "pages": [{"path": p, "title": f"Trang {p}"} for p in pages or ["/index.html"]],
        "polls": polls,
        "next_change": None,
    }


def poll(poll_id: str = "p", **fields: Any) -> dict[str, Any]:
    return {"id": poll_id, "question": "Bạn thấy thế nào?", "options": OPTIONS, **fields}


@pytest.fixture
def built(tmp_path: Path) -> Path:
    out = tmp_path / "dist"
    write_manifest(out / "_portal" / "site.json", manifest([poll()], ["/", "/tin-tuc/a.html"]))
    return out


def test_canonical_page_names() -> None:
    assert canonical_page("/") == "/index.html"
    assert canonical_page("/the/x/") == "/the/x/index.html"
    assert canonical_page("/a.html") == "/a.html"


def test_reads_and_follows_the_manifest(built: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = built / "_portal" / "site.json"
    catalog = SiteCatalog(path, None)
    assert catalog.pages == {"/index.html": "Trang /", "/tin-tuc/a.html": "Trang /tin-tuc/a.html"}
    assert list(catalog.polls) == ["p"] and catalog.polls["p"].open
    assert catalog.refresh() is False  # unchanged: nothing re-read
    write_manifest(path, manifest([poll(open=False), poll("q")]))
    assert catalog.refresh() is True
    assert not catalog.polls["p"].open and catalog.polls["q"].open
    assert catalog.pages == {"/index.html": "Trang /index.html"}
    # A broken manifest keeps the last good one, with a warning.
    path.write_text('{"format": 1, "pages": [')
    with caplog.at_level(logging.WARNING):
        assert catalog.refresh() is False
    assert "keeping the last one" in caplog.text
    assert set(catalog.polls) == {"p", "q"}


def test_without_a_build_polls_come_from_site_toml(tmp_path: Path) -> None:
    catalog = SiteCatalog(tmp_path / "missing" / "site.json", Path("site/site.toml"))
    assert catalog.pages is None
    assert "portal-rating" in catalog.polls
    assert catalog.timezone.key == "Asia/Ho_Chi_Minh"


def test_schedule_follows_the_clock(built: Path) -> None:
    path = built / "_portal" / "site.json"
    write_manifest(
        path,
        manifest(
            [
                poll("past", closes="2020-01-01T00:00:00+07:00"),
                poll("future", opens="2999-01-01T00:00:00+07:00"),
                poll("now", opens="2020-01-01T00:00:00+07:00", closes="2999-01-01T00:00:00Z"),
            ]
        ),
    )
    polls = SiteCatalog(path, None).polls
    assert not polls["past"].open and not polls["past"].not_yet_open
    assert not polls["future"].open and polls["future"].not_yet_open
    assert polls["now"].open


async def test_closing_adding_and_retiring_polls_under_a_running_service(
    built: Path, make_settings: Callable[..., Settings], client_for: Callable[..., Any]
) -> None:
    path = built / "_portal" / "site.json"
    settings = make_settings(build_dir=built)
    async with client_for(settings) as client:
        app = client._transport.app  # type: ignore[attr-defined]
        catalog = app.state.services.catalog
        assert (
            await client.post("/api/polls/p/votes", json={"option": "chua-tot"})
        ).status_code == 201
        assert (await client.get("/api/polls/q")).status_code == 404
        # The build closes p, adds q and drops p's option "chua-tot".
        write_manifest(
            path,
            manifest(
                [poll(open=False, options=[*OPTIONS[:1], {"id": "kha", "label": "Khá"}]), poll("q")]
            ),
        )
        assert catalog.refresh()
        refused = await client.post("/api/polls/p/votes", json={"option": "tot"})
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "poll_closed"
        assert (await client.post("/api/polls/q/votes", json={"option": "tot"})).status_code == 201
        public = (await client.get("/api/polls/p")).json()
        assert [o["id"] for o in public["options"]] == ["tot", "kha"]
        assert public["total"] == 1  # the retired option's ballot still counts
        tally = (await client.get("/api/admin/polls/p", headers=AUTH)).json()
        retired = [o for o in tally["options"] if o.get("retired")]
        assert retired == [
            {"id": "chua-tot", "label": "chua-tot", "votes": 1, "retired": True, "percent": 100.0}
        ]
        assert sum(o["percent"] for o in tally["options"]) == 100.0
        json.dumps(tally)  # serialisable as is


def test_a_bad_site_toml_does_not_stop_a_service_that_follows_a_build(tmp_path: Path) -> None:
    """`portal serve` with a broken poll in site.toml: the build fails and says so; the
    service still starts, with the polls of the last good build (here: none yet)."""
    site_toml = tmp_path / "site.toml"
    site_toml.write_text('[[polls]]\nid = "Sai ID!"\nquestion = "?"\n', encoding="utf-8")
    with pytest.raises(PollConfigError):
        SiteCatalog(None, site_toml)  # no build to follow: the settings are all there is
    catalog = SiteCatalog(tmp_path / "dist" / "_portal" / "site.json", site_toml)
    assert catalog.polls == {}
