"""What the differential store tests share: the example organisation applied to one
PostgreSQL and one SQLite database, side by side, so one test can run an operation on both
and compare the rows they leave."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from oncall.config.configset import ConfigSet
from oncall.db.engine import make_engine
from oncall.db.migrate import upgrade_engine
from oncall.reconcile.apply import Origin, apply_config

APPLIED_AT = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


def _engine(url: str, config: ConfigSet) -> Engine:
    engine = make_engine(url)
    upgrade_engine(engine)
    apply_config(engine, config,
                 Origin(actor="tests", source="tests", revision=None, now=APPLIED_AT))
    return engine


@pytest.fixture
def engines(postgres_url: str, tmp_path: Path,
            example_config: ConfigSet) -> Iterator[tuple[Engine, Engine]]:
    """(PostgreSQL, SQLite), both migrated with the example config applied."""
    pg = make_engine(postgres_url)
    with pg.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    pg.dispose()
    both = (_engine(postgres_url, example_config),
            _engine(f"sqlite:///{tmp_path / 'oncall.db'}", example_config))
    yield both
    for engine in both:
        engine.dispose()
