"""Customer data on disk is readable by its owner only: the database, its WAL and shared memory, the reports and the
Bluesky session are 0600 and the folders mentionbot creates 0700, whatever the umask."""

from __future__ import annotations

import os
import stat
from contextlib import contextmanager

from bot.store import Store
from connectors.bluesky import SessionFile
from tests.conftest import mentionbot


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@contextmanager
def umask(value: int):
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def test_the_database_wal_and_shm_are_0600_and_its_new_folder_0700(tmp_path):
    existing = tmp_path / "project"
    existing.mkdir()
    os.chmod(existing, 0o755)
    path = existing / "state" / "deep" / "bot.db"
    with umask(0):
        store = Store.open(path)
        store.set_posting_paused("a write")  # a write: the WAL and the shared memory exist now
        assert {p.name: mode(p) for p in path.parent.iterdir()} == {
            "bot.db": 0o600,
            "bot.db-wal": 0o600,
            "bot.db-shm": 0o600,
        }
        assert (mode(path.parent), mode(path.parent.parent)) == (0o700, 0o700)
        assert mode(existing) == 0o755  # a folder that was there is not ours to change
        store.close()


def test_a_world_readable_database_is_tightened_and_a_group_shared_one_left_alone(tmp_path):
    old, shared = tmp_path / "old.db", tmp_path / "shared.db"
    for path, was in ((old, 0o644), (shared, 0o640)):
        Store.open(path).close()
        os.chmod(path, was)
        Store.open(path).close()
    assert (mode(old), mode(shared)) == (0o600, 0o640)


def test_reports_are_0600_in_a_0700_folder(config_path, tmp_path):
    out = tmp_path / "reports" / "weekly"
    with umask(0):
        mentionbot(
            config_path, "run", "--once"
        )  # a report is of a database that exists (report never makes one)
        mentionbot(config_path, "report", "--out", str(out))
    files = list(out.iterdir())
    assert files and {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
    assert (mode(out), mode(out.parent)) == (0o700, 0o700)
    assert mode(config_path.parent / "bot.db") == 0o600


def test_the_bluesky_session_is_0600_in_a_0700_folder_whatever_the_umask(tmp_path):
    path = tmp_path / "state" / "bluesky-session"
    with umask(0):
        SessionFile(path, service="https://bsky.example", identifier="acme.com").save("tokens")
    assert (mode(path), mode(path.parent)) == (0o600, 0o700)
