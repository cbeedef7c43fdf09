"""The file connector imports JSONL and CSV exports once, picks up appended rows and skips bad ones."""

from __future__ import annotations

import json

from bot.clock import FakeClock
from bot.store import Store
from connectors.file import FileConnector, FileSettings


def test_jsonl_and_csv_import_once_and_pick_up_appended_rows(tmp_path):
    jsonl = tmp_path / "reviews.jsonl"
    jsonl.write_text(
        json.dumps(
            {
                "id": "r1",
                "author": "ann",
                "text": "Two stars, the app crashes",
                "rating": 2,
                "created_at": "2026-11-16T08:00:00Z",
                "platform": "trustpilot",
            }
        )
        + "\n"
        + "{not json\n"
        + json.dumps({"author": "bo", "text": "", "created_at": "2026-11-16T08:00:00Z"})
        + "\n"
    )
    csv = tmp_path / "posts.csv"
    csv.write_text("author,text,created_at\ncy,Where is my parcel?,1763280000\n")
    connector = FileConnector(FileSettings(paths=[str(tmp_path / "*.jsonl"), str(tmp_path / "*.csv")]))
    store, clock = Store.memory(), FakeClock()

    first = connector.fetch(None)
    assert [(m.platform, m.kind, m.rating) for m in first.mentions] == [
        ("trustpilot", "review", 2),
        ("import", "post", None),
    ]
    assert [(q.item_id, q.reason) for q in first.quarantined] == [
        (f"{jsonl}:2", "not JSON: Expecting property name enclosed in double quotes (column 2)"),
        (f"{jsonl}:3", "no text"),
    ]
    assert (
        len(
            store.save_fetch(
                "file", first.mentions, first.cursor, now=clock.now(), quarantined=first.quarantined
            )
        )
        == 2
    )
    assert store.quarantine_counts() == {"file": 2}

    again = connector.fetch(store.get_cursor("file"))
    assert again.mentions == [] and again.quarantined == []  # a bad row is set aside once
    with csv.open("a") as handle:
        handle.write("dee,Love the new app,2026-11-16T09:00:00+00:00\n")
    appended = connector.fetch(store.get_cursor("file"))
    assert [m.author.handle for m in appended.mentions] == ["dee"]
    assert (
        appended.mentions[0].id
        == connector.to_mention(
            {"author": "dee", "text": "Love the new app", "created_at": "2026-11-16T09:00:00+00:00"}
        ).id
    )
