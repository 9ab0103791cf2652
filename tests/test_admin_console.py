"""The console over HTTP (no browser): sign in and out, wrong token, cookie flags, origin
checks on the forms, 303s, the console off without a token, pages rendered with their data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from server.admin.auth import COOKIE_NAME
from server.settings import Settings
from tests.admin_helpers import AUTH, build_site, running
from tests.conftest import ADMIN_TOKEN

OWN = {"origin": "http://portal.test"}


@pytest.fixture
def site_settings(make_settings: Callable[..., Settings], tmp_path: Path) -> Settings:
    return make_settings(static_dir=build_site(tmp_path))


async def sign_in(
    client: httpx.AsyncClient, token: str = ADMIN_TOKEN, headers: dict[str, str] = OWN
) -> httpx.Response:
    return await client.post("/admin/login", data={"token": token}, headers=headers)


async def test_sign_in_sets_a_strict_cookie_and_sign_out_ends_it(site_settings: Settings) -> None:
    async with running(site_settings) as app, app.client() as client:
        answer = await sign_in(client)
        assert answer.status_code == 303 and answer.headers["location"] == "/admin/"
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE_NAME}=")
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "path=/", "samesite=strict", "max-age=43200"} <= flags
        assert "secure" not in flags  # plain http here; see the https test below
        page = await client.get("/admin/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "unsafe-inline" not in page.headers["content-security-policy"]
        assert "Đang online" in page.text
        # The cookie also opens the admin API.
        assert (await client.get("/api/admin/polls")).status_code == 200
        out = await client.post("/admin/logout", headers=OWN)
        assert out.status_code == 303 and out.headers["location"] == "/admin/login"
        assert 'portal_admin=""' in out.headers["set-cookie"]
        client.cookies.clear()
        assert (await client.get("/admin/")).status_code == 303


async def test_secure_cookie_over_https(site_settings: Settings) -> None:
    async with running(site_settings) as app:
        transport_client = app.client()
        transport_client.base_url = "https://portal.test"  # type: ignore[assignment]
        async with transport_client as client:
            answer = await client.post(
                "/admin/login",
                data={"token": ADMIN_TOKEN},
                headers={"origin": "https://portal.test"},
            )
        assert answer.status_code == 303
        assert "secure" in answer.headers["set-cookie"].lower()


async def test_wrong_token_and_foreign_origins_are_refused(site_settings: Settings) -> None:
    async with running(site_settings) as app:
        async with app.client() as client:
            answer = await sign_in(client, token="not-the-token-at-all")
            assert answer.status_code == 401
            assert 'role="alert"' in answer.text and 'name="token"' in answer.text
            assert "set-cookie" not in answer.headers
        for headers in [
            {"origin": "https://evil.example"},
            {"origin": "null"},
            {"referer": "https://evil.example/admin/login"},
            {},
        ]:
            async with app.client() as client:
                answer = await sign_in(client, headers=headers)
                assert answer.status_code == 403, headers
                assert "set-cookie" not in answer.headers
        # A form post from the site's own pages, with only a Referer, is fine.
        async with app.client() as client:
            answer = await sign_in(client, headers={"referer": "http://portal.test/admin/login"})
            assert answer.status_code == 303
            assert (
                await client.post("/admin/logout", headers={"origin": "https://x.example"})
            ).status_code == 403


async def test_embedding_origins_may_not_sign_in(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(
        static_dir=build_site(tmp_path), allowed_origins=("https://embed.example",)
    )
    async with running(settings) as app, app.client() as client:
        answer = await sign_in(client, headers={"origin": "https://embed.example"})
        assert answer.status_code == 403


async def test_pages_need_the_cookie(site_settings: Settings) -> None:
    async with running(site_settings) as app, app.client() as client:
        for path in ["/admin/", "/admin/traffic", "/admin/audit", "/admin/polls/rating"]:
            answer = await client.get(path)
            assert answer.status_code == 303, path
            assert answer.headers["location"] == "/admin/login"
        assert (await client.get("/admin/?lang=en")).headers["location"] == "/admin/login?lang=en"
        login = await client.get("/admin/login")
        assert login.status_code == 200 and 'type="password"' in login.text
        # A cookie signed with another token (the token changed) is no cookie.
        client.cookies.set(COOKIE_NAME, "admin.forged.signature")
        assert (await client.get("/admin/")).status_code == 303


async def test_changing_the_token_invalidates_cookies(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    site = build_site(tmp_path)
    async with running(make_settings(static_dir=site)) as app, app.client() as client:
        await sign_in(client)
        cookie = client.cookies[COOKIE_NAME]
    async with (
        running(make_settings(static_dir=site, admin_token="another-admin-token-0123")) as app,
        app.client(cookies={COOKIE_NAME: cookie}) as client,
    ):
        assert (await client.get("/admin/")).status_code == 303
        assert (await client.get("/api/admin/polls")).status_code == 401


async def test_console_off_without_a_token(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(static_dir=build_site(tmp_path), admin_token=None)
    async with running(settings) as app, app.client() as client:
        for method, path in [
            ("GET", "/admin/"),
            ("GET", "/admin/login"),
            ("POST", "/admin/login"),
        ]:
            answer = await client.request(method, path, headers=OWN, data={"token": "x"})
            assert answer.status_code == 404, path


async def test_pages_render_in_both_languages(site_settings: Settings) -> None:
    async with running(site_settings) as app:
        async with app.client() as visitor:
            await visitor.post("/api/polls/rating/votes", json={"option": "tot"})
            await visitor.post("/api/presence", json={"page": "/tin-tuc/a.html", "view": True})
        async with app.client() as client:
            await sign_in(client)
            poll = await client.get("/admin/polls/rating")
            assert poll.status_code == 200 and "<svg" in poll.text and "Tốt" in poll.text
            english = await client.get("/admin/polls/rating?lang=en")
            assert 'lang="en"' in english.text and "Votes per day" in english.text
            browser = await client.get(
                "/admin/traffic", headers={"accept-language": "en-GB,en;q=0.8"}
            )
            assert "Online per minute" in browser.text
            traffic = await client.get("/admin/traffic")
            assert "Tin A" in traffic.text and "<svg" in traffic.text
            audit = await client.get("/admin/audit")
            assert "Đăng nhập" in audit.text
            assert (await client.get("/admin/polls/nope")).status_code == 404
            assert (await client.get("/admin/static/admin.css")).status_code == 200


async def test_void_through_the_console_asks_first(site_settings: Settings) -> None:
    async with running(site_settings) as app:
        for _ in range(3):
            async with app.client(peer="203.0.113.20") as visitor:
                await visitor.post("/api/polls/rating/votes", json={"option": "khac"})
        async with app.client() as client:
            await sign_in(client)
            abuse = (await client.get("/api/admin/polls/rating/abuse")).json()["prefixes"][0]
            form = {"prefix": abuse["prefix"], "from": abuse["first"], "to": abuse["last"]}
            ask = await client.post("/admin/polls/rating/void", data=form, headers=OWN)
            assert ask.status_code == 200 and 'name="confirm"' in ask.text and "3" in ask.text
            assert (await client.get("/api/admin/polls/rating", headers=AUTH)).json()["total"] == 3
            done = await client.post(
                "/admin/polls/rating/void", data={**form, "confirm": "yes"}, headers=OWN
            )
            assert done.status_code == 303
            assert done.headers["location"] == "/admin/polls/rating?voided=3"
            assert (await client.get("/api/admin/polls/rating")).json()["total"] == 0
            foreign = await client.post(
                "/admin/polls/rating/void", data={**form, "confirm": "yes"},
                headers={"origin": "https://evil.example"},
            )  # fmt: skip
            assert foreign.status_code == 403
            audit = await client.get("/admin/audit")
            assert "Hủy phiếu" in audit.text and "voided=3" in audit.text
