"""Settings: every `PORTAL_*` environment variable, read once, typed and checked."""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from server.assets import widgets_dir

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_VOTE_RATE_LIMIT = "30/minute"
"""New votes per client address (IPv4 /32, IPv6 /64). Each session votes once, so one
address votes more only when several people share it (an office, a school, a mobile carrier's
NAT): 30 a minute lets a whole office vote within minutes, while a script stuffing ballots gets
30 instead of thousands. `PORTAL_VOTE_RATE_LIMIT=off` turns it off."""

DEFAULT_NEW_VISITOR_LIMIT = "60/minute"
"""New sessions handed out per client address: every cookie-less call would otherwise be a new
visitor, and one script could push the public counts up at will."""

MIN_ADMIN_TOKEN_LENGTH = 16


ENVIRONMENT = (
    (
        "PORTAL_REDIS_URL",
        "embedded Redis",
        "redis://, rediss:// or unix:// URL (a Cluster node too)",
    ),
    ("PORTAL_DATA_DIR", ".portal/", "where the embedded Redis keeps its files"),
    ("PORTAL_SECRET_KEY", "generated", "signs sessions; comma-separated keys rotate"),
    ("PORTAL_ADMIN_TOKEN", "unset: admin off", "admin API and console token, 16+ characters"),
    ("PORTAL_PRESENCE_TTL", "60", "seconds a visitor stays online after a heartbeat"),
    ("PORTAL_ALLOWED_ORIGINS", "none", "origins that may embed the widgets"),
    ("PORTAL_TRUSTED_PROXIES", "none", "proxies whose X-Forwarded-* headers are believed"),
    ("PORTAL_VOTE_RATE_LIMIT", DEFAULT_VOTE_RATE_LIMIT, "votes per client address, or off"),
    ("PORTAL_NEW_VISITOR_LIMIT", "60/minute", "new sessions per client address, or off"),
    ("PORTAL_MAX_ONLINE_PER_ADDRESS", "50", "sessions of one address counted online"),
    ("PORTAL_MAX_VISITORS_PER_ADDRESS", "500", "visitors one address adds to a day"),
    ("PORTAL_MAX_PAGES", "10000", "page scopes counted without a page list"),
    ("PORTAL_ACCESS_LOG", "on", "access log lines on stderr"),
    ("PORTAL_LOG_FORMAT", "json, text on a terminal", "json or text"),
    ("PORTAL_REDIS_PREFIX", "portal:", "prefix of every Redis key"),
    ("PORTAL_HTTP_*", "see docs/operations.md", "limits of the HTTP server"),
)
"""The variables `portal serve --help` lists: name, default, meaning."""


class SettingsError(ValueError):
    """A setting has a value the service cannot use; the message says which and why."""


@dataclass(frozen=True)
class Settings:
    """What the service needs to run. Build it with `Settings.from_env()` or directly in tests."""

    redis_url: str
    secret_keys: tuple[str, ...]
    """Newest first: new sessions are signed with the first, older keys still verify."""
    admin_token: str | None = None
    presence_ttl: int = 60
    allowed_origins: tuple[str, ...] = ()
    redis_prefix: str = "portal:"
    site_dir: Path = Path("site")
    static_dir: Path | None = None
    """The built site served at `/`; None serves only the API and widgets."""
    widgets_dir: Path = field(default_factory=widgets_dir)
    session_max_age: int = 400 * 24 * 3600
    max_body_bytes: int = 4096
    redis_connect_timeout: float = 1.0
    redis_socket_timeout: float = 1.0
    redis_max_connections: int = 64
    redis_pool_timeout: float = 1.0
    vote_rate_limit: str | None = None
    """A `limits` rate string ("20/minute") for new votes per client address; None = no limit."""
    trusted_proxies: tuple[IPNetwork, ...] = ()
    """Peers whose X-Forwarded-For / X-Forwarded-Proto are believed."""
    access_log: bool = False
    """One JSON line per request on stderr (on by default from the environment)."""
    new_visitor_limit: str | None = None
    """A `limits` rate string for new sessions handed out per client address; None = no limit."""
    max_online_per_address: int = 50
    """Sessions of one client address counted online at once."""
    max_visitors_per_address: int = 500
    """Visitors one client address adds to a day's statistics."""
    max_pages: int = 10_000
    """Page scopes counted at once when the service has no list of the site's pages."""
    log_format: str = "json"
    """`json` (one object per line) or `text` (for a person at a terminal)."""
    build_dir: Path | None = None
    """The built site whose `_portal/site.json` (pages, polls, time zone) the service follows;
    None: `static_dir` if set, else no page list and the polls of `site_dir/site.toml`."""

    @property
    def site_manifest(self) -> Path | None:
        """The build output's manifest the service follows, if there is a built site."""
        root = self.build_dir or self.static_dir
        return None if root is None else root / "_portal" / "site.json"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the `PORTAL_*` variables; raise SettingsError with a clear message on bad ones."""
        env = os.environ if environ is None else environ
        redis_url = env.get("PORTAL_REDIS_URL", "").strip()
        if not redis_url:
            raise SettingsError(
                "PORTAL_REDIS_URL is not set (`portal serve` starts an embedded Redis and sets it)"
            )
        if not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise SettingsError(
                "PORTAL_REDIS_URL must start with redis://, rediss:// or unix://, "
                f"got {redis_url!r}"
            )
        keys = tuple(k.strip() for k in env.get("PORTAL_SECRET_KEY", "").split(",") if k.strip())
        if not keys:
            raise SettingsError(
                "PORTAL_SECRET_KEY is required with an external Redis (it signs visitor sessions; "
                "every instance needs the same one). Make one with: "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        for key in keys:
            if len(key) < 16:
                raise SettingsError("PORTAL_SECRET_KEY keys must be at least 16 characters long")
        static = env.get("PORTAL_STATIC_DIR", "").strip()
        build = env.get("PORTAL_BUILD_DIR", "").strip()
        admin_token = env.get("PORTAL_ADMIN_TOKEN", "").strip() or None
        if admin_token is not None and len(admin_token) < MIN_ADMIN_TOKEN_LENGTH:
            raise SettingsError(
                f"PORTAL_ADMIN_TOKEN must be at least {MIN_ADMIN_TOKEN_LENGTH} characters long "
                f"(got {len(admin_token)}); make one with: "
                "python -c 'import secrets; print(secrets.token_urlsafe(24))'"
            )
        return cls(
            redis_url=redis_url,
            secret_keys=keys,
            admin_token=admin_token,
            presence_ttl=_whole_seconds(env, "PORTAL_PRESENCE_TTL", 60, low=2, high=86400),
            allowed_origins=_origins(env.get("PORTAL_ALLOWED_ORIGINS", "")),
            redis_prefix=env.get("PORTAL_REDIS_PREFIX", "portal:"),
            site_dir=Path(env.get("PORTAL_SITE_DIR", "site")),
            static_dir=Path(static) if static else None,
            vote_rate_limit=_rate_limit(
                env, "PORTAL_VOTE_RATE_LIMIT", DEFAULT_VOTE_RATE_LIMIT, "vote"
            ),
            new_visitor_limit=_rate_limit(
                env, "PORTAL_NEW_VISITOR_LIMIT", DEFAULT_NEW_VISITOR_LIMIT, "new session"
            ),
            max_online_per_address=_whole(env, "PORTAL_MAX_ONLINE_PER_ADDRESS", 50, 1, 100_000),
            max_visitors_per_address=_whole(
                env, "PORTAL_MAX_VISITORS_PER_ADDRESS", 500, 1, 10_000_000
            ),
            max_pages=_whole(env, "PORTAL_MAX_PAGES", 10_000, 1, 10_000_000),
            log_format=log_format_from_env(env),
            build_dir=Path(build) if build else None,
            trusted_proxies=_networks(env.get("PORTAL_TRUSTED_PROXIES", "")),
            access_log=_switch(env, "PORTAL_ACCESS_LOG", default=True),
        )


def _switch(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "on", "true", "yes"):
        return True
    if raw in ("0", "off", "false", "no"):
        return False
    raise SettingsError(f"{name} must be on or off, got {raw!r}")


def _whole(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


def log_format_from_env(env: Mapping[str, str]) -> str:
    """PORTAL_LOG_FORMAT, else `text` on a terminal and `json` anywhere else."""
    import sys

    raw = env.get("PORTAL_LOG_FORMAT", "").strip().lower()
    if not raw:
        return "text" if sys.stderr.isatty() else "json"
    if raw not in ("json", "text"):
        raise SettingsError(f"PORTAL_LOG_FORMAT must be json or text, got {raw!r}")
    return raw


def _whole_seconds(env: Mapping[str, str], name: str, default: int, *, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number of seconds, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high} seconds, got {value}")
    return value


def _origins(raw: str) -> tuple[str, ...]:
    origins = []
    for item in raw.split(","):
        origin = item.strip().rstrip("/")
        if not origin:
            continue
        if origin == "*":
            raise SettingsError(
                "PORTAL_ALLOWED_ORIGINS cannot be '*': sessions travel with credentials, "
                "so list each origin (https://example.org)"
            )
        scheme, sep, rest = origin.partition("://")
        if scheme not in ("http", "https") or not sep or not rest or "/" in rest:
            raise SettingsError(
                f"PORTAL_ALLOWED_ORIGINS entries must look like https://host[:port], got {item!r}"
            )
        origins.append(origin.lower())
    return tuple(origins)


def _rate_limit(env: Mapping[str, str], name: str, default: str, what: str) -> str | None:
    from limits import parse

    raw = env.get(name, "").strip()
    value = raw or default
    if value.lower() in ("off", "none", "0"):
        return None
    try:
        item = parse(value)
    except ValueError:
        raise SettingsError(
            f"{name} must look like '20/minute' (or 'off'), got {value!r}"
        ) from None
    if item.amount < 1:
        raise SettingsError(f"{name} must allow at least one {what}, got {value!r}")
    return value


def _networks(raw: str) -> tuple[IPNetwork, ...]:
    networks = []
    for item in raw.split(","):
        text = item.strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise SettingsError(
                "PORTAL_TRUSTED_PROXIES must be comma-separated IP addresses or CIDR networks "
                f"(10.0.0.0/8, ::1), got {text!r}"
            ) from None
    return tuple(networks)


def load_or_create_secret(data_dir: Path) -> str:
    """The secret key kept in the data dir for laptop use, generated on first run."""
    path = data_dir / "secret_key"
    if path.exists():
        key = path.read_text().strip()
        if key:
            return key
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key
