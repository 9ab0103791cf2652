"""docker-compose.yml and the Dockerfile, checked for what matters without a Docker engine:
durable Redis, a healthy non-root service, nginx as the one origin, no committed secret."""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


def stages(dockerfile: str) -> dict[str, list[str]]:
    """Instructions per build stage, continuation lines joined."""
    text = re.sub(r"\\\n", " ", dockerfile)
    result: dict[str, list[str]] = {}
    current: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r"FROM\s+\S+\s+AS\s+(\S+)", line, re.IGNORECASE)
        if match:
            current = result.setdefault(match.group(1), [])
        current.append(line)
    return result


def as_list(command: Any) -> list[str]:
    return command.split() if isinstance(command, str) else [str(part) for part in command]


def test_redis_is_the_official_image_with_fsynced_aof_on_a_named_volume(
    compose: dict[str, Any],
) -> None:
    redis = compose["services"]["redis"]
    assert redis["image"].split(":")[0] == "redis" and redis["image"].split(":")[1].startswith("7")
    command = as_list(redis["command"])
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--appendfsync") + 1] == "always"
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
    (volume,) = redis["volumes"]
    name, _, target = volume.partition(":")
    assert target == "/data"  # where the official image keeps appendonly.aof and dump.rdb
    assert name in compose["volumes"], "a named volume, not a bind mount or an anonymous one"
    assert "ports" not in redis


def test_service_has_a_readiness_healthcheck_and_no_public_port(compose: dict[str, Any]) -> None:
    service = compose["services"]["service"]
    assert "/readyz" in " ".join(as_list(service["healthcheck"]["test"]))
    assert service["depends_on"]["redis"]["condition"] == "service_healthy"
    assert service["build"]["target"] == "service"
    assert service["environment"]["PORTAL_REDIS_URL"] == "redis://redis:6379/0"
    assert "ports" not in service


def test_secret_key_is_required_and_not_committed(compose: dict[str, Any]) -> None:
    secret = compose["services"]["service"]["environment"]["PORTAL_SECRET_KEY"]
    assert re.fullmatch(r"\$\{PORTAL_SECRET_KEY:\?[^}]+\}", secret), secret
    example = (REPO / "deploy" / "env.example").read_text(encoding="utf-8")
    assert re.search(r"^PORTAL_SECRET_KEY=$", example, re.MULTILINE)
    assert ".env" in (REPO / ".dockerignore").read_text().split()


def test_every_service_keeps_a_bounded_log(compose: dict[str, Any]) -> None:
    """Docker's json-file logs grow until the disk is full unless size and number are capped."""
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    for name, spec in compose["services"].items():
        logging = spec.get("logging")
        assert logging and logging["driver"] == "json-file", name
        size = str(logging["options"]["max-size"])
        files = int(logging["options"]["max-file"])
        limit = int(size[:-1]) * units[size[-1].lower()] * files
        assert 0 < limit <= 200 * 1024**2, f"{name} may keep {limit} bytes of log"
    access = compose["services"]["service"]["environment"]["PORTAL_ACCESS_LOG"]
    assert access.endswith(":-summary}"), "the summarised access log by default"


def test_nginx_is_the_one_origin(compose: dict[str, Any]) -> None:
    services = compose["services"]
    published = [name for name, spec in services.items() if spec.get("ports")]
    assert published == ["web"]
    web = services["web"]
    assert web["build"]["target"] == "web"
    assert web["environment"]["PORTAL_UPSTREAM"] == "service:8000"
    (port,) = web["ports"]
    assert str(port).endswith(":80") and web["environment"]["NGINX_LISTEN"] == "80"
    # nginx and the service share a network; Redis is not on it.
    assert set(web["networks"]) & set(services["service"]["networks"])
    assert not set(web["networks"]) & set(services["redis"]["networks"])


def test_service_trusts_exactly_the_network_nginx_is_on(compose: dict[str, Any]) -> None:
    trusted = compose["services"]["service"]["environment"]["PORTAL_TRUSTED_PROXIES"]
    (edge,) = compose["services"]["web"]["networks"]
    (subnet,) = (entry["subnet"] for entry in compose["networks"][edge]["ipam"]["config"])
    assert ipaddress.ip_network(trusted) == ipaddress.ip_network(subnet)
    assert compose["networks"]["backend"]["internal"] is True


def with_base(all_stages: dict[str, list[str]], name: str) -> list[str]:
    """A stage's instructions after those of the stage it is built `FROM`, if one is."""
    lines = all_stages[name]
    base = lines[0].split()[1]
    return [*with_base(all_stages, base), *lines[1:]] if base in all_stages else lines


def test_dockerfile_service_runs_uvicorn_as_a_non_root_user() -> None:
    service = with_base(stages(DOCKERFILE.read_text(encoding="utf-8")), "service")
    assert service[0].split()[1] in ("${PYTHON_IMAGE}", "python:3.11-slim")
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in DOCKERFILE.read_text()
    users = [line.split()[1] for line in service if line.upper().startswith("USER ")]
    assert users and users[-1] not in ("root", "0", "0:0")
    assert any(line.startswith("RUN useradd") and users[-1] in line for line in service)
    (cmd,) = [line for line in service if line.startswith("CMD")]
    # The one serving configuration of `portal serve` (server.serving), on all interfaces.
    assert "exec python -m server.serving --host 0.0.0.0 --port 8000" in cmd
    (healthcheck,) = [line for line in service if line.startswith("HEALTHCHECK")]
    assert "127.0.0.1:8000/readyz" in healthcheck


def test_dockerfile_web_serves_the_site_volume_with_the_repo_config() -> None:
    all_stages = stages(DOCKERFILE.read_text(encoding="utf-8"))
    web = all_stages["web"]
    assert "COPY deploy/nginx.conf /etc/nginx/templates/portal.conf.template" in web
    # No image holds the built site: a publication or a poll change needs no image rebuild.
    assert not any("/dist" in line for line in web if line.startswith("COPY"))
    assert not any("portal build" in line for stage in all_stages.values() for line in stage)
    # What the template needs, set where compose does not override it.
    template = (REPO / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    needed = set(re.findall(r"\$\{([A-Z_]+)\}", re.sub(r"#.*", "", template)))
    env_line = " ".join(line for line in web if line.startswith("ENV"))
    assert needed and all(f"{name}=" in env_line for name in needed)
    assert "PORTAL_STATIC_ROOT=/srv/portal/dist" in env_line


def mounts(spec: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """target -> (source, mode) of a service's short-syntax volumes."""
    found = {}
    for entry in spec.get("volumes", []):
        source, target, *mode = str(entry).split(":")
        found[target] = (source, mode[0] if mode else "rw")
    return found


def test_a_builder_service_keeps_the_site_volume_up_to_date(compose: dict[str, Any]) -> None:
    services = compose["services"]
    builder = services["builder"]
    command = as_list(builder["command"])
    assert command[:2] == ["portal", "build"] and "--watch" in command  # never exits
    site, out = command[2], command[command.index("-o") + 1]
    assert builder["build"]["target"] == "builder"
    # The site comes from the checkout, read-only: an edit of ./site is seen without a rebuild.
    builder_mounts = mounts(builder)
    assert builder_mounts[site] == ("./site", "ro")
    (volume_target,) = (t for t, (src, _) in builder_mounts.items() if src in compose["volumes"])
    volume, mode = builder_mounts[volume_target]
    assert volume == "site-build" and mode == "rw"
    assert Path(out).parent == Path(volume_target)
    assert any("/srv/portal/dist/index.html" in part for part in builder["healthcheck"]["test"])
    assert "ports" not in builder and builder.get("network_mode") == "none"
    assert builder["restart"] == "unless-stopped"


def test_web_and_service_read_the_same_volume_read_only(compose: dict[str, Any]) -> None:
    services = compose["services"]
    builder_out = as_list(services["builder"]["command"])
    out = builder_out[builder_out.index("-o") + 1]
    volume_target = str(Path(out).parent)
    for name in ("web", "service"):
        # Mounted at the same path as in the builder: dist is a relative symlink inside it.
        assert mounts(services[name])[volume_target] == ("site-build", "ro"), name
    assert services["web"]["environment"]["PORTAL_STATIC_ROOT"] == out
    assert services["service"]["environment"]["PORTAL_BUILD_DIR"] == out
    assert services["web"]["depends_on"]["builder"]["condition"] == "service_healthy"


def test_dockerfile_builder_image_builds_as_the_service_user_with_the_same_wheel() -> None:
    all_stages = stages(DOCKERFILE.read_text(encoding="utf-8"))
    builder, service = with_base(all_stages, "builder"), with_base(all_stages, "service")
    # The same wheel in both: the pages name the widget versions the service serves.
    for stage in (builder, service):
        assert "COPY --from=build /wheels /wheels" in stage
    assert any("--require-hashes -r /tmp/portal.lock" in line for line in builder)
    users = [line.split()[1] for line in builder if line.startswith("USER ")]
    assert users == ["portal"]
    (cmd,) = [line for line in builder if line.startswith("CMD")]
    assert "--watch" in cmd and "/srv/portal/dist" in cmd
    # A fresh named volume takes the owner of the image's directory it is mounted on; either
    # Python image may create it, and the builder, as `portal`, must be able to write there.
    for stage in (builder, service):
        (useradd,) = [line for line in stage if line.startswith("RUN useradd")]
        assert "--uid 10001" in useradd and "chown portal:portal /srv/portal" in useradd
    assert list(all_stages)[-1] == "service"  # still the default target


def test_dockerignore_keeps_what_the_build_copies() -> None:
    ignored = {
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    copied = set()
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            copied.update(part.split("/")[0] for part in line.split()[1:-1])
    assert copied >= {"pyproject.toml", "README.md", "server", "portal", "widgets", "site"}
    assert not copied & ignored


def compose_command() -> list[str] | None:
    """`docker compose` (v2) if installed, else Debian's `docker-compose` (v1), else None."""
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    """`docker compose config` checks the file against the compose schema; it needs no engine."""
    command = compose_command()
    if command is None:
        pytest.skip("neither `docker compose` nor docker-compose is installed (apt docker-compose)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "COMPOSE_"))}
    good = tmp_path / "good.env"
    good.write_text("PORTAL_SECRET_KEY=test-secret-key-0123456789\n")
    empty = tmp_path / "empty.env"
    empty.write_text((REPO / "deploy" / "env.example").read_text())

    def config(env_file: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*command, "-f", str(COMPOSE), "--env-file", str(env_file), "config", "-q"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            cwd=tmp_path,
        )

    result = config(good)
    assert result.returncode == 0, result.stderr
    missing = config(empty)  # deploy/env.example as committed: no secret in it
    assert missing.returncode != 0 and "PORTAL_SECRET_KEY" in missing.stderr
