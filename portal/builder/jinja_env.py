"""The builder's Jinja environment: the site's templates and the widget partials, with
what makes rendering a page cheaper than stock Jinja and writes the same bytes (see each):
outputs escaped without a Markup around each, a faster `urlencode`, `{% fragment %}`, and
templates and autoescaping looked up once."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, MutableMapping
from pathlib import Path
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
