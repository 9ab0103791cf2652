"""The portal service: presence, one-vote polls and admin tallies on Redis."""

from server.app import create_app
from server.settings import Settings

__all__ = ["Settings", "create_app"]
