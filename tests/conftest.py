"""Shared fixtures: a fake Reddit on loopback, a config pointing at it, and the real CLI as a subprocess."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.store import Store
from connectors.fakes.reddit import FakeReddit
from tests.postgres_server import Cluster

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def clock():
    """A clock that moves only when a test moves it (its ``sleep`` advances it)."""
    return FakeClock()


@pytest.fixture
def fake_reddit():
    fake = FakeReddit()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def reddit_env(fake_reddit, monkeypatch):
    env = fake_reddit.environment()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def write_config(
    path: Path, fake: FakeReddit, *, dry_run: bool = False, extra: str = "", store: str = 'path = "bot.db"'
) -> Path:
    """A config.toml in ``path`` with Reddit pointed at ``fake`` (``store``: the ``[store]`` table's lines)."""
    config = path / "config.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            dry_run = {str(dry_run).lower()}
            [brand]
            name = "Acme"
            contact_email = "care@acme.example"
            timezone = "Europe/Amsterdam"
            [store]
            {store}
            """
        )
        + fake.config_toml()
        + extra
    )
    return config


@pytest.fixture
def config_path(tmp_path, fake_reddit, reddit_env):
    return write_config(tmp_path, fake_reddit)


def mentionbot(config: Path, *args: str, env: dict | None = None, check: bool = True, timeout: float = 60):
    """Run the real ``mentionbot`` command line in a subprocess."""
    result = subprocess.run(
        [sys.executable, "-m", "bot", "-c", str(config), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"mentionbot {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result


def open_store(config: Path) -> Store:
    """A new connection to the store the configuration at ``config`` names."""
    from bot.config import load_config

    return Store.open(load_config(config, check_env=False).store_location())


# -- both engines ---------------------------------------------------------------------------------------------

TEMPLATE = "mentionbot_template"


@pytest.fixture(scope="session")
def postgres_cluster():
    """One throwaway PostgreSQL cluster for the session, with a migrated template database."""
    try:
        cluster = Cluster().start()
    except RuntimeError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must test on PostgreSQL: {exc}")
        pytest.skip(f"PostgreSQL cannot be started here: {exc}")
    import psycopg

    with psycopg.connect(cluster.url(), autocommit=True) as admin:
        admin.execute(f"create database {TEMPLATE}")
    Store.open(cluster.url(TEMPLATE)).close()
    yield cluster
    cluster.stop()


_databases = itertools.count(1)


@dataclass
class Engine:
    """The store engine a test runs on: ``new_store()``, and the ``[store]`` lines a config needs for it."""

    name: str
    url: str | None = None

    @property
    def store_toml(self) -> str:
        return f'url = "{self.url}"' if self.url else 'path = "bot.db"'

    def location(self, folder: Path) -> str | Path:
        """Where a test's store is: its PostgreSQL database, or a SQLite file in ``folder``."""
        return self.url or folder / "bot.db"

    def open(self, folder: Path) -> Store:
        return Store.open(self.location(folder))


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request):
    """Each test using it runs twice: on SQLite and on a fresh PostgreSQL database (a copy of the template)."""
    if request.param == "sqlite":
        yield Engine("sqlite")
        return
    yield Engine("postgresql", request.getfixturevalue("postgres_url"))


@pytest.fixture
def postgres_url(postgres_cluster):
    """A fresh PostgreSQL database with the schema (a copy of the template), dropped afterwards."""
    import psycopg

    name = f"test_{os.getpid()}_{next(_databases)}"
    with psycopg.connect(postgres_cluster.url(), autocommit=True) as admin:
        admin.execute(f"create database {name} template {TEMPLATE}")
    yield postgres_cluster.url(name)
    with psycopg.connect(postgres_cluster.url(), autocommit=True) as admin:
        admin.execute(f"drop database {name} with (force)")


def wait_for(condition, *, timeout: float = 20.0, what: str = "condition"):
    """Wait for another process to reach a state (not for time to pass): poll the condition until true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
