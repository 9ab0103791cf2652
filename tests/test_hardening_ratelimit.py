"""Ballot stuffing: new votes are rate limited per client address (IPv4 /32, IPv6 /64), with the
address taken from X-Forwarded-For only behind a trusted proxy, and never stored raw. Guessing
the admin token: failed attempts are limited per address too."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import pytest
import redis

from server.ratelimit import address_group, hashed_group
from server.settings import Settings, SettingsError
from tests.conftest import ADMIN_TOKEN, app_client
from tests.hardening_helpers import VOTES, new_vote


async def test_new_votes_over_the_limit_get_429_with_retry_after(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(vote_rate_limit="3/minute")
    async with app_client(settings, "203.0.113.7") as client:
        statuses = [(await new_vote(client)).status_code for _ in range(3)]
        assert statuses == [201, 201, 201]
        refused = await new_vote(client)
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.headers["content-type"].startswith("application/json")
        poll = (await client.get("/api/polls/portal-rating")).json()
        assert poll["total"] == 3, "the refused vote was not counted"
        metrics = (await client.get("/metrics")).text
        assert 'portal_rate_limited_total{limit="vote"} 1.0' in metrics


async def test_limit_is_per_ipv4_address_and_per_ipv6_slash_64(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(vote_rate_limit="2/minute")
    for first, same_group, other_group in [
        ("198.51.100.1", "198.51.100.1", "198.51.100.2"),
        ("2001:db8:1:2::1", "2001:db8:1:2:ffff::9", "2001:db8:1:3::1"),
    ]:
        async with app_client(settings, first) as client:
            assert (await new_vote(client)).status_code == 201
            assert (await new_vote(client)).status_code == 201
        async with app_client(settings, same_group) as client:
            assert (await new_vote(client)).status_code == 429, same_group
        async with app_client(settings, other_group) as client:
            assert (await new_vote(client)).status_code == 201, other_group


async def test_spoofed_forwarded_for_is_ignored_without_a_trusted_proxy(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(vote_rate_limit="2/minute")
    async with app_client(settings, "192.0.2.10") as client:
        for n in range(2):
            assert (await new_vote(client, headers={"X-Forwarded-For": f"10.9.9.{n}"})).is_success
        spoofed = await new_vote(client, headers={"X-Forwarded-For": "10.9.9.99"})
        assert spoofed.status_code == 429


async def test_forwarded_for_from_a_trusted_proxy_names_the_client(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(
        vote_rate_limit="1/minute", trusted_proxies=(ipaddress.ip_network("10.0.0.0/8"),)
    )
    async with app_client(settings, "10.0.0.5") as client:
        # Rightmost untrusted hop: what the client wrote on the left is not believed.
        first = await new_vote(client, headers={"X-Forwarded-For": "1.1.1.1, 203.0.113.50"})
        assert first.status_code == 201
        again = await new_vote(client, headers={"X-Forwarded-For": "8.8.8.8, 203.0.113.50"})
        assert again.status_code == 429, "a fake leftmost hop must not buy a new window"
        other = await new_vote(client, headers={"X-Forwarded-For": "203.0.113.51, 10.0.0.7"})
        assert other.status_code == 201, "trusted hops on the right are skipped"


async def test_only_valid_votes_count(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(vote_rate_limit="1/minute")
    async with app_client(settings, "192.0.2.20") as client:
        for _ in range(5):
            bad = await client.post(VOTES, json={"option": "no-such-option"})
            assert bad.status_code == 422
            missing = await client.post("/api/polls/no-such-poll/votes", json={"option": "tot"})
            assert missing.status_code == 404
        assert (await new_vote(client)).status_code == 201
        assert (await new_vote(client)).status_code == 429


async def test_a_repeated_ballot_counts_against_the_limit(
    make_settings: Callable[..., Settings],
) -> None:
    """The documented choice: a 409 `already_voted` attempt takes a slot too (see ratelimit)."""
    settings = make_settings(vote_rate_limit="2/minute")
    async with app_client(settings, "192.0.2.30") as client:
        assert (await client.post(VOTES, json={"option": "tot"})).status_code == 201
        assert (await client.post(VOTES, json={"option": "tot"})).status_code == 409
        assert (await client.post(VOTES, json={"option": "tot"})).status_code == 429


async def test_form_votes_are_limited_too(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(vote_rate_limit="1/minute")
    async with app_client(settings, "192.0.2.40") as client:
        first = await client.post(VOTES, data={"option": "tot"})
        assert first.status_code == 303
        client.cookies.clear()
        second = await client.post(VOTES, data={"option": "tot"})
        assert second.status_code == 429
        assert second.json()["error"]["code"] == "rate_limited"


async def test_no_raw_address_is_stored(
    make_settings: Callable[..., Settings], redis_url: str, key_prefix: str
) -> None:
    settings = make_settings(vote_rate_limit="5/minute")
    async with app_client(settings, "203.0.113.99") as client:
        assert (await new_vote(client)).status_code == 201
    sync = redis.Redis.from_url(redis_url)
    try:
        keys = [k.decode() for k in sync.scan_iter(match=f"{key_prefix}*")]
        limiter_keys = [k for k in keys if "ratelimit" in k]
        assert limiter_keys, keys
        dump = " ".join(keys)
        for key in keys:
            kind = sync.type(key).decode()
            if kind == "list":
                dump += " ".join(v.decode() for v in sync.lrange(key, 0, -1))
            elif kind == "hash":
                dump += " ".join(f"{k!r}{v!r}" for k, v in sync.hgetall(key).items())
        assert "203.0.113.99" not in dump
        assert "203.0.113" not in dump
        assert hashed_group(ipaddress.ip_address("203.0.113.99"), settings.secret_keys[0]) in dump
    finally:
        sync.close()


def test_address_groups() -> None:
    v4 = ipaddress.ip_address("192.0.2.1")
    assert address_group(v4) == "192.0.2.1"
    v6 = ipaddress.ip_address("2001:db8:aa:bb:1:2:3:4")
    assert address_group(v6) == "2001:db8:aa:bb::/64"
    assert address_group(None) == "unknown"
    assert hashed_group(v4, "k" * 16) != hashed_group(v4, "j" * 16)
    assert len(hashed_group(v4, "k" * 16)) == 32
    assert hashed_group(v6, "k" * 16) == hashed_group(
        ipaddress.ip_address("2001:db8:aa:bb::9"), "k" * 16
    )


BASE = {"PORTAL_REDIS_URL": "redis://127.0.0.1:6379/0", "PORTAL_SECRET_KEY": "s" * 32}


def test_rate_limit_setting() -> None:
    assert Settings.from_env(BASE).vote_rate_limit == "30/minute"
    assert Settings.from_env({**BASE, "PORTAL_VOTE_RATE_LIMIT": "20/minute"}).vote_rate_limit == (
        "20/minute"
    )
    assert Settings.from_env({**BASE, "PORTAL_VOTE_RATE_LIMIT": "off"}).vote_rate_limit is None
    with pytest.raises(SettingsError, match="PORTAL_VOTE_RATE_LIMIT must look like"):
        Settings.from_env({**BASE, "PORTAL_VOTE_RATE_LIMIT": "lots"})


def test_trusted_proxies_setting() -> None:
    settings = Settings.from_env({**BASE, "PORTAL_TRUSTED_PROXIES": "10.0.0.0/8, ::1,172.16.0.1"})
    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.0/8", "::1/128", "172.16.0.1/32"]
    assert Settings.from_env(BASE).trusted_proxies == ()
    with pytest.raises(SettingsError, match="PORTAL_TRUSTED_PROXIES"):
        Settings.from_env({**BASE, "PORTAL_TRUSTED_PROXIES": "10.0.0.0/8,proxy.local"})


# Failed admin authentications


async def test_failed_admin_sign_ins_are_limited_per_address(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    right = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with app_client(settings, "203.0.113.7") as client:
        assert (await client.get("/api/admin/polls", headers=right)).status_code == 200
        for guess in range(10):
            wrong = {"Authorization": f"Bearer guess-{guess:04d}-xxxxxxxx"}
            answer = await client.get("/api/admin/polls", headers=wrong)
            assert answer.status_code == 401, guess
        assert (await client.get("/api/admin/polls")).status_code == 429
        for path in ("/api/admin/polls", "/api/admin/polls/portal-rating"):
            refused = await client.get(path, headers=right)
            assert refused.status_code == 429, "the right token too, until the window passes"
            assert refused.json()["error"]["code"] == "rate_limited"
            assert 1 <= int(refused.headers["retry-after"]) <= 60
        metrics = (await client.get("/metrics")).text
        assert 'portal_rate_limited_total{limit="admin"} 3.0' in metrics
    async with app_client(settings, "203.0.113.8") as other:
        assert (await other.get("/api/admin/polls", headers=right)).status_code == 200


async def test_console_sign_in_failures_count_against_the_same_limit(
    make_settings: Callable[..., Settings],
) -> None:
    right = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    same_site = {"Origin": "http://portal.test"}
    async with app_client(make_settings(), "203.0.113.9") as client:
        for guess in range(10):
            form = {"token": f"guess-{guess:04d}-xxxxxxxxxxx"}
            answer = await client.post("/admin/login", data=form, headers=same_site)
            assert answer.status_code == 401, guess
        signing_in = await client.post(
            "/admin/login", data={"token": ADMIN_TOKEN}, headers=same_site
        )
        assert signing_in.status_code == 429
        assert (await client.get("/api/admin/polls", headers=right)).status_code == 429
