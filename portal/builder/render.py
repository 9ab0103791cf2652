"""Jinja rendering of pages, in this process or in pool workers.

A process sets up its Jinja environment for a `RenderSetup` once (`use_setup`: the build
process before rendering; a worker at its first batch, or when a batch brings another
setup), then renders batches of pages and writes each file only when its bytes differ from
what is on disk.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from jinja2 import (
    Environment,
    Template,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
)

from .errors import BuildError, Problem
from .jinja_env import make_environment

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
