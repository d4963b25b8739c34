"""Shared by the ingest tests that run on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from oncall.config.configset import ConfigSet
from oncall.db.engine import make_engine
from oncall.db.migrate import upgrade_engine
from oncall.reconcile.apply import Origin, apply_config

APPLIED_AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def postgres_applied_engine(postgres_url: str, example_config: ConfigSet) -> Iterator[Engine]:
    """The example organisation applied once on PostgreSQL; each case truncates what it wrote."""
    engine = make_engine(postgres_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    upgrade_engine(engine)
    apply_config(engine, example_config,
                 Origin(actor="tests", source="tests", revision=None, now=APPLIED_AT))
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def sqlite_applied_engine(tmp_path_factory: pytest.TempPathFactory,
                          example_config: ConfigSet) -> Iterator[Engine]:
    """The same on a SQLite file, as the embedded default runs."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('ingest') / 'oncall.db'}")
    upgrade_engine(engine)
    apply_config(engine, example_config,
                 Origin(actor="tests", source="tests", revision=None, now=APPLIED_AT))
    yield engine
    engine.dispose()
