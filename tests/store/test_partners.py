"""The partner token store on SQLite and PostgreSQL: a link is used once, a session is found
only while live and on its own page, revocation by page or everywhere; and the store being
the one writer of its table (checked in the package's source)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from oncall.db.engine import write_connection
from oncall.store import partners as store

from .table_owner import Owned

PARTNER_TOKENS = Owned("oncall/store/partners.py", {"StatusPagePartnerTokenRow"},
                       {"status_page_partner_tokens"})
T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
LATER = T0 + timedelta(minutes=15)


def test_no_module_but_the_partner_store_writes_the_partner_tokens() -> None:
    assert PARTNER_TOKENS.violations() == []


def test_the_scan_finds_each_kind_of_write(tmp_path: Path) -> None:
    package = tmp_path / "oncall"
    (package / "api").mkdir(parents=True)
    (package / "store").mkdir()
    (package / "api" / "rogue.py").write_text(
        "row = StatusPagePartnerTokenRow(email='x')\n"
        "update(StatusPagePartnerTokenRow).values(revoked_at=None)\n"
        "table = StatusPagePartnerTokenRow.__table__\n"
        "sql = 'DELETE FROM status_page_partner_tokens WHERE id = 1'\n"
        "read = select(StatusPagePartnerTokenRow)\n"
    )
    (package / "store" / "partners.py").write_text("row = StatusPagePartnerTokenRow()\n")
    assert [f.split(": ", 1)[0] for f in PARTNER_TOKENS.violations(package)] == [
        "oncall/api/rogue.py:1", "oncall/api/rogue.py:2", "oncall/api/rogue.py:3",
        "oncall/api/rogue.py:4"]


# --- the statements, on both databases -----------------------------------------------------------


def _link(engine: Engine, token_hash: str, *, page: str = "p", email: str = "a@x.example",
          now: datetime = T0) -> int:
    with write_connection(engine) as conn:
        return store.add_link(conn, page=page, email=email, token_hash=token_hash, now=now,
                              expires_at=now + timedelta(minutes=15))


def _consume(engine: Engine, token_hash: str, page: str = "p",
             now: datetime = T0) -> store.Token | None:
    with write_connection(engine) as conn:
        return store.consume_link(conn, token_hash=token_hash, page=page, now=now)


def test_a_link_is_used_once(migrated_engine: Engine) -> None:
    link_id = _link(migrated_engine, "h1")
    first = _consume(migrated_engine, "h1")
    assert first is not None and (first.id, first.email) == (link_id, "a@x.example")
    assert _consume(migrated_engine, "h1") is None


def test_two_uses_at_once_make_one(migrated_engine: Engine) -> None:
    for n in range(5):
        _link(migrated_engine, f"race{n}")
    with ThreadPoolExecutor(4) as pool:
        for n in range(5):
            results = list(pool.map(lambda _i, h=f"race{n}": _consume(migrated_engine, h),
                                    range(4)))
            assert sum(r is not None for r in results) == 1


@pytest.mark.parametrize(("page", "now", "why"), [
    ("other", T0, "another page's link does not open this page"),
    ("p", LATER, "expired"),
    ("p", LATER - timedelta(seconds=1), None),
])
def test_what_a_link_opens(migrated_engine: Engine, page: str, now: datetime,
                           why: str | None) -> None:
    _link(migrated_engine, "h")
    assert (_consume(migrated_engine, "h", page, now) is None) == (why is not None), why


def test_another_pages_attempt_leaves_the_link_usable(migrated_engine: Engine) -> None:
    _link(migrated_engine, "h")
    assert _consume(migrated_engine, "h", "other") is None
    assert _consume(migrated_engine, "h", "p") is not None


def test_sessions_and_revocation(migrated_engine: Engine) -> None:
    engine = migrated_engine
    with write_connection(engine) as conn:
        link_a = store.add_link(conn, page="a", email="a@x.example", token_hash="la", now=T0,
                                expires_at=LATER)
        store.add_session(conn, page="a", email="a@x.example", token_hash="sa", link_id=link_a,
                          now=T0, expires_at=T0 + timedelta(hours=12))
        store.add_session(conn, page="b", email="a@x.example", token_hash="sb", link_id=link_a,
                          now=T0, expires_at=T0 + timedelta(hours=12))
        store.add_session(conn, page="b", email="z@x.example", token_hash="sz", link_id=link_a,
                          now=T0, expires_at=T0 + timedelta(hours=12))
    with engine.connect() as conn:
        assert store.live_session(conn, token_hash="sa", page="a", now=T0) is not None
        assert store.live_session(conn, token_hash="sa", page="b", now=T0) is None
        assert store.live_session(conn, token_hash="la", page="a", now=T0) is None  # a link
        assert store.live_session(conn, token_hash="sa", page="a",
                                  now=T0 + timedelta(hours=12)) is None
        assert store.links_since(conn, "a@x.example", T0 - timedelta(minutes=10)) == 1
    with write_connection(engine) as conn:
        assert store.revoke(conn, "a@x.example", T0, page="b") == {"b": 1}
        assert store.revoke(conn, "a@x.example", T0) == {"a": 2}  # the link and the session
        assert store.revoke(conn, "a@x.example", T0) == {}
    with engine.connect() as conn:
        assert store.live_session(conn, token_hash="sa", page="a", now=T0) is None
        assert store.live_session(conn, token_hash="sz", page="b", now=T0) is not None
        described = store.describe(conn, "la")
        assert described is not None and described.revoked_at == T0
