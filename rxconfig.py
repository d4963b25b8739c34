"""Reflex configuration of the oncall web app (`reflex run --env prod` from this directory).

The database URL is the project's own (`ONCALL_DATABASE_URL`), never Reflex's `db_url`. With
several backend workers, `ONCALL_REDIS_URL` turns on Reflex's Redis state manager so that any
worker can serve any browser's events.

Only the app's own origin may open the websocket (Socket.IO) and make credentialed CORS
requests: `ONCALL_ALLOWED_ORIGINS` (comma-separated origins) if set, else the origin of
`ONCALL_PUBLIC_URL`, else `http://localhost:<frontend port>` for development.
"""

import os

import reflex as rx

from oncall.web.headers import allowed_origins

redis_url = (os.environ.get("ONCALL_REDIS_URL") or "").strip() or None

config = rx.Config(
    app_name="oncall",
    app_module_import="oncall.web.app",
    telemetry_enabled=False,
    redis_url=redis_url,
    cors_allowed_origins=allowed_origins(os.environ),
    show_built_with_reflex=False,
    default_color_mode="system",  # light or dark as the device is set; see docs/web.md
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="indigo", radius="medium"))],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
