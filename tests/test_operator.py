"""The operator's commands: read-only ones never create a database; times, JSON and decisions as a person needs."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from bot.cli import cli as main_cli
from bot.clock import FakeClock
from bot.config import load_config
from bot.pipeline import Pipeline
from bot.store import Store
from tests.conftest import mentionbot, write_config

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
def config_path(tmp_path, fake_reddit, reddit_env, engine):
    """The shared config, on each engine (SQLite and PostgreSQL): the CLI runs on both."""
    return write_config(tmp_path, fake_reddit, store=engine.store_toml)


@pytest.fixture
def week(config_path, fake_reddit):
    """The configured store after one cycle: a complaint and an inquiry, each with a draft and a case."""
    clock = FakeClock(T)
    config = load_config(config_path)
    pipeline = Pipeline(config, Store.open(config.store_location()), clock=clock)
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
    _, clock = week
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


def test_queue_cases_case_and_status_print_json_and_csv_that_parse(week):
    drafts = json.loads(cli(week, "queue", "--json").output)
    assert [(d["id"], d["intent"], d["author"]) for d in drafts] == [
        (1, "complaint", "marta"),
        (2, "inquiry", "nina"),
    ]
    assert drafts[0]["posted_at"] == "2026-11-16T09:00:00+00:00"  # ISO UTC for scripts
    rows = list(csv.DictReader(io.StringIO(cli(week, "queue", "--csv").output)))
    assert [r["id"] for r in rows] == ["1", "2"] and rows[0]["platform"] == "reddit"
    listed = json.loads(cli(week, "cases", "--json").output)
    assert [c["ref"] for c in listed] == ["C-00001", "C-00002"]
    assert listed[0]["stage"] == "contact" and listed[0]["due_at"].endswith("+00:00")
    assert [r["ref"] for r in csv.DictReader(io.StringIO(cli(week, "cases", "--csv").output))] == [
        "C-00001",
        "C-00002",
    ]
    one = json.loads(cli(week, "case", "C-00001", "--json").output)
    assert one["post"]["text"] == "u/acme_support my parcel arrived broken"
    assert [e["kind"] for e in one["history"]] == ["opened"]
    status = json.loads(cli(week, "status", "--json").output)
    assert status["timezone"] == "Europe/Amsterdam"
    assert status["queue"]["awaiting"] == 2 and status["cases"]["open"] == 2
    assert status["connectors"][0]["connector"] == "reddit" and status["connectors"][0]["status"] == "ok"
    (row,) = csv.DictReader(io.StringIO(cli(week, "status", "--csv").output))
    assert row["connector"] == "reddit" and row["status"] == "ok" and row["last_poll"].endswith("+00:00")


def test_queue_filters_by_platform_and_intent_and_limits(week):
    assert [d["id"] for d in json.loads(cli(week, "queue", "--json", "--intent", "inquiry").output)] == [2]
    assert json.loads(cli(week, "queue", "--json", "--platform", "x").output) == []
    assert "No draft matches." in cli(week, "queue", "--platform", "x").output
    limited = cli(week, "queue", "--limit", "1").output
    assert "showing 1 of 2 (--limit)" in limited and "marta" in limited and "nina" not in limited


def test_handover_gives_the_case_one_new_owner_and_records_it(week):
    cli(week, "take", "C-00001", "--as", "alice")
    refused = cli(week, "handover", "C-00001", "--to", "carol", "--as", "bob")
    assert refused.exit_code == 1 and "owned by alice" in refused.output
    out = cli(
        week, "handover", "C-00001", "--to", "bob", "--note", "she is off tomorrow", "--as", "alice"
    ).output
    assert "owner bob" in out and "stored in its history: handover: handed over by alice to bob" in out
    one = json.loads(cli(week, "case", "C-00001", "--json").output)
    assert one["owner"] == "bob"
    assert one["history"][-1]["note"] == "handed over by alice to bob: she is off tomorrow"
    assert cli(week, "advance", "C-00001", "--as", "alice").exit_code == 1  # bob's case now


def test_advance_asks_before_closing_and_resolve_notes_the_last_move(week):
    for _ in range(3):  # contact → thank you → what happened? → find solution
        cli(week, "advance", "C-00001", "--as", "alice")
    declined = cli(week, "advance", "C-00001", "--as", "alice", input="n\n")
    assert declined.exit_code == 1 and "closes it as resolved" in declined.output
    assert json.loads(cli(week, "case", "C-00001", "--json").output)["status"] == "open"
    closed = cli(week, "advance", "C-00001", "--as", "alice", input="y\n")
    assert closed.exit_code == 0 and "C-00001: closed · stage resolved" in closed.output
    noted = cli(week, "resolve", "C-00001", "--note", "sent a new parcel", "--as", "alice")
    assert noted.exit_code == 0 and "stored in its history: resolved: sent a new parcel" in noted.output
    assert cli(week, "resolve", "C-00001", "--note", "mine", "--as", "bob").exit_code == 1
    for _ in range(3):
        cli(week, "advance", "C-00002", "--as", "alice")
    assert cli(week, "advance", "C-00002", "--yes", "--as", "alice").exit_code == 0


def test_every_decision_says_what_it_stored(week):
    assert "draft 2: label 'other' stored for the complaint model (by alice); the draft is withdrawn" in (
        cli(week, "relabel", "2", "other", "--as", "alice").output
    )
    assert (
        "draft 1: approved by alice; queued for posting" in cli(week, "approve", "1", "--as", "alice").output
    )


def test_triage_of_an_empty_text_is_refused(week):
    result = cli(week, "triage", "  ")
    assert result.exit_code == 2 and "TEXT is empty" in result.output
