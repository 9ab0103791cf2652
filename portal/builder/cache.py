"""The build cache: parsed articles by content hash, and what the last build wrote.

It lives beside the output directory (`<out>/../.portal-cache/`), never inside it, and is
only ever a speed-up: a missing, stale or unreadable cache means a full build.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .content import ParsedArticle

CACHE_VERSION = 3


@dataclass(slots=True)
class Manifest:
    """What one output directory holds, as the last build left it."""

    out_dir: str = ""
    fingerprint: str = ""  # hash of every input; equal means nothing to do
    next_publish: float | None = None  # the earliest future-dated article (epoch seconds)
    pages: dict[str, str] = field(default_factory=dict)  # output file -> key of its inputs
    files: list[str] = field(default_factory=list)  # every file the build produced
    articles: int = 0  # published articles in that build
    # content file -> (size, mtime_ns, inode, digest) as that build read it
    sources: dict[str, tuple[int, int, int, str]] = field(default_factory=dict)


def default_cache_dir(out_dir: Path) -> Path:
    """Where the cache goes when the caller names none."""
    return out_dir.resolve().parent / ".portal-cache"


def _load(path: Path) -> Any:
    try:
        with path.open("rb") as f:
            version, payload = pickle.load(f)
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError):
        return None
    except Exception:  # a cache from another version of the code: ignore it
        return None
    return payload if version == CACHE_VERSION else None


def _save(path: Path, payload: Any) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with tmp.open("wb") as f:
            pickle.dump((CACHE_VERSION, payload), f, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
    except OSError:
        pass  # a read-only place: builds still work, just without the speed-up


_FIELDS = [f.name for f in fields(ParsedArticle)]
_BODY = _FIELDS.index("body_html")


def load_articles(cache_dir: Path) -> tuple[dict[str, ParsedArticle], Callable[[], dict[str, str]]]:
    """Parsed articles by digest, without their bodies, and a function that loads the
    bodies (digest -> HTML): a build that renders few article pages never needs them."""
    data = _load(cache_dir / "articles.pickle")
    if not isinstance(data, dict):
        return {}, dict
    try:
        articles = {digest: ParsedArticle(*values) for digest, values in data.items()}
    except TypeError:  # saved by a different shape of ParsedArticle
        return {}, dict

    def bodies() -> dict[str, str]:
        found = _load(cache_dir / "bodies.pickle")
        return found if isinstance(found, dict) else {}

    return articles, bodies


def save_articles(
    cache_dir: Path, articles: dict[str, ParsedArticle], bodies: dict[str, str]
) -> None:
    """Keep exactly the articles of this build (old versions drop out)."""
    # Plain tuples pickle several times faster than dataclass instances.
    meta = {}
    for digest, a in articles.items():
        values = [getattr(a, f) for f in _FIELDS]
        values[_BODY] = None
        meta[digest] = tuple(values)
    _save(cache_dir / "bodies.pickle", bodies)
    _save(cache_dir / "articles.pickle", meta)


def _manifest_path(cache_dir: Path, out_dir: Path) -> Path:
    tag = hashlib.blake2b(str(out_dir.resolve()).encode(), digest_size=8).hexdigest()
    return cache_dir / f"manifest-{tag}.pickle"


def load_manifest(cache_dir: Path, out_dir: Path) -> Manifest:
    """The manifest for this output directory, or an empty one."""
    data = _load(_manifest_path(cache_dir, out_dir))
    if isinstance(data, Manifest) and data.out_dir == str(out_dir.resolve()):
        return data
    return Manifest(out_dir=str(out_dir.resolve()))


def save_manifest(cache_dir: Path, out_dir: Path, manifest: Manifest) -> None:
    """Record what this build wrote."""
    _save(_manifest_path(cache_dir, out_dir), manifest)
