"""Loading one article: YAML front matter, validation, Markdown to HTML.

Everything here depends only on the file's path and bytes (never on `site.toml`), so a
parsed article can be cached by content hash and reused across builds and settings changes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import posixpath
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import yaml
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.token import Token

from .errors import BuildError
from .slugs import is_valid_slug

# Bump when parse output changes shape or meaning: it invalidates every cached article.
PARSER_VERSION = "1"

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

try:  # libyaml is several times faster; fall back to the pure-Python loader without it
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader


@dataclass(frozen=True, slots=True)
class ParsedArticle:
    """One article as read from its Markdown file (site settings not applied yet)."""

    source: str  # path relative to content/, POSIX separators
    digest: str  # hash of path + bytes + parser version: the cache key
    title: str
    date: dt.datetime  # may be naive: then it is in the site's time zone
    updated: dt.datetime | None
    category: str
    author: str | None
    summary: str
    slug: str | None  # given by the editor, else None (derived from the title later)
    image: str | None
    image_alt: str | None
    image_caption: str | None
    draft: bool
    tags: tuple[str, ...]
    body_html: str
    md_links: tuple[str, ...]  # content-relative .md files this article links to
    abs_links: tuple[str, ...]  # site-absolute paths it links to, e.g. /bai-viet/x.html
    images: tuple[str, ...]  # site-absolute image paths it shows


def digest_for(source: str, raw: bytes) -> str:
    """The cache key of one content file."""
    h = hashlib.blake2b(digest_size=16)
    h.update(PARSER_VERSION.encode())
    h.update(b"\0")
    h.update(source.encode())
    h.update(b"\0")
    h.update(raw)
    return h.hexdigest()


_md: MarkdownIt | None = None


def markdown() -> MarkdownIt:
    """The shared Markdown parser: CommonMark + tables, raw HTML off (no unchecked markup)."""
    global _md
    if _md is None:
        _md = MarkdownIt("commonmark", {"html": False, "typographer": False}).enable("table")
    return _md


def split_front_matter(text: str, where: str) -> tuple[str, str]:
    """Split `---` YAML front matter from the Markdown body."""
    if text.startswith("\ufeff"):
        text = text[1:]
    first, _, rest = text.partition("\n")
    if first.rstrip() != "---":
        raise BuildError(f"{where}: no YAML front matter (the file must start with a '---' line)")
    lines = rest.split("\n")
    for i, line in enumerate(lines):
        if line.rstrip() in ("---", "..."):
            return "\n".join(lines[:i]), "\n".join(lines[i + 1 :])
    raise BuildError(f"{where}: front matter is not closed (add a '---' line after it)")


def _parse_date(value: Any, key: str, where: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.strip())
        except ValueError:
            pass
    raise BuildError(
        f"{where}: '{key}' is not a valid date: {value!r} "
        "(use ISO 8601, e.g. 2023-03-21T08:30:00+07:00)"
    )


def _text(value: Any, key: str, where: str, *, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise BuildError(f"{where}: missing required field '{key}'")
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise BuildError(f"{where}: '{key}' must be text, got {value!r}")
    value = value.strip()
    if required and not value:
        raise BuildError(f"{where}: '{key}' is empty")
    return value or None


def _inline_text(children: list[Token] | None) -> str:
    out: list[str] = []
    for tok in children or []:
        if tok.type in ("text", "code_inline"):
            out.append(tok.content)
        elif tok.type in ("softbreak", "hardbreak"):
            out.append(" ")
        elif tok.type == "image":
            out.append(_inline_text(tok.children))
    return "".join(out)


def _truncate(text: str, limit: int = _SUMMARY_LENGTH) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:.-–") + "…"


@dataclass(slots=True)
class _Refs:
    md_links: list[str]
    abs_links: list[str]
    images: list[str]
    errors: list[str]


def _check_link(href: str, source: str, refs: _Refs) -> str:
    """Record an internal link for checking; return the href to emit."""
    if href.startswith("#") or href.startswith("//") or _SCHEME.match(href):
        return href
    path, sep, fragment = href.partition("#")
    path = unquote(path.split("?", 1)[0])
    if path.endswith(".md"):
        base = "" if path.startswith("/") else posixpath.dirname(source)
        target = posixpath.normpath(posixpath.join(base, path.lstrip("/")))
        if target.startswith("../") or target == "..":
            refs.errors.append(f"link {href!r} points outside the content folder")
            return href
        refs.md_links.append(target)
        return MD_LINK_PREFIX + target + sep + fragment
    if path.startswith("/"):
        refs.abs_links.append(path)
        return href
    refs.errors.append(
        f"relative link {href!r}: link to an article's .md file or use a path starting with /"
    )
    return href


def _check_image(src: str, alt: str, refs: _Refs) -> None:
    if not alt.strip():
        refs.errors.append(f"image {src!r} has no alt text (write ![description]({src}))")
    if src.startswith("//") or _SCHEME.match(src):
        return
    path = unquote(src.split("?", 1)[0].split("#", 1)[0])
    if not path.startswith("/"):
        refs.errors.append(f"image {src!r}: use a path starting with /static/")
        return
    refs.images.append(path)


def _figure(img: Token) -> str:
    src = escapeHtml(str(img.attrGet("src") or ""))
    alt = escapeHtml(_inline_text(img.children))
    title = img.attrGet("title")
    caption = f"<figcaption>{escapeHtml(str(title))}</figcaption>" if title else ""
    return (
        f'<figure class="figure"><img src="{src}" alt="{alt}" loading="lazy" decoding="async">'
        f"{caption}</figure>\n"
    )


def render_markdown(body: str, source: str) -> tuple[str, str, _Refs]:
    """Markdown to HTML: images alone in a paragraph become figures, # becomes h2 (the
    title is the page's only h1), links are collected for checking."""
    md = markdown()
    tokens = md.parse(body)
    refs = _Refs([], [], [], [])
    first_paragraph = ""
    out: list[Token] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type in ("heading_open", "heading_close") and tok.tag == "h1":
            tok.tag = "h2"
        if tok.type == "inline":
            for child in tok.children or []:
                if child.type == "image":
                    _check_image(
                        str(child.attrGet("src") or ""), _inline_text(child.children), refs
                    )
                elif child.type == "link_open":
                    child.attrSet(
                        "href", _check_link(str(child.attrGet("href") or ""), source, refs)
                    )
        if (
            tok.type == "paragraph_open"
            and i + 2 < len(tokens)
            and tokens[i + 2].type == "paragraph_close"
        ):
            inline = tokens[i + 1]
            kids = [
                c for c in inline.children or [] if not (c.type == "text" and not c.content.strip())
            ]
            if len(kids) == 1 and kids[0].type == "image":
                block = Token("html_block", "", 0)
                block.content = _figure(kids[0])
                out.append(block)
                i += 3
                continue
            if not first_paragraph:
                first_paragraph = _inline_text(inline.children)
        out.append(tok)
        i += 1
    html = md.renderer.render(out, md.options, {})
    return html, first_paragraph, refs


def parse_article(source: str, raw: bytes, where: str) -> ParsedArticle:
    """Parse one content file. `where` is how errors name it (e.g. content/tin-tuc/a.md)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BuildError(f"{where}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    text = text.replace("\r\n", "\n")
    fm_text, body = split_front_matter(text, where)
    try:
        fm = yaml.load(fm_text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 2}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise BuildError(f"{where}{line}: front matter is not valid YAML: {problem}") from None
    if fm is None:
        fm = {}
    if not isinstance(fm, dict):
        raise BuildError(f"{where}: front matter must be 'key: value' lines")
    unknown = sorted(str(k) for k in fm if k not in _FIELDS)
    if unknown:
        raise BuildError(
            f"{where}: unknown front matter field {unknown[0]!r} "
            f"(known: {', '.join(sorted(_FIELDS))})"
        )
    title = _text(fm.get("title"), "title", where, required=True)
    assert title is not None
    if "date" not in fm or fm["date"] is None:
        raise BuildError(f"{where}: missing required field 'date'")
    date = _parse_date(fm["date"], "date", where)
    updated = _parse_date(fm["updated"], "updated", where) if fm.get("updated") else None
    category = _text(fm.get("category"), "category", where, required=True)
    assert category is not None
    slug = _text(fm.get("slug"), "slug", where)
    if slug is not None and not is_valid_slug(slug):
        raise BuildError(
            f"{where}: slug {slug!r} must be lowercase letters, digits and single hyphens"
        )
    draft = fm.get("draft", False)
    if not isinstance(draft, bool):
        raise BuildError(f"{where}: 'draft' must be true or false, got {draft!r}")
    tags_raw = fm.get("tags") or []
    if isinstance(tags_raw, str):
        tags_raw = [tags_raw]
    if not isinstance(tags_raw, list) or not all(isinstance(t, str) for t in tags_raw):
        raise BuildError(f"{where}: 'tags' must be a list of words")
    image = _text(fm.get("image"), "image", where)
    image_alt = _text(fm.get("image_alt"), "image_alt", where)
    image_caption = _text(fm.get("image_caption"), "image_caption", where)

    html, first_paragraph, refs = render_markdown(body, source)
    if image is not None:
        if image_alt is None:
            refs.errors.append(f"front matter image {image!r} has no 'image_alt' text")
        _check_image(image, image_alt or "x", refs)
    if refs.errors:
        raise BuildError("\n".join(f"{where}: {e}" for e in refs.errors))
    summary = _text(fm.get("summary"), "summary", where) or _truncate(first_paragraph)
    return ParsedArticle(
        source=source,
        digest=digest_for(source, raw),
        title=title,
        date=date,
        updated=updated,
        category=category,
        author=_text(fm.get("author"), "author", where),
        summary=summary,
        slug=slug,
        image=image,
        image_alt=image_alt,
        image_caption=image_caption,
        draft=draft,
        tags=tuple(t.strip() for t in tags_raw if t.strip()),
        body_html=html,
        md_links=tuple(refs.md_links),
        abs_links=tuple(refs.abs_links),
        images=tuple(refs.images),
    )
