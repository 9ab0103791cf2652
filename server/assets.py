"""Where the widget files live, and the version string that busts their caches."""

from __future__ import annotations

import hashlib
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def widgets_dir() -> Path:
    """The `widgets/` directory: packaged inside a wheel, or at the repository root."""
    packaged = _PACKAGE_DIR / "_widgets"
    if packaged.is_dir():
        return packaged
    return _PACKAGE_DIR.parent / "widgets"


def asset_version(directory: Path) -> str:
    """A short hash of every served file's bytes (the `?v=` of versioned widget URLs)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(path.relative_to(directory).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]
