"""`build_site`: content + templates + settings -> a directory of static files.

Cold builds parse and render across processes; warm builds reuse parsed articles (by
content hash) and skip pages whose inputs are unchanged; a build where no input changed
at all stops after hashing the inputs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from server.assets import asset_version, widgets_dir

from . import cache as cache_mod
from .config import SiteConfig, load_config
from .content import PARSER_VERSION, ParsedArticle, digest_for, parse_article
from .errors import BuildError
from .images import IMAGES_VERSION, ImageSet, prepare_images, read_variants

BUILDER_VERSION = "1"
# Below this many items, a process pool costs more than it saves.
_POOL_THRESHOLD = 48

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class BuildReport:
    """What a build did."""

    pages_written: int  # files written because their bytes changed (pages, feeds, assets)
    pages_unchanged: int  # files left alone
    articles: int  # published articles
    seconds: float
    drafts: int = 0
    scheduled: int = 0  # future-dated, not yet published
    removed: int = 0  # files of a previous build that are no longer produced
    up_to_date: bool = False  # nothing changed: stopped after hashing the inputs
    images_processed: int = 0  # images decoded and resized (not found in the cache)

    def summary(self) -> str:
        """One line for the terminal."""
        return (
            f"{self.articles} articles, {self.pages_written} files written, "
            f"{self.pages_unchanged} unchanged"
            + (f", {self.removed} removed" if self.removed else "")
            + (f", {self.drafts} drafts" if self.drafts else "")
            + (f", {self.scheduled} scheduled" if self.scheduled else "")
            + f" in {self.seconds:.2f} s"
        )


class _Timings:
    """Phase durations on stderr when PORTAL_BUILD_TIMINGS is set (for profiling builds)."""

    def __init__(self) -> None:
        self.enabled = bool(os.environ.get("PORTAL_BUILD_TIMINGS"))
        self.last = time.perf_counter()

    def mark(self, phase: str) -> None:
        if self.enabled:
            now = time.perf_counter()
            print(f"  {phase:<24} {now - self.last:7.3f} s", file=sys.stderr)
            self.last = now


class _Progress:
    """Counts on stderr for long builds (a live line on a terminal, else one per phase)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.label = ""
        self.total = 0
        self.done = 0
        self.last = 0.0

    def start(self, label: str, total: int) -> None:
        self.label, self.total, self.done, self.last = label, total, 0, 0.0

    def advance(self, n: int) -> None:
        self.done += n
        if self.quiet or not self.tty:
            return
        now = time.monotonic()
        if now - self.last > 0.1 or self.done >= self.total:
            self.last = now
            sys.stderr.write(f"\r{self.label}: {self.done}/{self.total}")
            sys.stderr.flush()

    def finish(self) -> None:
        if self.quiet or self.total < _POOL_THRESHOLD:
            return
        sys.stderr.write(("\r" if self.tty else "") + f"{self.label}: {self.done}/{self.total}\n")
        sys.stderr.flush()


def _walk(root: Path, suffix: str = "") -> list[tuple[str, str]]:
    """Files under root as (POSIX relative path, path), sorted; hidden and editor
    backup files skipped. Plain strings: pathlib costs more than the reading here."""
    found: list[tuple[str, str]] = []
    if not root.is_dir():
        return found
    top = str(root)
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = [d for d in dirnames if not d.startswith((".", "_"))]
        rel_dir = os.path.relpath(dirpath, top).replace(os.sep, "/")
        prefix = "" if rel_dir == "." else rel_dir + "/"
        for name in filenames:
            if name.startswith(".") or name.endswith("~") or not name.endswith(suffix):
                continue
            found.append((prefix + name, os.path.join(dirpath, name)))
    found.sort()
    return found


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _hash(*parts: str | bytes) -> str:
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()


def _parse_chunk(items: list[tuple[str, bytes]]) -> list[ParsedArticle | str]:
    """Worker: parse files; a BuildError comes back as its message (all get reported)."""
    out: list[ParsedArticle | str] = []
    for source, raw in items:
        try:
            out.append(parse_article(source, raw, f"content/{source}"))
        except BuildError as exc:
            out.append(str(exc))
    return out


def _chunks(items: Sequence[T], parts: int) -> list[list[T]]:
    size = max(1, -(-len(items) // parts))
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


class _Pool:
    """A process pool made on first use, only for work big enough to pay for it."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.executor: Any = None  # a ProcessPoolExecutor, made (and imported) on first use

    def map_chunks(
        self,
        fn: Callable[..., list[R]],
        items: Sequence[T],
        progress: _Progress,
        *args: Any,
    ) -> list[R]:
        if self.workers <= 1 or len(items) < _POOL_THRESHOLD:
            results: list[R] = []
            for chunk in _chunks(items, max(1, len(items) // 200)):
                results.extend(fn(*args, chunk))
                progress.advance(len(chunk))
            return results
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        if self.executor is None:
            # fork is cheapest, but forking a process that runs other threads (the dev
            # server) can deadlock: use a fresh interpreter then.
            methods = multiprocessing.get_all_start_methods()
            method = "fork" if threading.active_count() == 1 and "fork" in methods else "spawn"
            self.executor = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context(method)
            )
        chunks = _chunks(items, self.workers * 6)
        futures = {self.executor.submit(fn, *args, chunk): i for i, chunk in enumerate(chunks)}
        by_index: dict[int, list[R]] = {}
        for fut in as_completed(futures):
            by_index[futures[fut]] = fut.result()
            progress.advance(len(chunks[futures[fut]]))
        return [r for i in range(len(chunks)) for r in by_index[i]]

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True)


def _widgets() -> tuple[Path, str]:
    """The widgets directory and its version, as the service computes them."""
    directory = widgets_dir()
    return directory, asset_version(directory)


def _default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def build_site(
    site_dir: Path,
    out_dir: Path,
    *,
    workers: int | None = None,
    quiet: bool = True,
    cache_dir: Path | None = None,
    now: dt.datetime | None = None,
) -> BuildReport:
    """Build the site in `site_dir` into `out_dir`; BuildError for bad content.

    `cache_dir` defaults to `.portal-cache` beside `out_dir`; `now` (for tests) decides
    which future-dated articles are published.
    """
    started = time.perf_counter()
    site_dir = Path(site_dir)
    out_dir = Path(out_dir)
    if out_dir.resolve() == site_dir.resolve() or site_dir.resolve() in out_dir.resolve().parents:
        raise BuildError(f"{out_dir}: the output directory must not be inside the site directory")
    workers = workers or _default_workers()
    cache_dir = Path(cache_dir) if cache_dir is not None else cache_mod.default_cache_dir(out_dir)
    now = now or dt.datetime.now(dt.UTC)
    progress = _Progress(quiet)

    config = load_config(site_dir)
    settings_bytes = (site_dir / "site.toml").read_bytes()
    manifest = cache_mod.load_manifest(cache_dir, out_dir)
    sources = dict(_walk(site_dir / "content", ".md"))
    # A file whose size, mtime and inode are as the last build saw them keeps its digest
    # without being read again (as git and make do); the others are read and hashed.
    raws: dict[str, bytes] = {}
    digests: dict[str, str] = {}
    stats: dict[str, tuple[int, int, int, str]] = {}
    for rel, path in sources.items():
        st = os.stat(path)
        known = manifest.sources.get(rel)
        if known is not None and known[:3] == (st.st_size, st.st_mtime_ns, st.st_ino):
            digests[rel] = known[3]
        else:
            raws[rel] = _read(path)
            digests[rel] = digest_for(rel, raws[rel])
        stats[rel] = (st.st_size, st.st_mtime_ns, st.st_ino, digests[rel])
    templates = _walk(site_dir / "templates")
    static = _walk(site_dir / "static")
    static_bytes = {rel: _read(path) for rel, path in static}
    static_digests = {rel: _hash(data) for rel, data in static_bytes.items()}

    wdir, widget_version = _widgets()
    static_version = _hash(*(f"{rel}:{d}" for rel, d in static_digests.items()))[:12]
    template_parts = [f"{rel}:{_hash(_read(path))}" for rel, path in templates]
    fingerprint = _hash(
        BUILDER_VERSION,
        PARSER_VERSION,
        IMAGES_VERSION,
        settings_bytes,
        *(f"{rel}:{d}" for rel, d in digests.items()),
        *template_parts,
        static_version,
        widget_version,
        str(out_dir.resolve()),
    )

    out_str = str(out_dir)
    if (
        manifest.fingerprint == fingerprint
        and (manifest.next_publish is None or now.timestamp() < manifest.next_publish)
        and all(os.path.isfile(os.path.join(out_str, rel)) for rel in manifest.files)
    ):
        return BuildReport(
            pages_written=0,
            pages_unchanged=len(manifest.files),
            articles=manifest.articles,
            seconds=time.perf_counter() - started,
            up_to_date=True,
        )

    pool = _Pool(workers)
    try:

        def resize(fn: Callable[..., list[Any]], items: Sequence[Any], *args: Any) -> list[Any]:
            progress.start("Resizing images", len(items))
            done = pool.map_chunks(fn, items, progress, *args)
            progress.finish()
            return done

        images = prepare_images(dict(static), static_digests, cache_dir, resize)
        return _full_build(
            images=images,
            site_dir=site_dir,
            out_dir=out_dir,
            cache_dir=cache_dir,
            config=config,
            sources=sources,
            raws=raws,
            digests=digests,
            stats=stats,
            static_bytes=static_bytes,
            widgets_templates=wdir / "templates",
            widget_version=widget_version,
            static_version=static_version,
            template_key=_hash(*template_parts),
            settings_key=_hash(settings_bytes),
            fingerprint=fingerprint,
            manifest=manifest,
            now=now,
            pool=pool,
            progress=progress,
            started=started,
        )
    finally:
        pool.close()


def _full_build(
    *,
    images: ImageSet,
    site_dir: Path,
    out_dir: Path,
    cache_dir: Path,
    config: SiteConfig,
    sources: dict[str, str],
    raws: dict[str, bytes],
    digests: dict[str, str],
    stats: dict[str, tuple[int, int, int, str]],
    static_bytes: dict[str, bytes],
    widgets_templates: Path,
    widget_version: str,
    static_version: str,
    template_key: str,
    settings_key: str,
    fingerprint: str,
    manifest: cache_mod.Manifest,
    now: dt.datetime,
    pool: _Pool,
    progress: _Progress,
    started: float,
) -> BuildReport:
    from markupsafe import Markup

    from . import pages
    from .model import check_site_links, resolve_site
    from .render import (
        RenderSetup,
        Task,
        init_worker,
        render_batch,
        render_string,
        write_if_changed,
    )

    timings = _Timings()
    # 1. Parse what the cache doesn't have.
    cached, load_bodies = cache_mod.load_articles(cache_dir)
    todo = [
        (rel, raws[rel] if rel in raws else _read(sources[rel]))
        for rel in sources
        if digests[rel] not in cached
    ]
    progress.start("Parsing articles", len(todo))
    results = pool.map_chunks(_parse_chunk, todo, progress)
    progress.finish()
    errors = sorted(r for r in results if isinstance(r, str))
    if errors:
        raise BuildError("\n".join(errors))
    fresh = {r.digest: r for r in results if isinstance(r, ParsedArticle)}
    articles_by_digest = {
        digests[rel]: cached.get(digests[rel]) or fresh[digests[rel]] for rel in sources
    }
    parsed = [articles_by_digest[digests[rel]] for rel in sources]

    timings.mark("parse")
    # 2. The site as a whole.
    model = resolve_site(config, parsed, now.astimezone(config.tz))
    stored_bodies: dict[str, str] | None = None

    def body_of(p: ParsedArticle) -> str:
        nonlocal stored_bodies
        if p.body_html is not None:
            return p.body_html
        if stored_bodies is None:
            stored_bodies = load_bodies()
        body = stored_bodies.get(p.digest)
        if body is None:  # the cache lost it: parse the file again
            body = parse_article(p.source, _read(sources[p.source]), p.source).body_html
        return body or ""

    site = pages.SitePages(config, model, widget_version, static_version, body_of, images)
    page_tasks = site.page_tasks()
    text_files = site.text_files()
    files = {rel for _, rel, _, _ in page_tasks} | set(text_files)
    files |= {f"static/{rel}" for rel in static_bytes} | set(images.files)
    check_site_links(model.articles, files, site.nav_links())

    timings.mark("resolve + links")
    # 3. Render pages whose inputs changed. "Tin mới nhất" and the poll box are rendered
    # once, here, and handed to every page as globals.
    base = RenderSetup(
        templates_dir=str(site_dir / "templates"),
        widgets_templates_dir=str(widgets_templates),
        out_dir=str(out_dir),
        globals=site.globals(),
        bytecode_dir=str(cache_dir / "templates"),
    )
    init_worker(base)
    latest = render_string("partials/latest.html", {"items": site.latest_items()})
    polls = render_string("partials/polls.html", {})
    setup = replace(
        base,
        globals={**base.globals, "latest_html": Markup(latest), "polls_html": Markup(polls)},
    )
    global_key = _hash(
        BUILDER_VERSION,
        template_key,
        settings_key,
        json.dumps(setup.globals, sort_keys=True, default=str),
    )
    page_keys: dict[str, str] = {}
    tasks: list[Task] = []
    for template, rel, key_parts, make_context in page_tasks:
        key = _hash(global_key, template, *key_parts)
        page_keys[rel] = key
        if manifest.pages.get(rel) == key and os.path.isfile(os.path.join(out_dir, rel)):
            continue
        tasks.append((template, rel, make_context()))
    timings.mark("page keys")
    progress.start("Rendering pages", len(tasks))
    rendered = pool.map_chunks(render_batch, tasks, progress, setup)
    progress.finish()
    written = sum(1 for _, changed in rendered if changed)

    timings.mark("render")
    # 4. Feeds, sitemap, search index, static files: cheap, so always regenerated.
    extra: dict[str, bytes] = {rel: data.encode() for rel, data in text_files.items()}
    for rel, data in static_bytes.items():
        extra[f"static/{rel}"] = data
    extra.update(read_variants(images.files))
    for rel, data in sorted(extra.items()):
        written += write_if_changed(out_dir / rel, data)

    timings.mark("feeds, index, static")
    # 5. Remove what an earlier build made and this one no longer does.
    produced = sorted(set(page_keys) | set(extra))
    removed = 0
    for rel in sorted(set(manifest.files) - set(produced)):
        try:
            (out_dir / rel).unlink()
            removed += 1
        except FileNotFoundError:
            pass

    next_publish = model.next_publish.timestamp() if model.next_publish else None
    # Rewriting the whole article cache costs more than parsing a few articles again, so a
    # build that parsed only a few leaves it as it was: the next one re-parses those few.
    if len(fresh) > max(16, len(articles_by_digest) // 50) or (
        fresh and len(articles_by_digest) < 1000
    ):
        cache_mod.save_articles(
            cache_dir, articles_by_digest, {d: body_of(a) for d, a in articles_by_digest.items()}
        )
    cache_mod.save_manifest(
        cache_dir,
        out_dir,
        cache_mod.Manifest(
            out_dir=str(out_dir.resolve()),
            fingerprint=fingerprint,
            next_publish=next_publish,
            pages=page_keys,
            files=produced,
            articles=len(model.articles),
            sources=stats,
        ),
    )
    timings.mark("cache")
    return BuildReport(
        pages_written=written,
        pages_unchanged=len(produced) - written,
        articles=len(model.articles),
        seconds=time.perf_counter() - started,
        drafts=model.drafts,
        scheduled=model.scheduled,
        removed=removed,
        images_processed=images.processed,
    )
