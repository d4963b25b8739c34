"""The web app's process context: one `oncall.context.Context`, handed in once.

Built from the environment the first time it is needed, so importing the app (for a compile,
or in a test) opens nothing. Tests and benchmarks hand in their own with `install()`.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.context import Context
from oncall.settings import Settings
from oncall.web.settings import WebSettings

_lock = threading.Lock()
_context: Context | None = None


def install(context: Context) -> None:
    """Hand the web app its process context."""
    global _context
    with _lock:
        _context = context


def current() -> Context:
    """The process context, built from the environment on first use."""
    global _context
    with _lock:
        if _context is None:
            _context = Context.build(Settings.from_env(os.environ))
        return _context


def engine() -> Engine:
    return current().engine


def web_settings() -> WebSettings:
    return current().settings.web


def now() -> datetime:
    return current().now()


def config(session: Session) -> ConfigSet:
    """The config in force, from the process's one applied-config cache."""
    return current().config(session)


def read_session() -> Session:
    return Session(bind=engine(), expire_on_commit=False)


def wake() -> None:
    """After a committed change: wake the worker, as every face does."""
    current().wake()


def use(
    *,
    engine: Engine | None = None,
    web: WebSettings | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Context:
    """Install a context differing from the current one in these parts (tests, benchmarks);
    a new engine comes with a fresh config cache."""
    with _lock:
        base = _context
    if base is None:
        if engine is None:
            base = current()
        else:
            url = engine.url.render_as_string(hide_password=False)
            base = Context(Settings(database_url=url), engine)
    settings = base.settings if web is None else dataclasses.replace(base.settings, web=web)
    if engine is not None and engine is not base.engine:
        made = Context(settings, engine, clock=clock or base.clock, queue=base.queue)
    else:
        made = dataclasses.replace(base, settings=settings, clock=clock or base.clock)
    install(made)
    return made
