"""The portal service: presence, one-vote polls and admin tallies on Redis.

Import what you need from its modules (`server.app.create_app`, `server.settings.Settings`);
this package file imports nothing, so the site builder can use `server.assets` without
loading the web stack.
"""
