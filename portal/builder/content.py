"""Loading one article: YAML front matter, validation, Markdown to HTML.

Everything here depends only on the file's path and bytes (never on `site.toml`), so a
parsed article can be cached by content hash and reused across builds and settings changes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import operator
import posixpath
import re
from dataclasses import dataclass
from functools import cached_property
from html import escape, unescape
from typing import Any, NamedTuple
from urllib.parse import unquote

from .digest import digest_for
from .errors import BuildError, Problem, did_you_mean
from .search import fold, json_string
from .slugs import is_valid_slug, slugify

#: Placeholder for a link to another article's source file; the renderer swaps in its URL
#: once every slug is known (slugs depend on the whole site, parsing must not).
MD_LINK_PREFIX = "portal-md:"

_FIELDS = {
    "title",
    "date",
    "updated",
    "category",
    "author",
    "summary",
    "slug",
    "image",
    "image_alt",
    "image_caption",
    "draft",
    "tags",
}
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_SUMMARY_LENGTH = 220
#: How much body text an article keeps for search (bounds the index on big sites).
TEXT_LIMIT = 1000

_loader: Any = None


def _load_yaml(text: str) -> Any:
    """PyYAML, imported on first use (a build with nothing to parse never needs it), and
    untyped: it ships no type information."""
    global _loader
    if _loader is None:
        yaml = importlib.import_module("yaml")
        # libyaml is several times faster; the pure-Python loader when PyYAML lacks it.
        _loader = front_matter_loader(getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader)
    loader = _loader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


_YAML_TAG = "tag:yaml.org,2002:"
_YAML_STR = _YAML_TAG + "str"
# Scalars SafeConstructor builds from their node alone (not sets, binary, merge keys...).
_YAML_SIMPLE = frozenset(
    [_YAML_STR, *(_YAML_TAG + t for t in ("null", "bool", "int", "float", "timestamp"))]
)


def front_matter_loader(base: Any) -> Any:
    """`base` (PyYAML's SafeLoader or CSafeLoader) with the same results, faster on front
    matter: plain scalars' tags are cached, and a flat mapping of scalars and lists of
    scalars is built without the generic per-node machinery."""
    yaml = importlib.import_module("yaml")
    scalar, sequence, mapping = yaml.ScalarNode, yaml.SequenceNode, yaml.MappingNode
    seq, map_ = _YAML_TAG + "seq", _YAML_TAG + "map"
    tags: dict[str, str] = {}

    def simple(node: Any) -> bool:
        return type(node) is scalar and node.tag in _YAML_SIMPLE

    def simple_list(node: Any) -> bool:
        return type(node) is sequence and node.tag == seq and all(map(simple, node.value))

    def is_flat(node: Any) -> bool:
        return (
            type(node) is mapping
            and node.tag == map_
            and all(simple(k) and (simple(v) or simple_list(v)) for k, v in node.value)
        )

    class Loader(base):  # type: ignore[misc]
        # No-ops without path resolvers (SafeLoader has none): C callables spare the
        # composer two Python calls per node.
        descend_resolver = staticmethod(operator.is_)
        ascend_resolver = staticmethod(tuple)

        def resolve(self, kind: Any, value: str, implicit: tuple[bool, bool]) -> str:
            """A plain scalar's tag depends on its text alone: most recur (keys,
            categories, true/false), and finding one takes a few regex matches."""
            if kind is not scalar or not implicit[0]:
                other: str = super().resolve(kind, value, implicit)
                return other
            tag = tags.get(value)
            if tag is None:
                if len(tags) >= 10_000:  # bounded: values like titles never recur
                    tags.clear()
                tag = tags[value] = super().resolve(kind, value, implicit)
            return tag

        def construct_document(self, node: Any) -> Any:
            if is_flat(node):
                return _flat_mapping(self, node.value, scalar)
            return super().construct_document(node)

    return Loader


def _flat_mapping(loader: Any, pairs: list[tuple[Any, Any]], scalar: Any) -> dict[Any, Any]:
    """What SafeConstructor builds from these (key, value) nodes (see `front_matter_loader`),
    in its order, which decides the error raised: keys and scalar values first, then the
    lists' items."""
    build = loader.yaml_constructors
    data: dict[Any, Any] = {}
    lists: list[tuple[list[Any], list[Any]]] = []
    for k, v in pairs:
        key = k.value if k.tag == _YAML_STR else build[k.tag](loader, k)
        if type(v) is scalar:
            data[key] = v.value if v.tag == _YAML_STR else build[v.tag](loader, v)
        else:
            items: list[Any] = []
            data[key] = items
            lists.append((items, v.value))
    for items, nodes in lists:
        items.extend([n.value if n.tag == _YAML_STR else build[n.tag](loader, n) for n in nodes])
    return data


class ParsedArticle(NamedTuple):
    """One article as read from its Markdown file (site settings not applied yet).

    A named tuple rather than a frozen dataclass: thousands are made from cache rows, and
    sent back from the parse workers, on every build; a tuple is made and unpickled in C,
    a frozen dataclass field by field in Python."""

    source: str  # path relative to content/, POSIX separators
    digest: str  # hash of path + bytes + parser version: the cache key
    title: str
    date: dt.datetime  # may be naive: then it is in the site's time zone
    updated: dt.datetime | None
    category: str
    author: str | None
    summary: str
    summary_given: bool  # the editor wrote it (then it is shown as the lead paragraph)
    slug: str | None  # given by the editor, else None
    title_slug: str  # the slug the title gives (used when `slug` is None)
    image: str | None
    image_alt: str | None
    image_caption: str | None
    draft: bool
    tags: tuple[str, ...]
    body_html: str | None  # None when loaded from the cache: see cache.load_articles
    search_key: bytes  # title, summary, tags and the body's start, folded, as a JSON string
    md_links: tuple[str, ...]  # content-relative .md files this article links to
    abs_links: tuple[str, ...]  # site-absolute paths it links to, e.g. /bai-viet/x.html
    images: tuple[str, ...]  # site-absolute image paths it shows
    # Hash of every field above but the digest, the body and the search text: what the rest
    # of the site (lists, feeds, links, slugs) shows of this article. An edit that keeps it
    # changes this article's own pages and the search index only.
    shape: str = ""


#: The fields `shape` does not cover: they change with any edit of the body.
TEXT_FIELDS = ("digest", "body_html", "search_key", "shape")


_SHAPE_FIELDS = tuple(name for name in ParsedArticle._fields if name not in TEXT_FIELDS)


def _with_shape(**values: Any) -> ParsedArticle:
    """A ParsedArticle of these fields, with its `shape` (made before the object: one
    construction rather than a copy)."""
    parts = [repr(values[name]) for name in _SHAPE_FIELDS]
    shape = hashlib.blake2b("\0".join(parts).encode(), digest_size=16).hexdigest()
    return ParsedArticle(**values, shape=shape)


_md: Any = None

# CommonMark without raw HTML (editors' markup is escaped, never passed through), plus tables.
_PLUGINS: list[Any] = [  # (the stubs want literals)
    "blockquote", "code", "fence", "heading", "hr", "lheading", "list", "paragraph",
    "reference", "autolink", "backticks", "emphasis", "entity", "escape", "image", "link",
    "newline", "table",
]  # fmt: skip


def markdown() -> Any:
    """The shared Markdown parser (markdown-it.rs: the Rust port, many times faster),
    imported on first use."""
    global _md
    if _md is None:
        from markdown_it_pyrs import MarkdownIt

        _md = MarkdownIt("zero").enable_many(_PLUGINS)
    return _md


def warm_up() -> None:
    """Import and set up the YAML and Markdown parsers (before forking workers)."""
    _load_yaml("")
    markdown()


_CLOSING = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.M)
_DATE_HINT = "use ISO 8601, e.g. 2023-03-21T08:30:00+07:00"


class _FileProblems:
    """The problems of one content file, with the line of each front matter field."""

    def __init__(self, file: str, fm_text: str = "") -> None:
        self.file = file
        self.problems: list[Problem] = []
        self.fm_text = fm_text

    @cached_property
    def lines(self) -> dict[str, int]:
        """The line of each front matter field (mapped only for a file with problems)."""
        lines: dict[str, int] = {}
        for i, line in enumerate(self.fm_text.splitlines()):
            key, sep, _ = line.partition(":")
            if sep and key and not key[0].isspace():
                lines.setdefault(key.strip(), i + 2)  # line 1 is the opening ---
        return lines

    @property
    def body_line(self) -> int:
        """The line after the closing ---."""
        return self.fm_text.count("\n") + 3

    def add(self, field: str | None, message: str, hint: str | None = None) -> None:
        line = self.lines.get(field) if field else None
        self.problems.append(Problem(self.file, line, field, message, hint))

    def in_body(self, body: str, needle: str, message: str, hint: str | None = None) -> None:
        """A problem about something in the body, on the line where it first appears."""
        at = body.find(needle) if needle else -1
        line = self.body_line + body.count("\n", 0, at) if at >= 0 else None
        self.problems.append(Problem(self.file, line, None, message, hint))


def split_front_matter(text: str, file: str) -> tuple[str, str]:
    """Split `---` YAML front matter from the Markdown body."""
    if text.startswith("\ufeff"):
        text = text[1:]
    first, _, rest = text.partition("\n")
    if first.rstrip() != "---":
        raise BuildError(
            [
                Problem(
                    file, 1, None, "no YAML front matter", "the file must start with a '---' line"
                )
            ]
        )
    m = _CLOSING.search(rest)
    if m is None:
        raise BuildError(
            [Problem(file, 1, None, "front matter is not closed", "add a '---' line after it")]
        )
    return rest[: m.start()], rest[m.end() + 1 :]


def _parse_date(value: Any, key: str, fp: _FileProblems) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.strip())
        except ValueError:
            pass
    fp.add(key, f"not a valid date: {value!r}", _DATE_HINT)
    return None


def _text(value: Any, key: str, fp: _FileProblems, *, required: bool = False) -> str | None:
    if value is None:
        if required:
            fp.add(key, "missing", f"add a {key}: line to the front matter")
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        fp.add(key, f"must be text, got {value!r}")
        return None
    value = value.strip()
    if required and not value:
        fp.add(key, "is empty", f"write the {key} after '{key}:'")
    return value or None


_TAG = re.compile(r"<[^>]+>")


def _plain(html: str) -> str:
    """Text of rendered HTML, whitespace collapsed."""
    text = _TAG.sub(" ", html)
    return _collapse(unescape(text) if "&" in text else text)


def _collapse(text: str) -> str:
    """`" ".join(text.split())`, without making an object per word when the only
    whitespace is spaces and newlines (the renderer's usual output)."""
    text = text.replace("\n", " ")
    # Every whitespace character but the space is unprintable.
    if not text.isprintable():
        return " ".join(text.split())
    while "  " in text:  # runs are short: a tag between line breaks leaves three
        text = text.replace("  ", " ")
    return text.strip(" ")


def _truncate(text: str, limit: int = _SUMMARY_LENGTH) -> str:
    """`text` (whitespace collapsed) cut at a word to at most `limit` characters."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:.-\u2013") + "\u2026"


@dataclass(slots=True)
class _Refs:
    md_links: list[str]
    abs_links: list[str]
    images: list[str]
    errors: list[tuple[str, str, str | None]]  # (text to find in the body, message, hint)


def _check_link(href: str, source: str, refs: _Refs) -> str:
    """Record an internal link for checking; return the (unescaped) href to emit."""
    if href.startswith("#") or href.startswith("//") or _SCHEME.match(href):
        return href
    path, sep, fragment = href.partition("#")
    path = unquote(path.split("?", 1)[0])
    if path.endswith(".md"):
        base = "" if path.startswith("/") else posixpath.dirname(source)
        target = posixpath.normpath(posixpath.join(base, path.lstrip("/")))
        if target.startswith("../") or target == "..":
            refs.errors.append((href, f"link {href!r} points outside the content folder", None))
            return href
        refs.md_links.append(target)
        return f"{MD_LINK_PREFIX}{len(refs.md_links) - 1}:{sep}{fragment}"
    if path.startswith("/"):
        refs.abs_links.append(path)
        return href
    refs.errors.append(
        (href, f"relative link {href!r}", "link to an article's .md file or use a path from /")
    )
    return href


def _check_image(src: str, alt: str, refs: _Refs) -> None:
    if not alt.strip():
        refs.errors.append((src, f"image {src!r} has no alt text", f"write ![description]({src})"))
    if src.startswith("//") or _SCHEME.match(src):
        return
    path = unquote(src.split("?", 1)[0].split("#", 1)[0])
    if not path.startswith("/"):
        refs.errors.append((src, f"image {src!r} is not under /static/", "use /static/..."))
        return
    refs.images.append(path)


# The renderer's own output, so its shape is known: attributes in this order, values escaped.
_LONE_IMAGE = re.compile(r'<p><img src="([^"]*)" alt="([^"]*)"(?: title="([^"]*)")? /></p>')
_IMAGE = re.compile(r'<img src="([^"]*)" alt="([^"]*)"')
_HREF = re.compile(r'<a href="([^"]*)"')
_ALIGN = re.compile(r' style="text-align:(left|center|right)"')


def _figure(m: re.Match[str]) -> str:
    caption = f"<figcaption>{m.group(3)}</figcaption>" if m.group(3) else ""
    return (
        f'<figure class="figure"><img src="{m.group(1)}" alt="{m.group(2)}" loading="lazy" '
        f'decoding="async">{caption}</figure>'
    )


def _first_paragraph(html: str) -> str:
    """The text of the first paragraph that has some (str.find: a regex's lazy `.*?`
    tries each character)."""
    start = html.find("<p>")
    while start >= 0:
        end = html.find("</p>", start + 3)
        if end < 0:
            break
        text = _plain(html[start + 3 : end])
        if text:
            return text
        start = html.find("<p>", end + 4)
    return ""


def render_markdown(body: str, source: str, file: str | None = None) -> tuple[str, str, str, _Refs]:
    """Markdown to HTML: images alone in a paragraph become figures (the title is the
    caption), # becomes h2 (the page title is the only h1), links and images are
    collected for checking. Returns (html, first paragraph text, plain text, refs).
    Text the renderer fails on is a BuildError naming `file` (default: `source`)."""
    refs = _Refs([], [], [], [])
    try:
        html = markdown().render(body)
    except BaseException as exc:
        # markdown-it.rs panics on some text (e.g. "[`x": an unclosed code span after a
        # bracket); the panic reaches Python as pyo3's PanicException, a BaseException.
        if type(exc).__name__ != "PanicException":
            raise
        message = "the Markdown renderer failed on this text"
        hint = "look for an unclosed ` or [ and close it (or escape it: \\` \\[)"
        raise BuildError([Problem(file or source, None, None, message, hint)]) from None
    for m in _IMAGE.finditer(html):
        _check_image(unescape(m.group(1)), unescape(m.group(2)), refs)
    if "<p><img " in html:
        html = _LONE_IMAGE.sub(_figure, html)
    if "<a " in html:
        html = _HREF.sub(
            lambda m: f'<a href="{escape(_check_link(unescape(m.group(1)), source, refs))}"',
            html,
        )
    html = html.replace("<h1>", "<h2>").replace("</h1>", "</h2>")
    if ' style="text-align:' in html:
        # Table column alignment as classes: the pages' CSP forbids style attributes.
        html = _ALIGN.sub(r' class="align-\1"', html)
    return html, _first_paragraph(html), _start_text(html), refs


def _start_text(html: str) -> str:
    """The first TEXT_LIMIT characters of the text of the first TEXT_LIMIT * 3 of `html`."""
    head = html[: TEXT_LIMIT * 3]
    # The text of the head's start up to a tag's end is the start of the head's text: a
    # tag becomes a space, which neither an entity nor a word runs across. So when that
    # holds enough text, the rest of the head need not be made text.
    tag = _TAG.search(head, TEXT_LIMIT + TEXT_LIMIT // 4)
    if tag is not None:
        text = _plain(head[: tag.end()])
        if len(text) >= TEXT_LIMIT:
            return text[:TEXT_LIMIT]
    if head.rfind("<") > head.rfind(">"):
        head = head[: head.rfind("<")]  # don't leave half a tag in the text
    return _plain(head)[:TEXT_LIMIT]


def parse_article(source: str, raw: bytes, file: str) -> ParsedArticle:
    """Parse one content file; a BuildError lists every problem it has. `file` is how
    problems name it (e.g. content/tin-tuc/a.md)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text ({exc.reason} at byte {exc.start})"
        raise BuildError([Problem(file, None, None, message, "save the file as UTF-8")]) from None
    fm_text, body = split_front_matter(text.replace("\r\n", "\n"), file)
    fp = _FileProblems(file, fm_text)
    fm = _front_matter(fm_text, fp)
    if fm is None:  # unreadable front matter: its fields can't be checked, the body can
        for needle, message, hint in render_markdown(body, source, file)[3].errors:
            fp.in_body(body, needle, message, hint)
        raise BuildError(fp.problems)
    title, date, category, slug, draft = _required_fields(fm, fp)
    updated = _parse_date(fm["updated"], "updated", fp) if fm.get("updated") else None
    tags = _tags(fm.get("tags"), fp)
    image = _text(fm.get("image"), "image", fp)
    image_alt = _text(fm.get("image_alt"), "image_alt", fp)

    html, first_paragraph, plain, refs = render_markdown(body, source, file)
    if image is not None:
        if image_alt is None:
            fp.add("image", f"{image!r} has no alt text", "add an image_alt: line describing it")
        _check_image(image, image_alt or "x", refs)
    for needle, message, hint in refs.errors:
        fp.in_body(body, needle, message, hint)
    if fp.problems:
        raise BuildError(fp.problems)
    assert date is not None
    summary = _text(fm.get("summary"), "summary", fp) or _truncate(first_paragraph)
    return _with_shape(
        source=source,
        digest=digest_for(source, raw),
        title=title,
        date=date,
        updated=updated,
        category=category,
        author=_text(fm.get("author"), "author", fp),
        summary=summary,
        summary_given=fm.get("summary") is not None,
        slug=slug,
        title_slug=slugify(title),
        image=image,
        image_alt=image_alt,
        image_caption=_text(fm.get("image_caption"), "image_caption", fp),
        draft=draft,
        tags=tags,
        body_html=html,
        # Encoded here, in parallel and cached, rather than for the whole index every build.
        search_key=json_string(fold(" ".join([title, summary, *tags, plain]))).encode(),
        md_links=tuple(refs.md_links),
        abs_links=tuple(refs.abs_links),
        images=tuple(refs.images),
    )


def _required_fields(
    fm: dict[str, Any], fp: _FileProblems
) -> tuple[str, dt.datetime | None, str, str | None, bool]:
    """Title, date, category, slug and draft, checked; unknown fields are problems too."""
    for key in sorted(str(k) for k in fm if k not in _FIELDS):
        fp.add(key, "unknown front matter field", did_you_mean(key, _FIELDS))
    title = _text(fm.get("title"), "title", fp, required=True) or ""
    date = None
    if fm.get("date") is None:
        fp.add("date", "missing", "add a date: line, e.g. date: 2023-03-21T08:30:00+07:00")
    else:
        date = _parse_date(fm["date"], "date", fp)
    category = _text(fm.get("category"), "category", fp, required=True) or ""
    slug = _text(fm.get("slug"), "slug", fp)
    if slug is not None and not is_valid_slug(slug):
        fp.add("slug", f"{slug!r} is not a valid slug", "use lowercase letters, digits, hyphens")
    draft = fm.get("draft", False)
    if not isinstance(draft, bool):
        fp.add("draft", f"must be true or false, got {draft!r}")
    return title, date, category, slug, draft is True


def _front_matter(fm_text: str, fp: _FileProblems) -> dict[str, Any] | None:
    """The front matter as a dict; None (and a problem) when it is not valid YAML."""
    try:
        fm = _load_yaml(fm_text)
    except (ValueError, OverflowError) as exc:
        # YAML reads it, Python can't hold it: `date: 2023-13-01`, `x: 0b_`.
        message = f"front matter has a value that is not possible: {exc}"
        hint = "check the dates and numbers (e.g. date: 2023-03-21T08:30:00+07:00)"
        fp.problems.append(Problem(fp.file, None, None, message, hint))
        return None
    except Exception as exc:  # yaml.YAMLError, without importing yaml up front
        if not any(c.__name__ == "YAMLError" for c in type(exc).__mro__):
            raise
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        line = mark.line + 2 if mark is not None else None
        fp.problems.append(
            Problem(fp.file, line, None, f"front matter is not valid YAML: {problem}", None)
        )
        return None
    if fm is None:
        return {}
    if not isinstance(fm, dict):
        fp.add(None, "front matter must be 'key: value' lines")
        return None
    return fm


def _tags(value: Any, fp: _FileProblems) -> tuple[str, ...]:
    tags = value or []
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        fp.add("tags", "must be a list of words", "e.g. tags: [nông nghiệp, lúa]")
        return ()
    return tuple(t.strip() for t in tags if t.strip())
