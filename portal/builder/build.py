"""`build_site`: content + templates + settings -> a directory of static files.

A build is a short pipeline of stages over one `BuildContext`: read the inputs (and stop
there when nothing changed), parse, resolve, render, write the other files, prune, write
the site manifest, switch the served generation, save the caches. Cold builds parse and
render across processes; warm builds reuse parsed articles (by content hash) and skip
pages whose inputs are unchanged; a build in the process that made the last one (`portal
serve`) also reuses its resolved site while only articles' bodies changed (`Resolution`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import hashlib
import json
import os
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from server.assets import asset_version, widgets_dir

from . import cache as cache_mod
from .digest import PARSER_VERSION, digest_for
from .errors import BuildError, Problem
from .files import agency_inputs, read, walk
from .images import IMAGES_VERSION
from .output import Generation, current_generation, prepare_meanwhile
from .urls import SITE_MANIFEST
from .workers import POOL_THRESHOLD, Pool, Progress, Timings, default_workers, in_child

if TYPE_CHECKING:  # imported by the stages that use them: a no-change build needs none
    from .config import SiteConfig
    from .content import ParsedArticle
    from .images import ImageSet
    from .model import SiteModel
    from .pages import PageKind, PageTask, SiteView

BUILDER_VERSION = "2"


#: A file to write: its bytes, or what makes them (see PageKind.files).
Extra = bytes | Callable[[], "str | bytes"]


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
    images_processed: int = 0  # images decoded and resized (not found in the image cache)
    kept_model: bool = False  # the site model of the last build in this process still held
    # The next scheduled article's publish time, or a poll's opens/closes if sooner: build
    # again then (None: nothing scheduled).
    next_change: dt.datetime | None = None

    def summary(self) -> str:
        """One line for the terminal."""
        return (
            f"{self.articles} articles, {self.pages_written} files written, "
            f"{self.pages_unchanged} unchanged"
            + (f", {self.removed} removed" if self.removed else "")
            + (f", {self.drafts} draft{'s' if self.drafts != 1 else ''}" if self.drafts else "")
            + (f", {self.scheduled} scheduled" if self.scheduled else "")
            + f" in {self.seconds:.2f} s"
        )


def _hash(*parts: str | bytes) -> str:
    """A short hash of the parts, each ended by a NUL (one C call for the usual all-text
    case: this runs once per page on every build)."""
    try:
        data = "\0".join(parts).encode() + b"\0" if parts else b""  # type: ignore[arg-type]
    except TypeError:  # some parts are bytes
        data = b"".join((p.encode() if isinstance(p, str) else p) + b"\0" for p in parts)
    return hashlib.blake2b(data, digest_size=16).hexdigest()


#: What parsing a content file gave: its digest, and the article, or its problems (all
#: get reported), or None when the article cache has that digest.
Parsed = tuple[str, "ParsedArticle | list[Problem] | None"]


def _parse_chunk(cached: Collection[str], items: list[tuple[str, bytes | str]]) -> list[Parsed]:
    """Worker: parse files, given as their bytes or their path (then read here)."""
    from .content import parse_article

    out: list[Parsed] = []
    for source, raw_or_path in items:
        raw = read(raw_or_path) if isinstance(raw_or_path, str) else raw_or_path
        digest = digest_for(source, raw)
        if digest in cached:
            out.append((digest, None))
            continue
        try:
            out.append((digest, parse_article(source, raw, f"content/{source}")))
        except BuildError as exc:
            out.append((digest, exc.problems))
    return out


def _widgets() -> tuple[Path, str]:
    """The widgets directory and its version, as the service computes them."""
    directory = widgets_dir()
    return directory, asset_version(directory)


@dataclass
class BuildContext:
    """Everything one build knows, filled in stage by stage."""

    site_dir: Path
    out_dir: Path
    cache_dir: Path
    now: dt.datetime
    drafts: bool
    started: float
    pool: Pool
    progress: Progress
    timings: Timings = field(default_factory=Timings)
    problems: list[Problem] = field(default_factory=list)
    # read_inputs
    config: SiteConfig | None = None
    agency_raws: dict[str, bytes] = field(default_factory=dict)  # pages/, data/
    settings_bytes: bytes = b""
    manifest: cache_mod.Manifest = field(default_factory=cache_mod.Manifest)
    sources: dict[str, str] = field(default_factory=dict)  # content file -> path
    raws: dict[str, bytes] = field(default_factory=dict)  # the content files read
    unread: list[str] = field(default_factory=list)  # content files left to the parse stage
    digests: dict[str, str] = field(default_factory=dict)
    stats: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    static_paths: dict[str, str] = field(default_factory=dict)  # static file -> path
    static_bytes: dict[str, bytes] = field(default_factory=dict)
    static_digests: dict[str, str] = field(default_factory=dict)
    widgets_templates: Path = Path()
    widget_version: str = ""
    static_version: str = ""
    template_key: str = ""
    inputs_key: str = ""  # every input but the content files
    fingerprint: str = ""  # every input
    # parse
    articles_by_digest: dict[str, ParsedArticle] = field(default_factory=dict)
    fresh: dict[str, ParsedArticle] = field(default_factory=dict)  # parsed by this build
    load_bodies: Callable[[], dict[str, str]] = dict
    stored_bodies: dict[str, str] | None = None
    # prepare_site_images
    images: ImageSet | None = None
    # resolve
    resolution: Resolution | None = None
    kept_model: bool = False
    model: SiteModel | None = None
    view: SiteView | None = None
    tasks: list[PageTask] = field(default_factory=list)
    extras: dict[str, Extra] = field(default_factory=dict)  # feeds, indexes, static files
    next_change: dt.datetime | None = None
    # render and after
    generation: Generation | None = None
    page_keys: dict[str, str] = field(default_factory=dict)
    global_key: str = ""  # what every page's key starts from
    changed: set[str] = field(default_factory=set)  # files written or removed
    removed: int = 0

    @property
    def written(self) -> int:
        return len(self.changed) - self.removed

    @property
    def target(self) -> Path:
        """Where this build writes: the new generation of the output."""
        assert self.generation is not None
        return self.generation.dir

    @cached_property
    def produced(self) -> frozenset[str]:
        """Every file this build makes (known once the pages are rendered)."""
        variants = self.images.files if self.images else {}
        kept = self.resolution.unchanged if self.resolution else frozenset()
        made = self.page_keys.keys() | self.extras.keys() | variants.keys()
        return frozenset(made) | kept | {SITE_MANIFEST}

    @cached_property
    def output_intact(self) -> bool:
        """The served output's directories are as the last build left them: every file it
        made is there (see `_output_intact`)."""
        m = self.manifest
        return bool(m.directories) and _directory_times(self.out_dir, m.files) == m.directories

    def resolved_as_last(self, key: str) -> bool:
        """The last build (in any process) resolved the site to `key`, as this one, and no
        scheduled moment passed since: its pages and files hold for this build too, but for
        the edited bodies."""
        m = self.manifest
        return m.resolution == key and (
            m.next_publish is None or self.now.timestamp() < m.next_publish
        )

    def latest(self, p: ParsedArticle) -> ParsedArticle:
        """This build's version of `p`'s file (a kept site model holds an earlier one)."""
        return self.articles_by_digest.get(self.digests.get(p.source, ""), p)

    def body_of(self, p: ParsedArticle) -> str:
        """The HTML of this build's version of an article, from this build's parse or the
        cache (loaded on first use)."""
        p = self.latest(p)
        if p.body_html is not None:
            return p.body_html
        if self.stored_bodies is None:
            self.stored_bodies = self.load_bodies()
        body = self.stored_bodies.get(p.digest)
        if body is None:  # the cache lost it: parse the file again
            from .content import parse_article

            source = self.sources[p.source]
            body = parse_article(p.source, read(source), p.source).body_html
        return body or ""

    def report(self, *, up_to_date: bool = False) -> BuildReport:
        model = self.model
        files = len(self.manifest.files) if up_to_date else len(self.produced)
        return BuildReport(
            pages_written=self.written,
            pages_unchanged=files - self.written,
            articles=self.manifest.articles if model is None else len(model.articles),
            seconds=time.perf_counter() - self.started,
            drafts=model.drafts if model else 0,
            scheduled=model.scheduled if model else 0,
            removed=self.removed,
            up_to_date=up_to_date,
            next_change=self.next_change,
            images_processed=self.images.processed if self.images else 0,
            kept_model=self.kept_model,
        )


def build_site(
    site_dir: Path,
    out_dir: Path,
    *,
    workers: int | None = None,
    quiet: bool = True,
    cache_dir: Path | None = None,
    now: dt.datetime | None = None,
    drafts: bool = False,
) -> BuildReport:
    """Build the site in `site_dir` into `out_dir`; a BuildError lists every problem.

    `cache_dir` defaults to `.portal-cache` beside `out_dir`; `now` (for tests) decides
    which future-dated articles are published; `drafts` publishes drafts and future-dated
    articles too, each marked as such (for previews, never for the public site).
    """
    out_dir = Path(out_dir)
    ctx = BuildContext(
        site_dir=Path(site_dir),
        out_dir=out_dir,
        cache_dir=Path(cache_dir) if cache_dir else cache_mod.default_cache_dir(out_dir),
        now=now or dt.datetime.now(dt.UTC),
        drafts=drafts,
        started=time.perf_counter(),
        pool=Pool(workers or default_workers()),
        progress=Progress(quiet),
    )
    read_inputs(ctx)
    if is_up_to_date(ctx):
        return ctx.report(up_to_date=True)
    # The copy of the served generation this build will write into is made meanwhile.
    copied = prepare_meanwhile(ctx.out_dir, ctx.manifest.base)
    # A build allocates many objects and keeps them to its end: the cyclic garbage
    # collector would scan them again and again for nothing (and, in forked workers, copy
    # the pages it touches). Off for the build, in this process and the workers.
    collecting = gc.isenabled()
    gc.disable()
    saved: Callable[[], None] = copied  # (waited for in the end: waiting again is harmless)
    try:
        parse(ctx)
        saved = save_articles_meanwhile(ctx)
        prepare_site_images(ctx)
        resolve(ctx)
        copied()
        ctx.generation = begin_generation(ctx)
        try:
            render(ctx)
            write_extras(ctx)
            prune(ctx)
            write_site_manifest(ctx)
        except BaseException:
            ctx.generation.abandon()  # the served generation was never touched
            raise
        ctx.generation.commit()
        save_caches(ctx)
    finally:
        copied()
        saved()
        ctx.pool.close()
        if collecting:
            gc.enable()
    return ctx.report()


def read_inputs(ctx: BuildContext) -> None:
    """Stage 1: settings, content digests (reading only files whose stat changed),
    templates, static files, and the fingerprint of them all."""
    site_dir, out_dir = ctx.site_dir, ctx.out_dir
    if out_dir.resolve() == site_dir.resolve() or site_dir.resolve() in out_dir.resolve().parents:
        message = f"the output directory {out_dir} is inside the site directory"
        raise BuildError([Problem(str(out_dir), None, None, message, "build somewhere else")])
    settings = site_dir / "site.toml"
    ctx.settings_bytes = settings.read_bytes() if settings.is_file() else b""
    ctx.manifest = cache_mod.load_manifest(ctx.cache_dir, out_dir)
    ctx.sources = dict(walk(site_dir / "content", ".md"))
    # A file whose size, mtime and inode are as the last build saw them keeps its digest
    # without being read again (as git and make do); the others are read and hashed. With
    # no earlier build to compare with, the parse stage reads them all (in its workers).
    known_sources = ctx.manifest.sources
    defer = not ctx.manifest.fingerprint
    for rel, path in ctx.sources.items():
        st = os.stat(path)
        known = known_sources.get(rel)
        if known is not None and known[:3] == (st.st_size, st.st_mtime_ns, st.st_ino):
            digest = known[3]
        elif defer:
            ctx.unread.append(rel)
            digest = ""
        else:
            ctx.raws[rel] = read(path)
            digest = digest_for(rel, ctx.raws[rel])
        ctx.digests[rel] = digest
        ctx.stats[rel] = (st.st_size, st.st_mtime_ns, st.st_ino, digest)
    ctx.agency_raws = {rel: read(path) for rel, path in agency_inputs(site_dir).items()}
    ctx.static_paths = dict(walk(site_dir / "static"))
    ctx.static_bytes = {rel: read(path) for rel, path in ctx.static_paths.items()}
    ctx.static_digests = {rel: _hash(data) for rel, data in ctx.static_bytes.items()}
    wdir, ctx.widget_version = _widgets()
    ctx.widgets_templates = wdir / "templates"
    ctx.static_version = _hash(*(f"{rel}:{d}" for rel, d in ctx.static_digests.items()))[:12]
    template_parts = [f"{rel}:{_hash(read(path))}" for rel, path in walk(site_dir / "templates")]
    ctx.template_key = _hash(*template_parts)
    ctx.inputs_key = _hash(
        BUILDER_VERSION,
        PARSER_VERSION,
        IMAGES_VERSION,
        ctx.settings_bytes,
        ctx.template_key,
        *(f"{rel}:{_hash(data)}" for rel, data in ctx.agency_raws.items()),
        ctx.static_version,
        ctx.widget_version,
        cache_mod.out_key(out_dir),
        "drafts" if ctx.drafts else "",
    )
    _fingerprint(ctx)
    ctx.timings.mark("read inputs")


def _fingerprint(ctx: BuildContext) -> None:
    """The hash of every input (once every content file's digest is known)."""
    ctx.fingerprint = _hash(ctx.inputs_key, *(f"{rel}:{d}" for rel, d in ctx.digests.items()))


def _directory_times(out_dir: Path, files: list[str]) -> dict[str, int]:
    """mtime_ns of each directory holding output files: removing a file changes it."""
    out = str(out_dir) + "/"
    dirs = {rel.rpartition("/")[0] for rel in files}
    times = {}
    for d in sorted(dirs):
        with contextlib.suppress(FileNotFoundError):
            times[d] = os.stat(out + d).st_mtime_ns
    return times


def _output_intact(ctx: BuildContext) -> bool:
    """Every file the last build made is still served. Its directories unchanged since
    that build say so at the cost of a few stats; else each file is looked for."""
    if current_generation(ctx.out_dir) is None:
        return False
    if ctx.output_intact:
        return True
    out = str(ctx.out_dir) + "/"
    return all(os.path.isfile(out + rel) for rel in ctx.manifest.files)


def is_up_to_date(ctx: BuildContext) -> bool:
    """Nothing changed since the last build, no scheduled time passed, every file is there."""
    m = ctx.manifest
    if ctx.unread or m.fingerprint != ctx.fingerprint:
        return False
    if m.next_publish is not None and ctx.now.timestamp() >= m.next_publish:
        return False
    if not _output_intact(ctx):
        return False
    if m.next_publish is not None:
        ctx.next_change = dt.datetime.fromtimestamp(m.next_publish, dt.UTC)
    return True


def parse(ctx: BuildContext) -> None:
    """Stage 2: check the settings and parse the articles the cache doesn't have,
    collecting every problem."""
    from .config import load_config

    try:
        ctx.config = load_config(ctx.site_dir)
    except BuildError as exc:
        ctx.problems += exc.problems  # reported with the articles' problems
    cached, ctx.load_bodies = cache_mod.load_articles(ctx.cache_dir)
    unread = set(ctx.unread)
    todo: list[tuple[str, bytes | str]] = [
        (rel, ctx.sources[rel]) if rel in unread else (rel, ctx.raws.get(rel) or ctx.sources[rel])
        for rel, digest in ctx.digests.items()
        if rel in unread or digest not in cached
    ]
    ctx.progress.start("Parsing articles", len(todo))
    if len(todo) < POOL_THRESHOLD:  # an editor's few: here
        results = _parse_chunk(cached, todo)
    elif ctx.pool.forks():
        from .content import warm_up

        warm_up()  # imported and set up once, here, rather than in each worker
        results = ctx.pool.map_shared(
            _parse_chunk, todo, ctx.progress, frozenset(cached), meanwhile=_import_stages
        )
    else:
        results = ctx.pool.map_chunks(
            _parse_chunk, todo, ctx.progress, frozenset(cached), meanwhile=_import_stages
        )
    ctx.progress.finish()
    for (rel, _), (digest, result) in zip(todo, results, strict=True):
        if rel in unread:
            ctx.digests[rel] = digest
            ctx.stats[rel] = (*ctx.stats[rel][:3], digest)
        if isinstance(result, list):
            ctx.problems += result
        elif result is not None:
            ctx.fresh[digest] = result
    if unread:
        _fingerprint(ctx)
    ctx.articles_by_digest = {
        d: cached.get(d) or ctx.fresh[d]
        for d in ctx.digests.values()
        if d in cached or d in ctx.fresh
    }
    ctx.timings.mark("parse")


def _import_stages() -> None:
    """Import what the stages after parsing use (the page kinds, Jinja), while workers
    parse: a tenth of a second this process would otherwise spend after them."""
    from . import kinds, render  # noqa: F401


def prepare_site_images(ctx: BuildContext) -> None:
    """Stage 2b: the size of every image under static/, and resized variants of the
    photos, from the image cache when their bytes were seen before."""
    from .images import prepare_images

    def run(fn: Callable[..., list[Any]], items: Sequence[Any], *args: Any) -> list[Any]:
        ctx.progress.start("Resizing images", len(items))
        # A photo takes a good part of a second: two already pay for the workers.
        done = ctx.pool.map_chunks(fn, items, ctx.progress, *args, threshold=2)
        ctx.progress.finish()
        return done

    try:
        ctx.images = prepare_images(ctx.static_paths, ctx.static_digests, ctx.cache_dir, run)
    except BuildError as exc:
        ctx.problems += exc.problems
    ctx.timings.mark("images")


@dataclass
class Resolution:
    """What resolving the site made: kept for the next build in this process (`portal
    serve`, `portal build --watch`), which uses it again while `key` holds (every input
    but the articles' bodies and search text is the same) and no scheduled moment passed.

    An editor's usual change, to an article's body, then costs that article's pages and the
    TEXT_KINDS' files, not a pass over the whole site: the pages that show a body take its
    digest into their key when it is checked (PageTask.bodies), and the view reads bodies
    and search text from the current build (SiteView.latest).
    """

    key: str
    model: SiteModel
    view: SiteView
    tasks: list[PageTask]
    extras: dict[str, Extra]  # all but the TEXT_KINDS' files
    next_change: dt.datetime | None
    site_manifest: bytes | None = None  # its bytes, once written
    page_keys: PageKeys | None = None  # the last build's, once computed
    # Of the bodies only (`_resolve_bodies`): the files of the last build that this one keeps
    # as they are. Its tasks are not the whole site's: it is not kept for the next build.
    unchanged: frozenset[str] = frozenset()

    def holds(self, key: str, now: dt.datetime) -> bool:
        return key == self.key and (self.next_change is None or now < self.next_change)


@dataclass(frozen=True, slots=True)
class PageKeys:
    """The page keys of a build, with what they were computed from."""

    global_key: str
    digests: dict[str, str]  # content file -> digest
    keys: dict[str, tuple[tuple[str, ...], str]]  # output file -> (task's key, page key)


# The last resolution of each output directory built by this process (a few: `portal
# serve` builds one; a test run, many).
_kept: dict[str, Resolution] = {}
_KEPT_OUTPUTS = 4


def resolve(ctx: BuildContext) -> None:
    """Stage 3: the site as a whole (publication, slugs, links), every page and file it
    will have, and the links between them checked. Raises every problem found so far.
    Kept from the last build when only articles' bodies changed (see Resolution)."""
    from .kinds import TEXT_KINDS

    if ctx.config is None:
        raise BuildError(ctx.problems)
    shapes = ctx.articles_by_digest
    key = _hash(
        ctx.inputs_key,
        *(f"{rel}:{shapes[d].shape if d in shapes else '-'}" for rel, d in ctx.digests.items()),
    )
    out = cache_mod.out_key(ctx.out_dir)
    kept = _kept.pop(out, None)  # (put back last: the most recent is kept longest)
    if not ctx.problems and kept is not None and kept.holds(key, ctx.now):
        resolution, ctx.kept_model = kept, True
        resolution.view.body_of, resolution.view.latest = ctx.body_of, ctx.latest
        text_tasks, text_files = _made_by(TEXT_KINDS, resolution.view)
    else:
        resolution, text_tasks, text_files = _resolve_anew(ctx, key)
    if not resolution.unchanged:
        _kept[out] = resolution
    while len(_kept) > _KEPT_OUTPUTS:
        del _kept[next(iter(_kept))]
    ctx.resolution, ctx.model, ctx.view = resolution, resolution.model, resolution.view
    ctx.tasks = resolution.tasks + text_tasks
    ctx.extras = {**resolution.extras, **text_files}
    ctx.next_change = resolution.next_change
    ctx.timings.mark("resolve + links")


def _made_by(kinds: Sequence[PageKind], view: SiteView) -> tuple[list[PageTask], dict[str, Extra]]:
    """The pages and other files of some page kinds."""
    tasks: list[PageTask] = []
    files: dict[str, Extra] = {}
    for kind in kinds:
        tasks += kind.pages(view)
        for rel, data in kind.files(view).items():
            files[rel] = data.encode() if isinstance(data, str) else data
    return tasks, files


def _make_extras(ctx: BuildContext) -> None:
    """The bytes of the files still to be made (a kept resolution keeps its own)."""
    assert ctx.resolution is not None
    kept = ctx.resolution.extras
    for rel, data in ctx.extras.items():
        if callable(data):
            made = data()
            ctx.extras[rel] = made.encode() if isinstance(made, str) else made
            if rel in kept:
                kept[rel] = ctx.extras[rel]


def _resolve_anew(
    ctx: BuildContext, key: str
) -> tuple[Resolution, list[PageTask], dict[str, Extra]]:
    """Resolve the site from its inputs; the TEXT_KINDS' pages and files apart."""
    from .agency import agency_link_problems, load_agency
    from .kinds import KINDS, TEXT_KINDS
    from .model import link_problems, resolve_site
    from .pages import SiteView
    from .site_manifest import next_change

    assert ctx.config is not None
    config = ctx.config
    # The articles that parsed are checked too, so one run reports every problem; links to
    # the files that did not parse are not reported as broken.
    parsed = [
        ctx.articles_by_digest[d] for d in ctx.digests.values() if d in ctx.articles_by_digest
    ]
    unparsed = frozenset(rel for rel, d in ctx.digests.items() if d not in ctx.articles_by_digest)
    model, problems = resolve_site(
        config, parsed, ctx.now.astimezone(config.tz), drafts=ctx.drafts, unparsed=unparsed
    )
    ctx.problems += problems
    agency, problems = load_agency(ctx.agency_raws)
    ctx.problems += problems
    view = SiteView(
        config,
        model,
        ctx.widget_version,
        ctx.static_version,
        ctx.body_of,
        ctx.images,
        agency,
    )
    text_tasks, text_files = _made_by(TEXT_KINDS, view)
    if not ctx.problems and ctx.resolved_as_last(key) and ctx.output_intact:
        return _resolve_bodies(ctx, key, view), text_tasks, text_files
    tasks, extras = _made_by(KINDS, view)
    for rel, data in ctx.static_bytes.items():
        extras[f"static/{rel}"] = data
    files = {t.file for t in tasks + text_tasks} | set(extras) | set(text_files)
    files |= set(ctx.images.files if ctx.images else ())
    ctx.problems += link_problems(model.articles, files, view.nav_links())
    ctx.problems += agency_link_problems(agency, files)
    if ctx.problems:
        raise BuildError(ctx.problems)
    change = next_change(ctx.settings_bytes, config, model, ctx.now)
    return Resolution(key, model, view, tasks, extras, change), text_tasks, text_files


def _resolve_bodies(ctx: BuildContext, key: str, view: SiteView) -> Resolution:
    """The site resolves as the last build's did (`resolved_as_last`), a build in another
    process, and that build's files are all there: only the edited articles' pages are made
    (and the TEXT_KINDS' files); the last build's other files stay as they are. Its links
    were checked then: the shapes, which hold the links, are the same."""
    from .kinds import BODY_KINDS
    from .site_manifest import next_change

    assert ctx.config is not None
    # The search index entries the last build made hold for the articles not edited.
    view.search_entries.update(cache_mod.load_search_entries(ctx.cache_dir, ctx.out_dir, key))
    last = ctx.manifest.sources
    edited = {rel for rel, digest in ctx.digests.items() if last.get(rel, ())[3:4] != (digest,)}
    shown = [a for a in view.model.articles if a.parsed.source in edited]
    tasks = [task for kind in BODY_KINDS for task in kind.pages_for(view, shown)]
    unchanged = frozenset(ctx.manifest.files) - {t.file for t in tasks}
    change = next_change(ctx.settings_bytes, ctx.config, view.model, ctx.now)
    return Resolution(key, view.model, view, tasks, {}, change, unchanged=unchanged)


def begin_generation(ctx: BuildContext) -> Generation:
    """The directory this build writes, beside the served one (see output.py)."""
    last = ctx.manifest
    served = current_generation(ctx.out_dir)
    recyclable = served is not None and last.generation == served.name
    generation = Generation(
        ctx.out_dir, last.changed if recyclable else None, last.base if recyclable else None
    )
    ctx.timings.mark("new generation")
    return generation


def render(ctx: BuildContext) -> None:
    """Stage 4: render the pages whose inputs changed. "Tin mới nhất" and the poll box are
    rendered once, here, and handed to every page as globals."""
    from markupsafe import Markup

    from . import render as render_mod
    from .i18n import WORDS
    from .render import RenderSetup, Task, render_string, use_setup

    assert ctx.view is not None
    base = RenderSetup(
        templates_dir=str(ctx.site_dir / "templates"),
        widgets_templates_dir=str(ctx.widgets_templates),
        out_dir=str(ctx.target),
        globals=ctx.view.globals(),
        bytecode_dir=str(ctx.cache_dir / "templates"),
        templates_version=_hash(ctx.template_key, ctx.widget_version),
    )
    use_setup(base)
    latest = render_string("partials/latest.html", {"items": ctx.view.latest_items()})
    polls = render_string("partials/polls.html", {})
    polls_en = render_string(
        "partials/polls.html", {"polls": ctx.view.polls_en(), "lang": "en", "ui": WORDS["en"]}
    )
    shared = {
        "latest_html": Markup(latest),
        "polls_html": Markup(polls),
        "polls_html_en": Markup(polls_en),
    }
    setup = replace(base, globals={**base.globals, **shared})
    global_key = _hash(
        BUILDER_VERSION,
        ctx.template_key,
        _hash(ctx.settings_bytes),
        json.dumps(setup.globals, sort_keys=True, default=str),
    )
    if ctx.manifest.pages:
        _key_pages(ctx, global_key)
        todo = _pages_to_render(ctx)
    else:  # nothing was built here before: every page (their keys are made meanwhile)
        todo = list(ctx.tasks)
    ctx.timings.mark("page keys")
    ctx.progress.start("Rendering pages", len(todo))
    meanwhile = partial(_while_rendering, ctx, global_key)
    ctx.pool.refork()  # the parse workers go (their threads would rule out forking)
    if len(todo) < POOL_THRESHOLD or ctx.pool.forks():  # (few: rendered here)
        if len(todo) >= POOL_THRESHOLD and ctx.stored_bodies is None:
            ctx.stored_bodies = ctx.load_bodies()  # once here, not in every worker
        render_mod.load_templates({t.template for t in todo})  # compiled once, inherited
        # Workers forked now inherit the site view: each makes its pages' contexts.
        rendered = ctx.pool.map_shared(
            render_mod.render_pages, todo, ctx.progress, setup, meanwhile=meanwhile
        )
    else:  # spawned workers share nothing: send them the contexts
        tasks: list[Task] = [(t.template, t.file, t.make_context()) for t in todo]
        rendered = ctx.pool.map_chunks(
            render_mod.render_batch, tasks, ctx.progress, setup, meanwhile=meanwhile
        )
    ctx.progress.finish()
    ctx.changed.update(rel for rel, changed in rendered if changed)
    ctx.timings.mark("render")


def _while_rendering(ctx: BuildContext, global_key: str) -> None:
    """What this process does while workers render (it would only wait for them): make
    what only the end of the build needs."""
    from .site_manifest import site_manifest

    _make_extras(ctx)
    assert ctx.view is not None and ctx.resolution is not None
    # The search index entries, for a build of the bodies only in another process: kept by
    # each build that resolved the site anew (an entry holds while its article's digest
    # does; a later edit's entries are remade from it, a few each time).
    if not ctx.kept_model and not ctx.resolution.unchanged:
        entries = ctx.view.search_entries
        cache_mod.save_search_entries(ctx.cache_dir, ctx.out_dir, ctx.resolution.key, entries)
    if ctx.global_key != global_key:
        _key_pages(ctx, global_key)
    assert ctx.config is not None and ctx.resolution is not None
    if ctx.resolution.site_manifest is None and not ctx.resolved_as_last(ctx.resolution.key):
        ctx.resolution.site_manifest = site_manifest(
            ctx.config, ctx.settings_bytes, ctx.tasks, ctx.next_change
        )


def _pages_to_render(ctx: BuildContext) -> list[PageTask]:
    """The pages whose key changed, or that are missing from what is served (the new
    generation has what the served one has)."""
    assert ctx.generation is not None
    known, served = ctx.manifest.pages, str(ctx.generation.previous or ctx.target) + "/"
    intact = ctx.output_intact
    todo: list[PageTask] = []
    for task in ctx.tasks:
        key = ctx.page_keys[task.file]
        if known.get(task.file) == key and (intact or os.path.isfile(served + task.file)):
            continue
        todo.append(task)
        if known.get(task.file) == key:  # deleted by hand: differs from what is served
            ctx.changed.add(task.file)
    return todo


def _key_pages(ctx: BuildContext, global_key: str) -> None:
    """Every page's key (what its bytes follow from), into ctx.page_keys."""
    known = ctx.manifest.pages
    # The pages a resolution of the bodies only keeps (see Resolution.unchanged).
    unchanged = ctx.resolution.unchanged if ctx.resolution else frozenset()
    # (The same resolution key means the same templates, settings and globals.)
    assert not unchanged or ctx.manifest.global_key == global_key, "pages kept from another site"
    ctx.page_keys.update((f, k) for f, k in known.items() if f in unchanged)
    assert ctx.resolution is not None
    # A task kept from the last build (the same key tuple) with none of its bodies edited
    # has the same key as then: 9,000 hashes add up in an editor's rebuild.
    last = ctx.resolution.page_keys or _last_page_keys(ctx, global_key)
    if last.global_key != global_key:
        last = PageKeys(global_key, {}, {})
    edited = {rel for rel, d in ctx.digests.items() if last.digests.get(rel) != d}
    for task in ctx.tasks:
        kept = last.keys.get(task.file)
        if kept is not None and kept[0] is task.key and edited.isdisjoint(task.bodies):
            key = kept[1]
        else:
            bodies = [ctx.digests[source] for source in task.bodies]
            key = _hash(global_key, task.template, *task.key, *bodies)
        ctx.page_keys[task.file] = key
    keys = {t.file: (t.key, ctx.page_keys[t.file]) for t in ctx.tasks}
    ctx.resolution.page_keys = PageKeys(global_key, dict(ctx.digests), keys)
    ctx.global_key = global_key


def _last_page_keys(ctx: BuildContext, global_key: str) -> PageKeys:
    """The last build's page keys, as the manifest keeps them, when that build resolved
    the site as this one does (a build in a new process, after an edit to a body)."""
    assert ctx.resolution is not None
    m = ctx.manifest
    if m.global_key != global_key or not ctx.resolved_as_last(ctx.resolution.key):
        return PageKeys(global_key, {}, {})
    known = m.pages
    keys = {t.file: (t.key, known[t.file]) for t in ctx.tasks if t.file in known}
    return PageKeys(global_key, {rel: stat[3] for rel, stat in m.sources.items()}, keys)


def write_extras(ctx: BuildContext) -> None:
    """Stage 5: feeds, sitemap, search index, static files, each written where its bytes
    changed."""
    from .render import write_if_changed

    assert ctx.generation is not None
    _make_extras(ctx)
    target, served = ctx.target, ctx.generation.previous or ctx.target
    for rel, data in sorted(ctx.extras.items()):
        assert isinstance(data, bytes)
        if write_if_changed(target / rel, data) or not (served / rel).is_file():
            ctx.changed.add(rel)
    if ctx.images:
        from .images import write_variants

        ctx.changed.update(write_variants(target, ctx.images.files))
        ctx.changed.update(rel for rel in ctx.images.files if not (served / rel).is_file())
    ctx.timings.mark("feeds, index, static")


def prune(ctx: BuildContext) -> None:
    """Stage 6: remove what an earlier build made and this one no longer does."""
    for rel in sorted(set(ctx.manifest.files) - ctx.produced):
        try:
            (ctx.target / rel).unlink()
            ctx.changed.add(rel)
            ctx.removed += 1
        except FileNotFoundError:
            pass


def write_site_manifest(ctx: BuildContext) -> None:
    """Stage 7: `_portal/site.json`, what the service follows (pages, polls, time zone)."""
    from .render import write_if_changed
    from .site_manifest import site_manifest

    assert ctx.config is not None and ctx.resolution is not None
    data = ctx.resolution.site_manifest  # the same pages, polls and time: the same bytes
    last_holds = data is None and ctx.resolved_as_last(ctx.resolution.key)
    if last_holds and (ctx.target / SITE_MANIFEST).is_file():  # as the last build wrote it
        ctx.timings.mark("site manifest")
        return
    if data is None:
        data = site_manifest(ctx.config, ctx.settings_bytes, ctx.tasks, ctx.next_change)
        ctx.resolution.site_manifest = data
    if write_if_changed(ctx.target / SITE_MANIFEST, data):
        ctx.changed.add(SITE_MANIFEST)
    ctx.timings.mark("site manifest")


def save_articles_meanwhile(ctx: BuildContext) -> Callable[[], None]:
    """Stage 2c: the parsed articles saved for the next build, by a child process while
    this one resolves the site (on one core: the other is free then); returns what waits
    for it. Rewriting the whole article cache costs more than parsing a few articles
    again, so a build that parsed only a few leaves it as it was (the next one re-parses
    those few)."""
    n = len(ctx.articles_by_digest)
    due = len(ctx.fresh) > max(16, n // 50) or (ctx.fresh and n < 1000)
    if not due:
        return lambda: None
    ctx.pool.close()  # the parse workers are done (a pool's thread would rule out forking)

    def save() -> None:
        bodies = {d: ctx.body_of(a) for d, a in ctx.articles_by_digest.items()}
        cache_mod.save_articles(ctx.cache_dir, ctx.articles_by_digest, bodies)

    return in_child(save)


def save_caches(ctx: BuildContext) -> None:
    """Last: what this build wrote, for the next build."""
    assert ctx.model is not None and ctx.generation is not None
    files = sorted(ctx.produced)
    cache_mod.save_manifest(
        ctx.cache_dir,
        ctx.out_dir,
        cache_mod.Manifest(
            out_dir=cache_mod.out_key(ctx.out_dir),
            fingerprint=ctx.fingerprint,
            next_publish=ctx.next_change.timestamp() if ctx.next_change else None,
            pages=ctx.page_keys,
            files=files,
            articles=len(ctx.model.articles),
            sources=ctx.stats,
            generation=ctx.target.name,
            base=ctx.generation.previous.name if ctx.generation.previous else "",
            changed=sorted(ctx.changed),
            directories=_directory_times(ctx.out_dir, files),
            resolution=ctx.resolution.key if ctx.resolution else "",
            global_key=ctx.global_key,
        ),
    )
    ctx.timings.mark("cache")
