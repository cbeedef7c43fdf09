"""``mentionbot import``: backfilling exports through the command line."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import bot.pipeline as pipeline_module
from bot.clock import FakeClock
from bot.config import parse_config
from bot.models import Author, FetchResult, Mention
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

    first = mentionbot(config, "import", str(export), "--platform", "trustpilot", check=False)
    assert "imported 3 new mention(s) of 4 row(s) read; 0 already stored; 1 skipped" in first.stdout
    assert f"{export}:3: skipped: not JSON" in first.stderr and first.returncode == 1
    again = mentionbot(config, "import", str(export), "--platform", "trustpilot", check=False)
    assert "imported 0 new mention(s) of 4 row(s) read; 3 already stored; 1 skipped" in again.stdout

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


def test_a_large_import_is_triaged_in_batches_without_losing_order_or_repeats(tmp_path, engine):
    """Past one batch the import triages in a worker process: every row still stored once, in its own
    transaction with its triage, and a customer's second complaint two batches later is still a repeat; on
    PostgreSQL (stored through COPY) as on SQLite."""
    config = tmp_path / "config.toml"
    config.write_text(f'[brand]\ncontact_email = "care@acme.example"\n[store]\n{engine.store_toml}\n')
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
    rows[31] = dict(rows[30], text="Love the lamp, edited")  # and twice in one batch: the first one is kept
    export = tmp_path / "export.jsonl"
    export.write_text("\n".join(json.dumps(r) for r in rows) + "\n")

    result = mentionbot(config, "import", str(export), timeout=120)
    assert "imported 2498 new mention(s) of 2500 row(s) read; 2 already stored; 0 skipped" in result.stdout

    store = open_store(config)
    assert store.counts().mentions == 2498
    assert store.mention("import", "p30").text == "Love the lamp, number 30!"
    counts = store.intent_counts()
    assert counts["complaint"] == 2 and "untriaged" not in counts and sum(counts.values()) == 2498
    first, second = store.triage_for("import", "c1"), store.triage_for("import", "c2")
    assert not any(r.startswith("repeat contact") for r in first.reasons)
    assert "repeat contact: complaint #2 from this person" in second.reasons
    assert store.person("import", "dee").complaints == 2

    again = mentionbot(config, "import", str(export), timeout=120)
    assert "imported 0 new mention(s) of 2500 row(s) read; 2500 already stored; 0 skipped" in again.stdout
    assert open_store(config).counts().mentions == 2498


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
        FetchResult(
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
            ],
            None,
        )
        for b in range(6)
    ]
    stored = [pair for batch in pipeline.ingest_many("import", batches) for pair in batch]

    assert len(stored) == 300 and all(triage is not None for _, triage in stored)
    assert pipeline.store.intent_counts()["complaint"] == 6
    assert len([r for r in caplog.records if "triage worker failed" in r.getMessage()]) == 1


def _config(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[brand]\ncontact_email = "care@acme.example"\n[store]\npath = "bot.db"\n')
    return config


def _row(n: int, **fields) -> bytes:
    return json.dumps(
        {
            "id": f"g{n}",
            "author": f"fan{n}",
            "text": f"Love the lamp {n}",
            "created_at": "2025-01-02",
            **fields,
        }
    ).encode()


def test_every_bad_row_is_skipped_with_its_line_and_reason_and_the_good_ones_are_stored(tmp_path):
    config = _config(tmp_path)
    export = tmp_path / "export.jsonl"
    lines = [
        _row(1),  # 1
        b"42",  # 2
        b'["x"]',  # 3
        b"{broken",  # 4
        json.dumps({"author": "ann", "text": "no date"}).encode(),  # 5
        _row(6, text=["a", "list"]),  # 6
        _row(7, created_at="yesterday-ish"),  # 7
        _row(8, rating=7),  # 8
        _row(9, kind="tweet"),  # 9
        _row(10, platform="[acme support](https://evil.example)"),  # 10
        _row(11, url="javascript:alert(1)"),  # 11
        b'{"id": "bin", "text": "caf\xe9 au lait", "created_at": "2025-01-02"}',  # 12: Latin-1, not UTF-8
        b"[" * 100_000 + b"]" * 100_000,  # 13
        b"",  # 14: a blank line is no row
        _row(15, rating="inf"),  # 15
        _row(16, created_at=1e20),  # 16
        b'{"id": "s1", "author": "mal", "text": "broken \\ud800 lamp\\u0000", "created_at": "2025-01-02"}',  # 17
        b'{"author": "mal", "text": "no id \\udfff here", "created_at": "2025-01-02"}',  # 18
        _row(19),  # 19
    ]
    export.write_bytes(b"\n".join(lines) + b"\n")

    result = mentionbot(config, "import", str(export), check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "imported 4 new mention(s) of 18 row(s) read; 0 already stored; 14 skipped" in result.stdout
    reasons = {
        2: "expected an object with text and created_at, got a number",
        3: "expected an object with text and created_at, got a list",
        4: "not JSON: Expecting property name enclosed in double quotes (column 2)",
        5: "no created_at",
        6: "text: expected text, got a list",
        7: "created_at 'yesterday-ish': expected ISO 8601 like 2026-11-16T08:00:00Z or epoch seconds",
        8: "rating '7': expected 1 to 5 stars",
        9: "kind 'tweet' is not one of comment, dm, post, reply, review",
        10: "platform '[acme support](https://evil.example)': expected a plain name like trustpilot",
        11: "url 'javascript:alert(1)': expected an http(s) address",
        12: "not UTF-8 text (byte 27)",
        13: "not JSON: RecursionError",
        15: "rating 'inf': expected 1 to 5 stars",
        16: "created_at '1e+20': expected ISO 8601 like 2026-11-16T08:00:00Z or epoch seconds",
    }
    for line, reason in reasons.items():
        assert f"{export}:{line}: skipped: {reason}\n" in result.stderr, (line, result.stderr)

    store = open_store(config)
    ids = {m.id for m in store.mentions()}
    assert ids >= {"g1", "g19", "s1"} and len(ids) == 4
    assert store.mention("import", "s1").text == "broken \ufffd lamp"  # made safe, not lost
    (no_id,) = [m for m in store.mentions() if m.author.handle == "mal" and m.id != "s1"]
    assert no_id.text == "no id \ufffd here"
    set_aside = {q.item.item_id: q.item.reason for q in store.quarantined(limit=100)}
    assert set_aside == {f"{export}:{line}": reason for line, reason in reasons.items()}
    assert store.quarantine_counts() == {"import": 14}
    store.close()
    status = mentionbot(config, "status").stdout
    assert "14 set aside" in status and f"{export}:16: created_at" in status


def test_a_binary_or_non_utf8_file_is_skipped_without_a_traceback(tmp_path):
    config = _config(tmp_path)
    png = tmp_path / "photo.jsonl"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 40)
    latin = tmp_path / "latin.csv"
    latin.write_bytes(
        b"id,author,text,created_at\nl1,ann,caf\xe9 froid,2025-01-02\nl2,bo,fine coffee,2025-01-02\n"
    )
    good = tmp_path / "good.jsonl"
    good.write_bytes(_row(1) + b"\n")

    result = mentionbot(config, "import", str(png), str(latin), str(good), check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{png}: skipped: a binary file, not UTF-8 JSONL or CSV text" in result.stderr
    assert f"{latin}:2: skipped: not UTF-8 text" in result.stderr
    assert (
        "imported 2 new mention(s) of 3 row(s) read; 0 already stored; 1 skipped; 1 file(s) could not be read"
        in result.stdout
    )
    store = open_store(config)
    assert {m.id for m in store.mentions()} == {"l2", "g1"}
    assert {q.item.item_id for q in store.quarantined()} == {str(png), f"{latin}:2"}


def test_the_exit_code_says_whether_anything_was_skipped(tmp_path):
    config = _config(tmp_path)
    good, bad = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    good.write_bytes(_row(1) + b"\n" + _row(2) + b"\n")
    bad.write_bytes(b"42\n[]\n")
    ok = mentionbot(config, "import", str(good))
    assert (
        ok.returncode == 0
        and "imported 2 new mention(s) of 2 row(s) read; 0 already stored; 0 skipped" in ok.stdout
    )
    failed = mentionbot(config, "import", str(bad), check=False)
    assert failed.returncode == 1
    assert "imported 0 new mention(s) of 2 row(s) read; 0 already stored; 2 skipped" in failed.stdout
    assert "exit" in mentionbot(config, "import", "--help").stdout.lower()
