"""Alembic environment: runs on the connection `oncall.db.migrate` hands over, or on the
database named by ONCALL_DATABASE_URL when the alembic command line is used directly."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection

from oncall.db.engine import make_engine
from oncall.db.models import Base
from oncall.settings import Settings

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = config.get_main_option("sqlalchemy.url") or Settings.from_env(os.environ).database_url
    engine = make_engine(url)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()
