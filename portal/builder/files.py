"""Finding and reading a site's input files: plain strings and scandir's own paths, since
every build, a no-change one included, goes over every content file."""

from __future__ import annotations

import os
from pathlib import Path

#: The agency's inputs besides articles (see agency.py): folder, and the suffix of its files.
PAGES_DIR = "pages"
DATA_DIR = "data"
AGENCY_FOLDERS = ((PAGES_DIR, ".md"), (DATA_DIR, ".yaml"))


def walk(root: Path, suffix: str = "") -> list[tuple[str, str]]:
    """Files under root as (POSIX relative path, path), sorted; hidden and editor
    backup files skipped, and directories whose name starts with "_" or "."; symbolic
    links to directories not followed (as os.walk). Plain strings and scandir's own
    paths: this runs over every content file on every build."""
    found: list[tuple[str, str]] = []
    if root.is_dir():
        _scan(str(root), "", suffix, found)
    found.sort()
    return found


def _scan(directory: str, prefix: str, suffix: str, found: list[tuple[str, str]]) -> None:
    with os.scandir(directory) as entries:
        for entry in entries:
            name = entry.name
            if entry.is_dir():
                if not name.startswith((".", "_")) and not entry.is_symlink():
                    _scan(entry.path, f"{prefix}{name}/", suffix, found)
            elif not (name.startswith(".") or name.endswith("~")) and name.endswith(suffix):
                found.append((prefix + name, entry.path))


def read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def agency_inputs(site_dir: Path) -> dict[str, str]:
    """The agency's input files (pages/**.md, data/*.yaml) by site-relative path, sorted."""
    found = {
        f"{folder}/{rel}": path
        for folder, suffix in AGENCY_FOLDERS
        for rel, path in walk(site_dir / folder, suffix)
    }
    return dict(sorted(found.items()))
