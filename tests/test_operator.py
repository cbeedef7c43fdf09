"""The operator's commands: read-only ones never create a database; times, JSON and decisions as a person needs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from bot.cli import cli as main_cli
from bot.clock import FakeClock
from bot.config import load_config
from bot.pipeline import Pipeline
from bot.store import Store
from tests.conftest import mentionbot

BRAND = '[brand]\ncontact_email = "care@acme.example"\ntimezone = "Europe/Amsterdam"\n'


@pytest.mark.parametrize(
    "args",
    [["status"], ["queue"], ["cases"], ["case", "C-00001"], ["report"], ["model", "list"], ["approve", "1"]],
    ids=lambda a: a[0] if a[0] != "model" else "model list",
)
def test_a_read_only_command_in_an_empty_folder_creates_nothing(tmp_path, args):
    config = tmp_path / "config.toml"
    config.write_text(BRAND)
    result = mentionbot(config, *args, check=False)
    assert result.returncode != 0
    assert f"no database at {tmp_path / 'mentionbot.db'}" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


# -- a week with a complaint and an inquiry, read through the command line -------------------------------------

# Monday 16 November 2026, 09:00 UTC = 10:00 in Amsterdam (CET, UTC+1).
T = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


@pytest.fixture
def week(config_path, fake_reddit):
    """The configured store after one cycle: a complaint and an inquiry, each with a draft and a case."""
    clock = FakeClock(T)
    config = load_config(config_path)
    pipeline = Pipeline(config, Store.open(config_path.parent / "bot.db"), clock=clock)
    fake_reddit.add_comment(
        author="marta", body="u/acme_support my parcel arrived broken", created_utc=T.timestamp()
    )
    fake_reddit.add_comment(
        author="nina", body="u/acme_support do you ship to Norway?", created_utc=T.timestamp()
    )
    pipeline.run_cycle()
    pipeline.close()
    return config_path, clock


def cli(week, *args: str, input: str | None = None):
    config_path, clock = week
    result = CliRunner().invoke(main_cli, ["-c", str(config_path), *args], obj=clock, input=input)
    return result


def test_cases_and_case_show_local_times_relative_due_and_human_stages(week):
    config_path, clock = week
    clock.set(T + timedelta(hours=12))  # 22:00 in Amsterdam: the complaint is due at local midnight
    out = cli(week, "cases").output
    assert "times in Europe/Amsterdam (CET)" in out
    assert "due in 2 h" in out
    assert "Z " not in out and "UTC" not in out
    clock.set(T + timedelta(hours=17))
    assert "overdue by 3 h" in cli(week, "cases").output
    ref = "C-00001"
    cli(week, "advance", ref, "--as", "alice")
    shown = cli(week, "case", ref).output
    assert "stage thank you" in shown
    assert "opened 2026-11-16 10:00 CET" in shown
    assert "now: thank you" in shown
    assert "thank_you" not in shown and "+00:00" not in shown
