"""The store: one row per mention, the cursor committed with its mentions, migrations, WAL, racing decisions."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from bot import decisions
from bot.clock import FakeClock
from bot.models import Author, Mention
from bot.store import Store, migrations


def mention(n: int, clock: FakeClock, text: str = "my order is late") -> Mention:
    return Mention(
        platform="reddit",
        id=f"t1_{n}",
        url=f"https://r/{n}",
        author=Author(f"user{n}"),
        text=text,
        created_at=clock.now() - timedelta(minutes=n),
    )


def test_a_mention_is_stored_once_and_the_cursor_moves_with_it(engine, tmp_path):
    store, clock = engine.open(tmp_path), FakeClock()
    assert [m.id for m in store.save_fetch("reddit", [mention(1, clock)], "c1", now=clock.now())] == ["t1_1"]
    again = store.save_fetch("reddit", [mention(1, clock), mention(2, clock)], "c2", now=clock.now())
    assert [m.id for m in again] == ["t1_2"]
    assert store.get_cursor("reddit") == "c2"
    assert store.person("reddit", "user1").mentions == 1


def test_a_failed_write_keeps_neither_the_mentions_nor_the_cursor(engine, tmp_path):
    store, clock = engine.open(tmp_path), FakeClock()
    store.save_fetch("reddit", [mention(1, clock)], "c1", now=clock.now())
    broken = Mention(
        platform="reddit",
        id="t1_9",
        url="",
        author=Author("x"),
        text="",
        created_at=clock.now(),
    )
    object.__setattr__(broken, "text", None)  # past the boundary's clean-up: the insert itself must fail
    with pytest.raises(Exception, match=r"(?i)not[- ]null"):
        store.save_fetch("reddit", [mention(2, clock), broken], "c2", now=clock.now())
    assert store.get_cursor("reddit") == "c1"
    assert [m.id for m in store.mentions()] == ["t1_1"]


def test_migrations_apply_once_and_the_file_is_in_wal_mode(tmp_path):
    path = tmp_path / "m.db"
    Store.open(path).close()
    store = Store.open(path)
    assert migrations.pending(store.db) == []
    assert store.db.execute("pragma journal_mode").fetchone()[0] == "wal"


def test_two_managers_approving_at_once_queue_one_post(engine, tmp_path):
    clock = FakeClock()
    store = engine.open(tmp_path)
    m = mention(1, clock)
    store.save_fetch("reddit", [m], None, now=clock.now())
    draft = store.add_draft(m, intent="complaint", text="Thank you for telling us.", now=clock.now())
    assert (
        store.add_draft(m, intent="complaint", text="again", now=clock.now()) is None
    )  # one draft per mention
    results, barrier = [], threading.Barrier(4)

    def approve(who: str) -> None:
        own = engine.open(tmp_path)
        barrier.wait()
        try:
            results.append(decisions.approve(own, draft.id, actor=who, now=clock.now()).state)
        except decisions.DecisionError as exc:
            results.append(str(exc))

    threads = [threading.Thread(target=approve, args=(f"manager{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("approved") == 1, results
    assert len(store.outbox()) == 1
    assert len([a for a in store.audit(draft_id=draft.id) if a.action == "approved"]) == 1


def test_a_bulk_load_puts_the_connection_settings_back(tmp_path):
    store = Store.open(tmp_path / "bot.db")
    pragma = lambda name: store.db.conn.execute(f"PRAGMA {name}").fetchone()[0]  # noqa: E731
    before = (pragma("wal_autocheckpoint"), pragma("cache_size"), pragma("synchronous"))
    with pytest.raises(RuntimeError), store.bulk_load():
        assert (pragma("wal_autocheckpoint"), pragma("cache_size")) == (10000, -65536)
        assert pragma("synchronous") == before[2]  # durability is not traded for speed
        raise RuntimeError("an import that fails half way")
    assert (pragma("wal_autocheckpoint"), pragma("cache_size"), pragma("synchronous")) == before
    store.close()


def test_an_older_database_keeps_its_connector_state_in_typed_columns(tmp_path):
    # A database from before m012 kept this state as strings under made-up keys in ``settings``.
    from sqlite_utils import Database

    path = tmp_path / "old.db"
    db = Database(path)
    migrations.apply(db, stop_before="m012_connector_state")
    db["settings"].insert_all(
        [
            {"key": "connector:x:paused", "value": "401 Unauthorized"},
            {"key": "private-cursor:x", "value": "dm-42"},
            {"key": "private-cursor:reddit", "value": "t4_9"},
            {"key": "posting_paused", "value": "by alice"},
            {"key": "report:last_week", "value": "2026-W47"},
            {"key": "triage.last_retrain", "value": "2026-11-30T02:00:00.123456+00:00"},
            {"key": "triage.labels_at_retrain", "value": "41"},
        ]
    )
    db.close()
    store = Store.open(path)
    assert store.paused_connectors() == {"x": "401 Unauthorized"} and store.connector_paused("reddit") is None
    assert (store.private_cursor("x"), store.private_cursor("reddit")) == ("dm-42", "t4_9")
    assert (store.posting_paused(), store.report_last_week()) == ("by alice", "2026-W47")
    at, labels = store.retrained()
    assert (at.isoformat(timespec="seconds"), labels) == ("2026-11-30T02:00:00+00:00", 41)
    assert "settings" not in store.db.table_names()
    store.set_connector_paused("x", None)
    store.set_posting_paused(None)
    assert store.paused_connectors() == {} and store.posting_paused() is None


def test_a_lease_has_one_holder_until_it_runs_out_or_is_given_up(engine, tmp_path):
    store, clock, ttl = engine.open(tmp_path), FakeClock(), timedelta(seconds=30)
    assert store.take_lease("poll:reddit", "a:1", now=clock.now(), ttl=ttl)
    assert not store.take_lease("poll:reddit", "b:2", now=clock.now(), ttl=ttl)
    clock.advance(seconds=20)
    assert store.take_lease("poll:reddit", "a:1", now=clock.now(), ttl=ttl)  # renewed: 30 s from now
    clock.advance(seconds=20)
    assert not store.take_lease("poll:reddit", "b:2", now=clock.now(), ttl=ttl)
    (held,) = store.leases(now=clock.now())
    assert (held.holder, held.expires_at) == ("a:1", clock.now() + timedelta(seconds=10))
    clock.advance(seconds=10)  # a:1 stopped renewing: its lease ran out
    assert store.take_lease("poll:reddit", "b:2", now=clock.now(), ttl=ttl)
    assert not store.take_lease("poll:reddit", "a:1", now=clock.now(), ttl=ttl)
    assert store.take_lease(
        "poll:reddit", "c:3", now=clock.now(), ttl=ttl, replacing="b:2"
    )  # b:2 is known dead
    store.release_leases("c:3")
    assert store.leases() == [] and store.take_lease("poll:reddit", "a:1", now=clock.now(), ttl=ttl)


def test_a_postgresql_store_is_configured_by_url_with_the_password_from_the_environment(monkeypatch):
    from bot.config import ConfigError, parse_config
    from bot.errors import StoreError
    from bot.store.postgres import Postgres

    def problems(store: dict) -> list[str]:
        try:
            parse_config({"store": store})
        except ConfigError as exc:
            return exc.problems
        return []

    assert problems({"url": "mysql://db/x"}) == [
        "store.url: expected a postgresql://user@host:port/database URL, got 'mysql://db/x'"
    ]
    assert "the password does not belong in the file" in problems({"url": "postgresql://bot:hunter2@db/x"})[0]
    monkeypatch.delenv("DB_PASSWORD", raising=False)
    assert problems({"url": "postgresql://bot@db/x", "password": {"env": "DB_PASSWORD"}}) == [
        "store.password: environment variable DB_PASSWORD is not set (needed by store.url)"
    ]
    monkeypatch.setenv("DB_PASSWORD", "s3cret")
    config = parse_config({"store": {"url": "postgresql://bot@db/x", "password": {"env": "DB_PASSWORD"}}})
    location = config.store_location()
    assert isinstance(location, Postgres) and location.password.value() == "s3cret"
    assert "s3cret" not in repr(location) and "s3cret" not in str(location)
    with pytest.raises(StoreError, match=r"^cannot connect to postgresql://bot@127\.0\.0\.1:1/x: .*refused"):
        Store.open("postgresql://bot@127.0.0.1:1/x")  # one line, and not a traceback in the command line
