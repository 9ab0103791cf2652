"""The static site builder: `site/` (settings, Markdown, templates, assets) -> `dist/`."""

from __future__ import annotations

from .build import BuildReport, build_site
from .errors import BuildError
from .watch import watch_site

__all__ = ["BuildError", "BuildReport", "build_site", "watch_site"]
