"""The per-process cache of public pages: one check per interval, one rebuilder at a time, and
the previous bytes while the database is away."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from oncall.statuspages.cache import Document, PageCache, Rendered

AT = datetime(2026, 11, 25, tzinfo=UTC)


def rendered(text: str) -> Rendered:
    return Rendered({"page": Document.of(text.encode(), "text/html")}, text, AT, None)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_database_is_asked_at_most_once_per_interval() -> None:
    clock = Clock()
    cache = PageCache(refresh=1.0, monotonic=clock)
    calls: list[Rendered | None] = []

    def refresh(held: Rendered | None) -> Rendered:
        calls.append(held)
        return rendered(f"v{len(calls)}")

    assert cache.fresh("p") is None
    first = cache.get("p", refresh)
    for _ in range(100):
        assert cache.get("p", refresh) is first
        assert cache.fresh("p") is first
    clock.now += 0.99
    assert cache.get("p", refresh) is first and len(calls) == 1
    clock.now += 0.02
    assert cache.fresh("p") is None
    second = cache.get("p", refresh)
    assert calls == [None, first] and second.documents["page"].body == b"v2"


def test_readers_are_answered_from_the_held_bytes_while_one_thread_rebuilds() -> None:
    clock = Clock()
    cache = PageCache(refresh=1.0, monotonic=clock)
    old = cache.get("p", lambda held: rendered("old"))
    clock.now += 5
    started, release = threading.Event(), threading.Event()
    builds = []

    def slow(held: Rendered | None) -> Rendered:
        builds.append(held)
        started.set()
        release.wait(5)
        return rendered("new")

    rebuilder = threading.Thread(target=cache.get, args=("p", slow))
    rebuilder.start()
    assert started.wait(5)
    answers = [cache.get("p", slow) for _ in range(50)]  # not blocked, not rebuilding again
    release.set()
    rebuilder.join(5)
    assert all(a is old for a in answers) and builds == [old]
    assert cache.get("p", slow).documents["page"].body == b"new"


def test_a_failed_refresh_keeps_serving_the_previous_bytes() -> None:
    clock = Clock()
    cache = PageCache(refresh=1.0, monotonic=clock)
    good = cache.get("p", lambda held: rendered("good"))
    attempts = []

    def down(held: Rendered | None) -> Rendered:
        attempts.append(1)
        raise ConnectionError("database is down")

    clock.now += 2
    assert cache.get("p", down) is good
    assert cache.get("p", down) is good and len(attempts) == 1  # retried after the interval
    clock.now += 2
    assert cache.get("p", down) is good and len(attempts) == 2


def test_with_nothing_to_serve_a_failure_is_raised() -> None:
    cache = PageCache(refresh=1.0, monotonic=Clock())

    def down(held: Rendered | None) -> Rendered:
        raise ConnectionError("database is down")

    with pytest.raises(ConnectionError):
        cache.get("p", down)


def test_etags_follow_the_bytes() -> None:
    assert Document.of(b"a", "x").etag == Document.of(b"a", "y").etag
    assert Document.of(b"a", "x").etag != Document.of(b"b", "x").etag
    assert Document.of(b"a", "x").etag.startswith('"')
