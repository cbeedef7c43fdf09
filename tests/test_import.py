"""``mentionbot import``: backfilling exports through the command line."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import bot.pipeline as pipeline_module
from bot.clock import FakeClock
from bot.config import parse_config
from bot.models import Author, Mention
from bot.pipeline import Pipeline
from bot.store import Store
from tests.conftest import mentionbot, open_store


def test_import_stores_and_triages_each_row_once(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(
        'dry_run = true\n[brand]\ncontact_email = "care@acme.example"\n[store]\npath = "bot.db"\n'
    )
    recent = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    export = tmp_path / "reviews.jsonl"
    rows = [
        {
            "id": "r1",
            "author": "ann",
            "text": "My parcel never arrived and nobody answers",
            "created_at": "2025-01-02T10:00:00Z",
        },
        {
            "id": "r2",
            "author": "bo",
            "text": "Love the new app, thank you!",
            "created_at": "2025-01-03T10:00:00Z",
        },
        {
            "id": "r3",
            "author": "cy",
            "text": "Charged twice and still no refund",
            "created_at": recent,
            "rating": 1,
        },
    ]
    export.write_text("\n".join(json.dumps(r) for r in rows[:2]) + "\n{broken\n" + json.dumps(rows[2]) + "\n")

    first = mentionbot(config, "import", str(export), "--platform", "trustpilot")
    assert "imported 3 new mention(s) of 3 read; 1 row(s) skipped" in first.stdout
    assert "row 3 skipped" in first.stderr
    again = mentionbot(config, "import", str(export), "--platform", "trustpilot")
    assert "imported 0 new mention(s)" in again.stdout

    store = open_store(config)
    assert store.triage_for("trustpilot", "r1").intent == "complaint"
    assert store.triage_for("trustpilot", "r2").intent == "praise"
    (draft,) = store.drafts("awaiting")  # only the recent one: old posts are history, not replies to send
    assert draft.mention_id == "r3" and draft.route == "manual"


def test_import_of_a_missing_file_says_so(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[brand]\ncontact_email = "care@acme.example"\n')
    result = mentionbot(config, "import", str(tmp_path / "nope.csv"), check=False)
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_a_large_import_is_triaged_in_batches_without_losing_order_or_repeats(tmp_path):
    """Past one batch the import triages in a worker process: every row still stored once, in its own
    transaction with its triage, and a customer's second complaint two batches later is still a repeat."""
    config = tmp_path / "config.toml"
    config.write_text('[brand]\ncontact_email = "care@acme.example"\n[store]\npath = "bot.db"\n')
    rows = [
        {
            "id": f"p{i}",
            "author": f"fan{i}",
            "text": f"Love the lamp, number {i}!",
            "created_at": "2025-01-02",
        }
        for i in range(2500)
    ]
    rows[10] = {"id": "c1", "author": "dee", "text": "My order never arrived", "created_at": "2025-01-02"}
    rows[2400] = {
        "id": "c2",
        "author": "dee",
        "text": "Still no refund, charged twice",
        "created_at": "2025-01-03",
    }
    rows[1500] = dict(rows[20])  # the same post exported twice, a batch apart
    export = tmp_path / "export.jsonl"
    export.write_text("\n".join(json.dumps(r) for r in rows) + "\n")

    result = mentionbot(config, "import", str(export), timeout=120)
    assert "imported 2499 new mention(s) of 2500 read" in result.stdout

    store = open_store(config)
    assert store.counts()["mentions"] == 2499
    counts = store.intent_counts()
    assert counts["complaint"] == 2 and "untriaged" not in counts and sum(counts.values()) == 2499
    first, second = store.triage_for("import", "c1"), store.triage_for("import", "c2")
    assert not any(r.startswith("repeat contact") for r in first.reasons)
    assert "repeat contact: complaint #2 from this person" in second.reasons
    assert store.person("import", "dee")["complaints"] == 2


def _die(items):
    """Stands in for the workers' triage: the process dies as a crash would kill it."""
    os._exit(3)


def test_an_import_whose_triage_workers_die_finishes_in_the_command(tmp_path, monkeypatch, caplog):
    """The workers are lost mid-import (their function dies in them): every row is still stored and triaged once,
    by the command itself, and the loss is logged once."""
    monkeypatch.setattr(pipeline_module, "_triage_in_worker", _die)
    config = parse_config({"brand": {"contact_email": "care@acme.example"}}, check_env=False)
    pipeline = Pipeline(config, Store.memory(), clock=FakeClock(), connectors={})
    batches = [
        [
            Mention(
                platform="import",
                id=f"{b}-{i}",
                url="",
                author=Author(f"user{i}", "", ""),
                text="My order never arrived" if i == 0 else f"Love the lamp, number {i}!",
                created_at=datetime(2025, 1, 2, tzinfo=UTC),
            )
            for i in range(50)
        ]
        for b in range(6)
    ]
    stored = [pair for batch in pipeline.ingest_many("import", batches) for pair in batch]

    assert len(stored) == 300 and all(triage is not None for _, triage in stored)
    assert pipeline.store.intent_counts()["complaint"] == 6
    assert len([r for r in caplog.records if "triage worker failed" in r.getMessage()]) == 1
