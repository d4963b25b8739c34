"""Reflex configuration of the oncall web app (`reflex run --env prod` from this directory).

The database URL is the project's own (`ONCALL_DATABASE_URL`), never Reflex's `db_url`. With
several backend workers, `ONCALL_REDIS_URL` turns on Reflex's Redis state manager so that any
worker can serve any browser's events.
"""

import os

import reflex as rx

redis_url = (os.environ.get("ONCALL_REDIS_URL") or "").strip() or None

config = rx.Config(
    app_name="oncall",
    app_module_import="oncall.web.app",
    telemetry_enabled=False,
    redis_url=redis_url,
    show_built_with_reflex=False,
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="indigo", radius="medium"))],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
