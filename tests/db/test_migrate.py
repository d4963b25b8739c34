from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from oncall.db.engine import make_engine
from oncall.db.migrate import NOT_MIGRATED, DatabaseNotMigrated, require_current, upgrade
from oncall.db.models import Base


def test_unmigrated_database_is_refused_with_a_one_line_hint(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with pytest.raises(DatabaseNotMigrated) as info:
            require_current(engine)
    finally:
        engine.dispose()
    assert str(info.value) == NOT_MIGRATED == "database is not migrated: run `oncall db upgrade`"


def test_upgrade_is_repeatable_and_then_current(database_url: str) -> None:
    upgrade(database_url)
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        require_current(engine)
    finally:
        engine.dispose()


def test_migrations_match_the_models(migrated_engine: Engine) -> None:
    with migrated_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
