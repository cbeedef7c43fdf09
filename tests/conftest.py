"""Shared fixtures: a fake Reddit on loopback, a config pointing at it, and the real CLI as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.store import Store
from connectors.fakes.reddit import FakeReddit

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


def write_config(path: Path, fake: FakeReddit, *, dry_run: bool = False, extra: str = "") -> Path:
    """A config.toml in ``path`` with Reddit pointed at ``fake``."""
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
            path = "bot.db"
            [connectors.reddit]
            enabled = true
            base_url = "{fake.base_url}"
            interval_seconds = 1
            subreddits = ["acme"]
            keywords = ["acme"]
            username = "acme_support"
            own_accounts = ["acme"]
            client_id = {{ env = "REDDIT_CLIENT_ID" }}
            client_secret = {{ env = "REDDIT_CLIENT_SECRET" }}
            password = {{ env = "REDDIT_PASSWORD" }}
            """
        )
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
    return Store.open(config.parent / "bot.db")


def wait_for(condition, *, timeout: float = 20.0, what: str = "condition"):
    """Wait for another process to reach a state (not for time to pass): poll the condition until true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
