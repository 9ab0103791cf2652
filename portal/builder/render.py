"""Jinja rendering of pages, in this process or in pool workers.

A process sets up its Jinja environment for a `RenderSetup` once (`use_setup`: the build
process before rendering; a worker at its first batch, or when a batch brings another
setup), then renders batches of pages and writes each file only when its bytes differ from
what is on disk.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import markupsafe
from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemBytecodeCache,
    FileSystemLoader,
    PrefixLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    nodes,
    pass_context,
    select_autoescape,
)
from jinja2.defaults import DEFAULT_NAMESPACE
from jinja2.ext import Extension
from jinja2.filters import do_urlencode
from jinja2.parser import Parser
from jinja2.runtime import Context
from markupsafe import Markup

from .errors import BuildError, Problem

#: (template name, output file relative to out_dir, page context)
Task = tuple[str, str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class RenderSetup:
    """What every page render needs, sent to each worker once."""

    templates_dir: str
    widgets_templates_dir: str
    out_dir: str
    globals: dict[str, Any]
    bytecode_dir: str | None = None  # compiled templates, shared by workers and builds
    templates_version: str = ""  # changes with any template: loaded ones are reloaded


def _ns(value: Any) -> Any:
    """Nested dicts as attribute objects: Jinja looks `a.b` up with getattr() first and
    falls back to a[b] through an exception, which costs more than the rendering itself."""
    # (Scalars are tested here rather than passed to _ns: most values are, and a call costs
    # more than the test.)
    if isinstance(value, dict):
        return SimpleNamespace(
            **{k: _ns(v) if isinstance(v, _NESTED) else v for k, v in value.items()}
        )
    if isinstance(value, list):
        return [_ns(v) if isinstance(v, _NESTED) else v for v in value]
    return value


_NESTED = (dict, list)


def page_context(context: dict[str, Any]) -> dict[str, Any]:
    """A page's template context with its nested dicts made attribute objects."""
    return {k: _ns(v) if isinstance(v, _NESTED) else v for k, v in context.items()}


# markupsafe's C escaping of a str, without the Markup around it (markupsafe >= 3.0; older
# versions' escape() is C code already).
_escape_str: Callable[[str], str] | None = getattr(markupsafe, "_escape_inner", None)


def escape_output(value: Any) -> str:
    """What `{{ value }}` writes when autoescaping: markupsafe.escape(value), as a plain str
    when value is one. Jinja compiles every `{{ }}` to `escape(...)` and only joins the
    results, so the Markup that markupsafe wraps each one in (a Python-level __new__) is
    a third of the cost of a page's outputs for nothing."""
    if type(value) is str and _escape_str is not None:
        return _escape_str(value)
    if type(value) is Markup:  # (shared fragments, pictures: escape() would copy them, in Python)
        return value
    return markupsafe.escape(value)


class _Quoted(dict[str, str]):
    """Words as `urlencode` writes them, quoted on first use."""

    def __missing__(self, word: str) -> str:
        if len(self) > 100_000:  # (a long-lived process: bounded)
            self.clear()
        quoted = self[word] = quote(word, safe="/")
        return quoted


_quoted_words = _Quoted()
_URL_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-~/]")
_QUOTED_ASCII = {chr(i): quote(chr(i), safe="/") for i in range(128)}


def urlencode(value: Any) -> str:
    """Jinja's `urlencode` filter, the same text sooner for a str. Jinja's quotes byte by
    byte in Python: 10-15 us for an article's title, three times on every article page
    (partials/share.html). Quoting is per character and a space is always %20: the words
    of titles (Vietnamese syllables, few and repeated) are quoted once per process."""
    if type(value) is not str:
        return do_urlencode(value)
    if value.isascii():  # URLs: a few characters to quote
        return _URL_UNSAFE.sub(lambda m: _QUOTED_ASCII[m[0]], value)
    return "%20".join(map(_quoted_words.__getitem__, value.split(" ")))


class _Template(Template):
    """A template whose `{{ }}` outputs escape with `escape_output`."""

    @classmethod
    def _from_namespace(
        cls,
        environment: Environment,
        namespace: MutableMapping[str, Any],
        globals: MutableMapping[str, Any],
    ) -> Template:
        # The compiled module imports markupsafe's escape from jinja2.runtime and calls it
        # for the outputs of `{{ }}` only (jinja2.compiler: _output_child_pre; Markup-making
        # elsewhere is written out as Markup(...)). Replacing that global works for
        # templates loaded from the bytecode cache too.
        namespace["escape"] = escape_output
        return super()._from_namespace(environment, namespace, globals)


class Fragments(Extension):
    """`{% fragment "widgets/stats.html" api=api, lang=lang %}`: the template rendered with
    these variables only (not the page's, not the site's globals), once per set of values
    in an environment's life, written as `{% include %}` would write it.

    An include copies the page's whole context into a new one and runs the template again
    on every page; the widget partials take a few values and most pages give them the
    same. A variable the fragment uses but is not given is an error (undefined), never a
    value of another page."""

    tags = {"fragment"}  # noqa: RUF012 (as jinja2.ext.Extension declares it)

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self.rendered: dict[tuple[Any, ...], Markup] = {}
        environment.filters["_fragment"] = self.render

    def parse(self, parser: Parser) -> nodes.Node:
        lineno = next(parser.stream).lineno
        name = parser.parse_expression()
        pairs: list[nodes.Pair] = []
        while parser.stream.current.type != "block_end":
            if pairs:
                parser.stream.expect("comma")
            key = parser.stream.expect("name")
            parser.stream.expect("assign")
            pairs.append(nodes.Pair(nodes.Const(key.value), parser.parse_expression()))
        # A filter, not a call: Jinja calls a filter directly and a function through
        # Context.call, which costs as much as the rest of a cached fragment.
        render = nodes.Filter(nodes.Dict(pairs), "_fragment", [name], [], None, None)
        return nodes.Output([render], lineno=lineno)

    # Passed the context, so that Jinja never renders a fragment while compiling (a
    # template that gives no variables), which its bytecode would keep.
    @pass_context
    def render(self, context: Context, variables: dict[str, Any], name: str) -> Markup:
        """The fragment's HTML, rendered on the first call with these values."""
        try:
            key: tuple[Any, ...] | None = (name, *sorted(variables.items()))
            found = self.rendered.get(key)  # type: ignore[arg-type]
        except TypeError:  # a value that can't be a key (a list...): rendered every time
            key = found = None
        if found is None:
            template = self.environment.get_template(name)
            fresh = template.new_context({**DEFAULT_NAMESPACE, **variables}, shared=True)
            found = Markup("".join(template.root_render_func(fresh)))
            if key is not None:
                if len(self.rendered) > 50_000:  # (one per page for the presence counter)
                    self.rendered.clear()
                self.rendered[key] = found
        return found


class _Environment(Environment):
    """Jinja's environment, with one dict of globals shared by every template and outputs
    escaped by `escape_output`."""

    template_class = _Template

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._loaded: dict[tuple[str, str | None], Template] = {}

    def get_template(
        self,
        name: str | Template,
        parent: str | None = None,
        globals: MutableMapping[str, Any] | None = None,
    ) -> Template:
        """Jinja's, from a plain dict once loaded: every `{% extends %}` and `{% include %}`
        of every page asks again, and Jinja's LRU cache takes a lock and a weak reference
        each time. Templates never change in an environment's life (auto_reload is off)."""
        if globals is not None or not isinstance(name, str):
            return super().get_template(name, parent, globals)
        found = self._loaded.get((name, parent))
        if found is None:
            found = self._loaded[name, parent] = super().get_template(name, parent)
        return found

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        # Jinja gives each template a ChainMap over the environment's globals, and each page
        # copies its template's globals into its context: a copy that goes through Python for
        # every key of a ChainMap, a fifth of the time of a small page. No template here has
        # globals of its own, so it gets the dict itself (in-place updates still reach it).
        if not d:
            return self.globals
        return super().make_globals(d)


def make_environment(
    templates_dir: Path, widgets_templates_dir: Path, bytecode_dir: Path | None = None
) -> Environment:
    """Site templates, plus the widget partials under the `widgets/` prefix."""
    loader = ChoiceLoader(
        [
            PrefixLoader({"widgets": FileSystemLoader(str(widgets_templates_dir))}),
            FileSystemLoader(str(templates_dir)),
        ]
    )
    env = _Environment(
        loader=loader,
        # Asked for every page and every include it makes (jinja2.nodes.EvalContext): a
        # cache answers without running Python.
        autoescape=functools.cache(select_autoescape(["html", "xml"], default_for_string=True)),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # Templates don't change during a build: never stat them again.
        auto_reload=False,
        # Compiling the templates costs more than rendering a hundred pages: do it once.
        bytecode_cache=FileSystemBytecodeCache(str(bytecode_dir)) if bytecode_dir else None,
    )
    env.filters["urlencode"] = urlencode
    env.add_extension(Fragments)
    return env


_env: Environment | None = None
_setup: RenderSetup | None = None
_builtins: dict[str, Any] = {}  # Jinja's own globals (range, dict, ...)


def use_setup(setup: RenderSetup) -> None:
    """Make this process's environment render for `setup`, keeping compiled templates when
    the templates are the same."""
    global _env, _setup
    same_templates = _setup is not None and (
        (_setup.templates_dir, _setup.widgets_templates_dir, _setup.bytecode_dir)
        == (setup.templates_dir, setup.widgets_templates_dir, setup.bytecode_dir)
        and _setup.templates_version == setup.templates_version
    )
    if _env is None or not same_templates:
        bytecode = Path(setup.bytecode_dir) if setup.bytecode_dir else None
        if bytecode is not None:
            bytecode.mkdir(parents=True, exist_ok=True)
        _env = make_environment(
            Path(setup.templates_dir), Path(setup.widgets_templates_dir), bytecode
        )
        _builtins.clear()
        _builtins.update(_env.globals)
    else:
        # Same templates, new globals (e.g. the latest list): keep the compiled templates.
        # Loaded templates share env.globals (see _Environment), so in-place updates reach them.
        _env.globals.clear()
        _env.globals.update(_builtins)
    # The polls stay dicts: the widget partials may treat them as such.
    _env.globals.update({k: v if k == "polls" else _ns(v) for k, v in setup.globals.items()})
    _setup = setup


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write `data` unless the file already holds exactly it; True when written."""
    for attempt in (1, 2):
        try:
            # A new file (every file of a cold build): one system call, and nobody can be
            # reading a half-written version of it.
            with path.open("xb") as f:
                f.write(data)
            return True
        except FileExistsError:
            break
        except FileNotFoundError:
            if attempt == 2:
                raise
            path.parent.mkdir(parents=True, exist_ok=True)
    if path.stat().st_size == len(data) and path.read_bytes() == data:
        return False
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    # Atomic: a web server never sees a half-written page.
    tmp.replace(path)
    return True


def render_batch(setup: RenderSetup, tasks: list[Task]) -> list[tuple[str, bool]]:
    """Render and write pages; (output file, whether it was written) for each."""
    if _setup != setup or _env is None:
        use_setup(setup)
    assert _env is not None and _setup is not None
    out_dir = Path(_setup.out_dir)
    results: list[tuple[str, bool]] = []
    for template_name, rel, context in tasks:
        html = _render(_env, template_name, page_context(context))
        results.append((rel, write_if_changed(out_dir / rel, html.encode("utf-8"))))
    return results


def load_templates(names: set[str]) -> None:
    """Compile templates here (before forking workers, which then inherit them)."""
    assert _env is not None, "use_setup() first"
    for name in sorted(names):
        _template(_env, name)


def render_pages(setup: RenderSetup, pages: list[Any]) -> list[tuple[str, bool]]:
    """Render and write pages (`pages.PageTask`s), making each context here: in a forked
    worker, in parallel, rather than in the parent and sent through a pipe."""
    return render_batch(setup, [(p.template, p.file, p.make_context()) for p in pages])


def render_string(template_name: str, context: dict[str, Any]) -> str:
    """Render one template to a string in this process (e.g. the shared latest-news list)."""
    assert _env is not None, "use_setup() first"
    return _render(_env, template_name, context)


def _template(env: Environment, template_name: str) -> Template:
    try:
        return env.get_template(template_name)
    except TemplateError as exc:
        raise BuildError([_problem(template_name, exc)]) from None


def _render(env: Environment, template_name: str, context: dict[str, Any]) -> str:
    """Render, turning template mistakes into a BuildError that names the file."""
    template = _template(env, template_name)
    try:
        return template.render(context)
    except TemplateError as exc:
        raise BuildError([_problem(template_name, exc)]) from None


def _problem(template_name: str, exc: TemplateError) -> Problem:
    if isinstance(exc, TemplateNotFound):
        message = f"template {exc.name!r} not found"
        return Problem(f"templates/{template_name}", None, None, message, None)
    if isinstance(exc, TemplateSyntaxError):
        message = f"template syntax error: {exc.message}"
        return Problem(f"templates/{exc.name or template_name}", exc.lineno, None, message, None)
    return Problem(f"templates/{template_name}", None, None, str(exc), None)
