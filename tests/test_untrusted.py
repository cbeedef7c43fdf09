"""The Mention boundary: a stranger's text is made safe to store, and an item that cannot be read is set aside."""

from __future__ import annotations

from bot.clock import FakeClock
from bot.config import load_config
from bot.models import MAX_TEXT, Author, FetchResult, Mention, Quarantined
from bot.pipeline import Pipeline
from bot.store import Store
from connectors.base import Connector
from tests.conftest import mentionbot
from tests.test_store import mention as post


def test_lone_surrogates_and_nul_are_replaced_and_a_huge_post_is_cut_visibly():
    clock = FakeClock()
    m = Mention(
        platform="reddit",
        id="t1_\ud800",
        url="https://x.example/\x00",
        author=Author("h\ud800x", "Na\x00me", "\udfff"),
        text="before \ud800 after\x00" + "x" * (2 * MAX_TEXT),
        created_at=clock.now(),
        raw={"body": "\ud800"},
    )
    assert m.text.startswith("before \ufffd after")
    assert len(m.text) == MAX_TEXT and m.text.endswith("characters in all]") and "cut by mentionbot" in m.text
    assert (m.id, m.url, m.author.handle, m.author.display_name, m.author.id) == (
        "t1_\ufffd",
        "https://x.example/",
        "h\ufffdx",
        "Name",
        "\ufffd",
    )
    store = Store.memory()
    assert [x.id for x in store.save_fetch("reddit", [m], "c1", now=clock.now())] == ["t1_\ufffd"]
    stored = store.mention("reddit", "t1_\ufffd")
    assert stored.text == m.text and stored.raw == {"body": "\ud800"}  # the raw original kept as received


def test_a_quarantined_item_is_stored_with_the_cursor_and_shown_in_status(tmp_path, config_path):
    clock = FakeClock()

    class Poisoned(Connector):
        name = "reddit"

        def fetch(self, cursor):
            bad = {"id": "t1_bad", "body": None, "author": "\x1b[31mmallory"}
            return FetchResult(
                [post(1, clock), post(2, clock)],
                "after-3",
                [Quarantined.of("reddit", bad, TypeError("body is not text"))],
            )

    config = load_config(config_path)
    store = Store.open(config_path.parent / "bot.db")
    pipeline = Pipeline(
        config, store, clock=clock, connectors={"reddit": Poisoned(config.connectors["reddit"])}
    )
    result = pipeline.poll("reddit")
    assert (result.status, result.new, result.quarantined) == ("ok", 2, 1)
    assert store.get_cursor("reddit") == "after-3"
    [item] = store.quarantined()
    assert (item.connector, item.item.item_id, item.item.reason) == (
        "reddit",
        "t1_bad",
        "TypeError: body is not text",
    )
    assert '"body": null' in item.item.raw
    store.close()
    out = mentionbot(config_path, "status").stdout
    assert "could not be read" in out and "t1_bad: TypeError: body is not text" in out


def test_an_unanswerable_mention_is_stored_and_drafted_for_a_human_with_the_reason(config_path):
    clock = FakeClock()
    locked = Mention(
        platform="reddit",
        id="t1_locked",
        url="https://reddit.example/locked",
        author=Author("marta"),
        text="u/acme_support my parcel arrived broken and nobody answers",
        created_at=clock.now(),
        unanswerable="locked by the moderators",
        edited=True,
    )

    class Locked(Connector):
        name = "reddit"

        def fetch(self, cursor):
            return FetchResult([locked], "c1")

    config = load_config(config_path)
    store = Store.memory()
    pipeline = Pipeline(
        config, store, clock=clock, connectors={"reddit": Locked(config.connectors["reddit"])}
    )
    pipeline.poll("reddit")
    stored = store.mention("reddit", "t1_locked")
    assert (stored.unanswerable, stored.edited) == ("locked by the moderators", True)
    draft = store.draft_for("reddit", "t1_locked")
    assert draft is not None and draft.route == "manual" and draft.state != "approved"
    assert "reddit will not take a reply here: locked by the moderators" in draft.problems
