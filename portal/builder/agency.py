"""What a state agency's portal has besides articles (Decree 42/2022/NĐ-CP, Article 7):
pages of their own (site/pages/, Vietnamese, and English under site/pages/en/) and the
organisation and contact directory (site/data/units.yaml, site/data/officials.yaml).

Two files with the same name, one in pages/ and one in pages/en/, are the two versions of
one page: each links to the other. A page with `data: organisation` or `data: directory`
in its front matter shows the units or the officials after its text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import BuildError, Problem
from .files import DATA_DIR, PAGES_DIR
from .i18n import PREFIX
from .slugs import is_valid_slug

UNITS_FILE = f"{DATA_DIR}/units.yaml"
OFFICIALS_FILE = f"{DATA_DIR}/officials.yaml"
DATA_KINDS = ("organisation", "directory")
_PAGE_KEYS = {"title", "slug", "description", "data", "updated"}
#: Addresses the builder's own pages use: a page may not take them.
_RESERVED = re.compile(r"^(?:index|404|tim-kiem|trang-\d+)$")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$")
_PHONE = re.compile(r"^\+?[0-9][0-9 .()-]{5,24}$")


@dataclass(frozen=True, slots=True)
class SitePage:
    """A page that is not an article, in one language."""

    source: str  # e.g. pages/en/gioi-thieu.md
    name: str  # the file name, shared by the two versions of one page
    lang: str
    title: str
    url: str
    description: str
    body_html: str
    text: str  # plain text, for the search
    data: str | None  # "organisation", "directory" or None
    updated: Any  # a date, or None
    links: tuple[str, ...]  # site-absolute links in its text, checked by the build
    translation: str | None = None  # the other version's URL


@dataclass(frozen=True, slots=True)
class Unit:
    """One unit of the agency."""

    id: str
    name: dict[str, str]  # by language
    functions: dict[str, str]
    address: dict[str, str]
    head: str


@dataclass(frozen=True, slots=True)
class Official:
    """One official of the contact directory."""

    name: str
    position: dict[str, str]
    unit: str  # a Unit id
    phone: str
    email: str
    fax: str = ""


@dataclass
class Agency:
    """The pages and the directory of a site."""

    pages: list[SitePage] = field(default_factory=list)
    units: list[Unit] = field(default_factory=list)
    officials: list[Official] = field(default_factory=list)

    def of_unit(self, unit_id: str) -> list[Official]:
        return [o for o in self.officials if o.unit == unit_id]


def load_agency(raws: dict[str, bytes]) -> tuple[Agency, list[Problem]]:
    """Parse the pages and the directory; every problem is collected."""
    from .directory import load_directory

    agency, problems = Agency(), []
    for rel, raw in raws.items():
        if rel.startswith(PAGES_DIR + "/"):
            try:
                agency.pages.append(parse_page(rel, raw))
            except BuildError as exc:
                problems += exc.problems
    problems += _link_translations(agency)
    units, officials, found = load_directory(raws)
    agency.units, agency.officials = units, officials
    problems += found
    if any(p.data for p in agency.pages) and not agency.units:
        problems.append(
            Problem(UNITS_FILE, None, None, "no units", "a page shows the directory: add units")
        )
    return agency, problems


def _lang_and_name(rel: str) -> tuple[str, str] | None:
    parts = rel.split("/")[1:]
    if len(parts) == 1:
        return "vi", parts[0]
    if len(parts) == 2 and parts[0] == "en":
        return "en", parts[1]
    return None


def parse_page(rel: str, raw: bytes) -> SitePage:
    """One page file; a BuildError lists its problems."""
    from .content import _FileProblems, _load_yaml, render_markdown, split_front_matter

    where = _lang_and_name(rel)
    if where is None:
        hint = "put pages in pages/ (Vietnamese) or pages/en/ (English)"
        raise BuildError([Problem(rel, None, None, "not a page folder", hint)])
    lang, name = where
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BuildError(
            [Problem(rel, None, None, f"not UTF-8 text ({exc.reason})", None)]
        ) from None
    fm_text, body = split_front_matter(text, rel)
    fp = _FileProblems(rel, fm_text)
    try:
        fm = _load_yaml(fm_text) or {}
    except Exception as exc:  # yaml.YAMLError
        raise BuildError(
            [Problem(rel, None, None, f"front matter is not YAML: {exc}", None)]
        ) from None
    if not isinstance(fm, dict):
        raise BuildError([Problem(rel, 2, None, "front matter must be key: value lines", None)])
    for key in sorted(str(k) for k in fm if k not in _PAGE_KEYS):
        fp.add(key, "unknown field", f"known: {', '.join(sorted(_PAGE_KEYS))}")
    title = fm.get("title")
    if not isinstance(title, str) or not title.strip():
        fp.add("title", "missing", "add a title: line to the front matter")
        title = ""
    slug = str(fm.get("slug") or name.removesuffix(".md"))
    if not is_valid_slug(slug) or (lang == "vi" and _RESERVED.match(slug)):
        fp.add("slug", f"{slug!r} cannot be a page address", "lowercase letters, digits, hyphens")
    data: str | None = fm.get("data")
    if data is not None and data not in DATA_KINDS:
        fp.add("data", f"unknown data {data!r}", f"one of: {', '.join(DATA_KINDS)}")
        data = None
    html, first, plain, refs = render_markdown(body, rel)
    for needle, text, advice in refs.errors:
        fp.in_body(body, needle, text, advice)
    for link in refs.md_links:
        fp.add(
            None,
            f"link to {link!r}: pages link to addresses",
            "use the page's address, e.g. /bai-viet/x.html",
        )
    if fp.problems:
        raise BuildError(fp.problems)
    url = f"{PREFIX[lang]}/" if slug == "index" else f"{PREFIX[lang]}/{slug}.html"
    return SitePage(
        source=rel,
        name=name,
        lang=lang,
        title=title.strip(),
        url=url,
        description=str(fm.get("description") or first),
        body_html=html,
        text=plain,
        data=data,
        updated=fm.get("updated"),
        links=tuple(refs.abs_links) + tuple(refs.images),
    )


def _link_translations(agency: Agency) -> list[Problem]:
    """Each page learns its other version's URL; two pages at one address are a problem."""
    by_name: dict[tuple[str, str], SitePage] = {(p.lang, p.name): p for p in agency.pages}
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    linked = []
    for p in agency.pages:
        if p.url in seen:
            message = f"same address {p.url} as {seen[p.url]}"
            problems.append(Problem(p.source, None, "slug", message, "give one a different slug"))
        seen[p.url] = p.source
        other = by_name.get(("en" if p.lang == "vi" else "vi", p.name))
        linked.append(replace(p, translation=other.url if other else None))
    agency.pages = linked
    return problems


def agency_link_problems(agency: Agency, files: set[str]) -> list[Problem]:
    """Every site-absolute link and image of the pages names a file of the output."""
    from .urls import url_to_file

    problems = []
    for page in agency.pages:
        for link in page.links:
            if url_to_file(link) not in files:
                message = f"broken internal link {link!r} (no such page or file)"
                problems.append(Problem(page.source, None, None, message, "check the address"))
    return problems
