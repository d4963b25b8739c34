"""Schema migrations: `upgrade` brings a database to the newest revision; the app, the worker
and the reconciler call `require_current` and refuse to run against an older schema."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from oncall.db.engine import make_engine

MIGRATIONS = Path(__file__).with_name("migrations")
NOT_MIGRATED = "database is not migrated: run `oncall db upgrade`"


class DatabaseNotMigrated(RuntimeError):
    def __init__(self) -> None:
        super().__init__(NOT_MIGRATED)


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def current_revisions(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def upgrade(url: str, revision: str = "head") -> None:
    engine = make_engine(url)
    try:
        upgrade_engine(engine, revision)
    finally:
        engine.dispose()


def upgrade_engine(engine: Engine, revision: str = "head") -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def require_current(engine: Engine) -> None:
    if current_revisions(engine) != head_revisions():
        raise DatabaseNotMigrated()
