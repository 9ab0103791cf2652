"""The build cache: parsed articles by content hash, and what the last build wrote.

MessagePack files (plain data: reading a cache never runs code, unlike pickle) beside the
output directory (`<out>/../.portal-cache/`, or where the caller says), never inside it.
Only ever a speed-up: a missing, unreadable or other-version cache means a full build.
MessagePack rather than JSON: the article cache is read by every warm build, and decodes
several times faster.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import msgpack

if TYPE_CHECKING:
    from .content import ParsedArticle

CACHE_VERSION = 6
T = TypeVar("T")


@dataclass(slots=True)
class Manifest:
    """What one output directory holds, as the last build left it."""

    out_dir: str = ""
    fingerprint: str = ""  # hash of every input; equal means nothing to do
    next_publish: float | None = None  # the earliest scheduled change (epoch seconds)
    pages: dict[str, str] = field(default_factory=dict)  # output file -> key of its inputs
    files: list[str] = field(default_factory=list)  # every file the build produced
    articles: int = 0  # published articles in that build
    generation: str = ""  # the generation directory it built (see output.py)
    base: str = ""  # the generation it started from
    changed: list[str] = field(default_factory=list)  # files it wrote or removed
    # mtime_ns of each output directory once it was done (a removed file changes it)
    directories: dict[str, int] = field(default_factory=dict)
    # content file -> (size, mtime_ns, inode, digest) as that build read it
    sources: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    resolution: str = ""  # the key of its resolved site (build.Resolution)
    global_key: str = ""  # what every page's key started from


_MANIFEST_FIELDS = [f.name for f in fields(Manifest)]


def default_cache_dir(out_dir: Path) -> Path:
    """Where the cache goes when the caller names none."""
    return out_dir.absolute().parent / ".portal-cache"


def out_key(out_dir: Path) -> str:
    """The output directory as the cache knows it: absolute, but its own symlink (to the
    current generation) not followed."""
    out = out_dir.absolute()
    return str(out.parent.resolve() / out.name)


# A process that builds again and again (`portal serve`, `portal build --watch`) reads the
# same cache files on every rebuild. What a file decoded to is kept while the file is the
# same: saves write a new file and rename it, so an unchanged (inode, mtime, size) is an
# unchanged file. What is kept is never changed by a build.
_decoded: dict[str, tuple[tuple[int, int, int], Any]] = {}


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """What tells one version of a file from another (None: no file)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _load_kept(path: Path, convert: Callable[[Any], T]) -> T | None:
    """`convert` of the payload in `path`, decoded once per version of the file (None
    when the file is missing, unreadable or of another version)."""
    stamp = _stamp(path)
    if stamp is None:
        return None
    kept = _decoded.get(str(path))
    if kept is not None and kept[0] == stamp:
        return cast(T, kept[1])
    value = convert(_load(path))
    _decoded[str(path)] = (stamp, value)
    return value


def _keep(path: Path, value: Any) -> None:
    """What `path`, just written, holds, as `_load_kept` would return it."""
    stamp = _stamp(path)
    if stamp is not None:
        _decoded[str(path)] = (stamp, value)


def _load(path: Path) -> Any:
    try:
        with path.open("rb") as f:
            data = msgpack.unpackb(f.read(), use_list=False, strict_map_key=False)
    except (OSError, ValueError, msgpack.UnpackException):
        return None
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
        return None  # a cache from another version of the code: ignore it
    return data.get("payload")


def _save(path: Path, payload: Any) -> bool:
    """Write a cache file; False when it could not be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(msgpack.packb({"version": CACHE_VERSION, "payload": payload}))
        tmp.replace(path)
    except OSError:
        return False  # a read-only place: builds still work, just without the speed-up
    return True


@functools.cache
def _layout() -> tuple[type[ParsedArticle], int, int, int]:
    """ParsedArticle and where its body and dates are in a row (imported on first use:
    a no-change build reads no articles)."""
    from .content import ParsedArticle

    names = ParsedArticle._fields
    return ParsedArticle, names.index("body_html"), names.index("date"), names.index("updated")


def _to_row(a: ParsedArticle) -> list[Any]:
    _, body, date, updated = _layout()
    row: list[Any] = list(a)
    row[body] = None
    row[date] = a.date.isoformat()
    row[updated] = a.updated.isoformat() if a.updated else None
    return row


def _from_row(row: tuple[Any, ...]) -> ParsedArticle:
    # Arrays decode as tuples (use_list=False): the tuple fields need no conversion.
    cls, _, date, updated = _layout()
    values = list(row)
    values[date] = dt.datetime.fromisoformat(values[date])
    if values[updated] is not None:
        values[updated] = dt.datetime.fromisoformat(values[updated])
    return cls._make(values)


def load_articles(cache_dir: Path) -> tuple[dict[str, ParsedArticle], Callable[[], dict[str, str]]]:
    """Parsed articles by digest, without their bodies, and a function that loads the
    bodies (digest -> HTML): a build that renders few article pages never needs them."""
    articles = _load_kept(cache_dir / "articles.msgpack", _articles)
    if not articles:
        return {}, dict

    def bodies() -> dict[str, str]:
        found = _load_kept(cache_dir / "bodies.msgpack", lambda data: data)
        return found if isinstance(found, dict) else {}

    return articles, bodies


def _articles(data: Any) -> dict[str, ParsedArticle]:
    if not isinstance(data, dict):
        return {}
    try:
        return {digest: _from_row(row) for digest, row in data.items()}
    except (TypeError, ValueError):  # saved by a different shape of ParsedArticle
        return {}


def save_articles(
    cache_dir: Path, articles: dict[str, ParsedArticle], bodies: dict[str, str]
) -> None:
    """Keep exactly the articles of this build (old versions drop out)."""
    _save(cache_dir / "bodies.msgpack", bodies)
    _save(cache_dir / "articles.msgpack", {d: _to_row(a) for d, a in articles.items()})


def _manifest_path(cache_dir: Path, out_dir: Path, kind: str = "manifest") -> Path:
    tag = hashlib.blake2b(out_key(out_dir).encode(), digest_size=8).hexdigest()
    return cache_dir / f"{kind}-{tag}.msgpack"


def load_manifest(cache_dir: Path, out_dir: Path) -> Manifest:
    """The manifest for this output directory, or an empty one."""
    manifest = _load_kept(_manifest_path(cache_dir, out_dir), _manifest)
    if manifest is not None and manifest.out_dir == out_key(out_dir):
        return manifest
    return Manifest(out_dir=out_key(out_dir))


def _manifest(data: Any) -> Manifest | None:
    try:
        return Manifest(**data) if isinstance(data, dict) else None
    except TypeError:  # saved by a different shape of Manifest
        return None


#: A search index entry by URL: (the digest of the article's file it was made from, entry).
SearchEntries = dict[str, tuple[str, bytes]]


def load_search_entries(cache_dir: Path, out_dir: Path, resolution: str) -> SearchEntries:
    """The search index entries of the last build of this output that made them from a
    site it resolved to `resolution` (see build.Resolution); else none."""
    data = _load(_manifest_path(cache_dir, out_dir, "search"))
    if not isinstance(data, dict) or data.get("resolution") != resolution:
        return {}
    entries = data.get("entries")
    return dict(entries) if isinstance(entries, dict) else {}


def save_search_entries(
    cache_dir: Path, out_dir: Path, resolution: str, entries: SearchEntries
) -> None:
    _save(
        _manifest_path(cache_dir, out_dir, "search"), {"resolution": resolution, "entries": entries}
    )


def save_manifest(cache_dir: Path, out_dir: Path, manifest: Manifest) -> None:
    """Record what this build wrote (and keep it: the next build in this process reads it
    from memory, not from the file)."""
    path = _manifest_path(cache_dir, out_dir)
    if _save(path, {f: getattr(manifest, f) for f in _MANIFEST_FIELDS}):
        _keep(path, manifest)
