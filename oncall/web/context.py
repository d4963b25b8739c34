"""The process-wide resources of the web app: engine, applied config cache, clock, settings.

Built lazily from the environment the first time they are needed, so importing the app (for a
compile, or in a test) opens nothing. Tests call `use()` to put their own engine and clock in.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.db.applied import AppliedConfig
from oncall.db.engine import make_engine
from oncall.settings import Settings
from oncall.web.settings import WebSettings

_lock = threading.Lock()
_engine: Engine | None = None
_applied = AppliedConfig()
_web_settings: WebSettings | None = None


def _utc_now() -> datetime:
    return datetime.now(UTC)


_clock: Callable[[], datetime] = _utc_now


def engine() -> Engine:
    global _engine
    with _lock:
        if _engine is None:
            _engine = make_engine(Settings.from_env(os.environ).database_url)
        return _engine


def web_settings() -> WebSettings:
    global _web_settings
    with _lock:
        if _web_settings is None:
            _web_settings = WebSettings.from_env(os.environ)
        return _web_settings


def now() -> datetime:
    return _clock()


def config(session: Session) -> ConfigSet:
    """The config in force, re-read only when an apply changed it."""
    return _applied.get(session)


def read_session() -> Session:
    return Session(bind=engine(), expire_on_commit=False)


def use(
    *,
    engine: Engine | None = None,
    web: WebSettings | None = None,
    clock: Callable[[], datetime] | None = None,
) -> None:
    """Replace the resources (tests, benchmarks); a fresh config cache comes with a new engine."""
    global _engine, _web_settings, _clock, _applied
    with _lock:
        if engine is not None:
            _engine = engine
            _applied = AppliedConfig()
        if web is not None:
            _web_settings = web
        if clock is not None:
            _clock = clock
