"""`mentionbot store copy`: an existing SQLite database into PostgreSQL and back, checked by counts."""

from __future__ import annotations

from datetime import timedelta

from click.testing import CliRunner

from bot import decisions
from bot.cli import cli
from bot.clock import FakeClock
from bot.store import Store
from bot.store.copy import TABLES
from tests.test_store import mention


def seed(store: Store, clock: FakeClock) -> None:
    """A little of everything: mentions, people, a draft approved and queued, a case, a label, a model, runs."""
    mentions = [mention(n, clock) for n in range(1, 6)]
    store.save_fetch("reddit", mentions, "c5", now=clock.now())
    draft = store.add_draft(
        mentions[0], intent="complaint", text="Thank you for telling us.", now=clock.now()
    )
    case = store.open_case(
        mentions[0], intent="complaint", due_at=clock.now() + timedelta(hours=1), now=clock.now()
    )
    store.transition(
        draft.id, from_states=["awaiting"], to_state="awaiting", actor="x", now=clock.now(), case_id=case.id
    )
    decisions.approve(store, draft.id, actor="alice", now=clock.now())
    store.add_label(
        mentions[1], complaint=False, intent="other", source="relabelled", actor="kim", now=clock.now()
    )
    store.save_model(
        "lr-1", kind="linear", blob=b"\x00\x01model", scores={"f1": 0.9}, now=clock.now(), active=True
    )
    store.record_run("reddit", started_at=clock.now(), duration_ms=5, fetched=5, new=5, errors=0, status="ok")
    store.set_connector_paused("x", "401 Unauthorized")
    store.set_posting_paused("by alice")
    store.set_discord_card(draft.id, "123", state="approved")


def test_every_table_the_migrations_make_is_copied(tmp_path):
    store = Store.open(tmp_path / "new.db")
    made = {t for t in store.db.table_names() if not t.startswith(("_", "sqlite_"))}
    assert made == set(TABLES)


def test_a_sqlite_store_moves_into_postgresql_and_back_with_every_row(tmp_path, postgres_url):
    clock = FakeClock()
    source = Store.open(tmp_path / "old.db")
    seed(source, clock)
    counts = source.table_counts()
    source.close()

    there = CliRunner().invoke(
        cli, ["-c", str(tmp_path / "none.toml"), "store", "copy", str(tmp_path / "old.db"), postgres_url]
    )
    assert there.exit_code == 0, there.output
    assert "both stores count the same in every table" in there.output
    moved = Store.open(postgres_url)
    assert moved.table_counts() == counts and counts["mentions"] == 5 and counts["outbox"] == 1
    (item,) = moved.outbox()
    assert item.state == "pending" and item.text == "Thank you for telling us."
    assert moved.model_blob("lr-1") == b"\x00\x01model" and moved.active_model_version() == "lr-1"
    assert (moved.posting_paused(), moved.paused_connectors()) == ("by alice", {"x": "401 Unauthorized"})
    # The ids go on after the copied ones.
    new = moved.add_draft(mention(9, clock), intent="praise", text="Thanks!", now=clock.now())
    assert new.id > item.draft_id
    moved.close()

    again = CliRunner().invoke(
        cli, ["-c", str(tmp_path / "none.toml"), "store", "copy", postgres_url, str(tmp_path / "back.db")]
    )
    assert again.exit_code == 0, again.output
    back = Store.open(tmp_path / "back.db")
    assert back.table_counts() == {**counts, "drafts": counts["drafts"] + 1, "audit": counts["audit"] + 1}
    assert back.draft(new.id).text == "Thanks!" and back.case_by_ref("C-00001").mention_id == "t1_1"

    refused = CliRunner().invoke(
        cli,
        [
            "-c",
            str(tmp_path / "none.toml"),
            "store",
            "copy",
            str(tmp_path / "old.db"),
            str(tmp_path / "back.db"),
        ],
    )
    assert refused.exit_code == 1 and "not empty" in refused.output
