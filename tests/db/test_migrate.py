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


def test_notification_statuses_are_checked_and_the_check_downgrades(database_url: str) -> None:
    from alembic import command
    from sqlalchemy import text

    from oncall.db.migrate import alembic_config, upgrade_engine

    engine = make_engine(database_url)
    insert = text(
        "INSERT INTO notifications (idempotency_key, channel, address, kind, status, "
        "attempt_count, next_attempt_at, created_at) VALUES (:key, 'sms', 'x', 'page', "
        "'bogus', 0, '2026-01-01', '2026-01-01')")

    def accepted(key: str) -> bool:
        try:
            with engine.begin() as conn:
                conn.execute(insert, {"key": key})
        except Exception:  # noqa: BLE001 - the database's refusal, whatever its driver's type
            return False
        return True

    try:
        upgrade_engine(engine)
        assert not accepted("at-head")
        config = alembic_config()
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0003")
        assert accepted("at-0003")
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM notifications"))
        upgrade_engine(engine)
        assert not accepted("at-head-again")
    finally:
        engine.dispose()


def test_workflow_inbox_and_waiting_steps_downgrade_to_0004(database_url: str) -> None:
    """At head a step may wait and incident events fill the inbox; at 0004 neither exists
    (a waiting step is cancelled on the way down), and upgrading again restores both."""
    from alembic import command
    from sqlalchemy import inspect, text

    from oncall.db.migrate import alembic_config, upgrade_engine

    engine = make_engine(database_url)
    insert = text(
        "INSERT INTO notifications (idempotency_key, channel, address, kind, status, "
        "attempt_count, next_attempt_at, created_at) VALUES (:key, 'webhook', 'x', "
        "'workflow', 'waiting', 0, '2026-01-01', '2026-01-01')")
    try:
        upgrade_engine(engine)
        with engine.begin() as conn:
            conn.execute(insert, {"key": "at-head"})
        config = alembic_config()
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0004")
        assert "workflow_inbox" not in inspect(engine).get_table_names()
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT status FROM notifications")) == "cancelled"
        try:
            with engine.begin() as conn:
                conn.execute(insert, {"key": "at-0004"})
            refused = False
        except Exception:  # noqa: BLE001 - the database's refusal, whatever its driver's type
            refused = True
        assert refused
        upgrade_engine(engine)
        with engine.begin() as conn:
            conn.execute(insert, {"key": "at-head-again"})
        assert "workflow_inbox" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_status_pages_downgrade_to_0006_keeping_their_rows(database_url: str) -> None:
    """0007 adds the notices' updates, the automatic-notice index and the computed status;
    down to 0006 the components and notices stay, and upgrading again fills the defaults."""
    from alembic import command
    from sqlalchemy import inspect, text

    from oncall.db.migrate import alembic_config, upgrade_engine

    engine = make_engine(database_url)
    component = text("INSERT INTO status_page_components (page_name, component_name, status, "
                     "updated_at) VALUES ('p', 'Web', 'major_outage', '2026-01-01')")
    notice = text("INSERT INTO status_page_notices (page_name, title, body, status, "
                  "created_at, updated_at) VALUES ('p', 't', 'b', 'investigating', "
                  "'2026-01-01', '2026-01-01')")
    try:
        upgrade_engine(engine, "0006")
        with engine.begin() as conn:
            conn.execute(component)
            conn.execute(notice)
        upgrade_engine(engine)
        with engine.connect() as conn:
            assert conn.execute(text(
                "SELECT computed_status FROM status_page_components")).scalar() == "operational"
            assert conn.execute(text(
                "SELECT impact, auto_component FROM status_page_notices")).one() == (
                    "none", None)
        config = alembic_config()
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0006")
        assert "status_page_notice_updates" not in inspect(engine).get_table_names()
        assert "computed_status" not in {
            c["name"] for c in inspect(engine).get_columns("status_page_components")}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM status_page_notices")).scalar() == 1
        upgrade_engine(engine)
        assert "status_page_notice_updates" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_partner_tokens_downgrade_to_0007(database_url: str) -> None:
    """0008 adds the partners' links and sessions; down to 0007 they are gone (every partner
    is signed out) and the status pages stay; upgrading again brings the empty table back."""
    from alembic import command
    from sqlalchemy import inspect, text

    from oncall.db.migrate import alembic_config, upgrade_engine

    engine = make_engine(database_url)
    token = text("INSERT INTO status_page_partner_tokens (page_name, email, purpose, "
                 "token_hash, created_at, expires_at) VALUES ('p', 'a@x.example', 'session', "
                 ":hash, '2026-01-01', '2026-01-02')")
    try:
        upgrade_engine(engine)
        with engine.begin() as conn:
            conn.execute(token, {"hash": "h1"})
            try:
                with conn.begin_nested():
                    conn.execute(token, {"hash": "h1"})
                duplicate = True
            except Exception:  # noqa: BLE001 - the database's refusal, whatever its driver's type
                duplicate = False
        assert not duplicate  # a token's hash is unique
        config = alembic_config()
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0007")
        tables = inspect(engine).get_table_names()
        assert "status_page_partner_tokens" not in tables
        assert "status_page_notice_updates" in tables
        upgrade_engine(engine)
        with engine.connect() as conn:
            assert conn.execute(text(
                "SELECT count(*) FROM status_page_partner_tokens")).scalar() == 0
    finally:
        engine.dispose()


def test_postmortems_downgrade_to_0008_and_a_status_outside_the_states_is_refused(
        database_url: str) -> None:
    """0009 replaces the unused postmortem tables; down to 0008 the old ones are back (with
    one incident per postmortem) and the change events are gone; up again, the status CHECK
    holds."""
    from alembic import command
    from sqlalchemy import inspect, text

    from oncall.db.migrate import alembic_config, upgrade_engine

    engine = make_engine(database_url)
    insert = text("INSERT INTO postmortems (title, status, body, version, created_by, "
                  "created_at, updated_by, updated_at) VALUES ('t', :status, '', 1, 'x', "
                  "'2026-01-01', 'x', '2026-01-01')")
    try:
        upgrade_engine(engine)
        with engine.begin() as conn:
            conn.execute(insert, {"status": "in_review"})
            try:
                with conn.begin_nested():
                    conn.execute(insert, {"status": "archived"})
                refused = False
            except Exception:  # noqa: BLE001 - the database's refusal, whatever its driver's type
                refused = True
        assert refused
        config = alembic_config()
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0008")
        inspector = inspect(engine)
        assert "change_events" not in inspector.get_table_names()
        assert "incident_id" in {c["name"] for c in inspector.get_columns("postmortems")}
        upgrade_engine(engine)
        assert "postmortem_timeline" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
