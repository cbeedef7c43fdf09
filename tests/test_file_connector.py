"""The file connector imports JSONL and CSV exports once, picks up appended rows and skips bad ones."""

from __future__ import annotations

import json
import logging

from bot.clock import FakeClock
from bot.store import Store
from connectors.file import FileConnector, FileSettings


def test_jsonl_and_csv_import_once_and_pick_up_appended_rows(tmp_path, caplog):
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

    with caplog.at_level(logging.WARNING):
        first = connector.fetch(None)
    assert [(m.platform, m.kind, m.rating) for m in first.mentions] == [
        ("trustpilot", "review", 2),
        ("import", "post", None),
    ]
    assert "file:" in caplog.text and "line 2 is not JSON" in caplog.text and "no text" in caplog.text
    assert len(store.save_fetch("file", first.mentions, first.cursor, now=clock.now())) == 2

    again = connector.fetch(store.get_cursor("file"))
    assert again.mentions == []
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
