"""The static site builder: `site/` (settings, Markdown, templates, assets) -> `dist/`."""

from __future__ import annotations

from .build import BuildReport, build_site
from .errors import BuildError, Problem
from .watch import watch_site

__all__ = ["BuildError", "BuildReport", "Problem", "build_site", "watch_site"]
