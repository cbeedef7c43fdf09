"""Review connectors through the real pipeline: rating-led triage, a Play reply within 350 characters, Yelp by hand."""

from __future__ import annotations

import pytest

from bot import decisions
from bot.config import parse_config
from bot.pipeline import Pipeline
from bot.store import Store
from connectors.fakes.googleplay import FakeGooglePlay
from connectors.fakes.yelp import FakeYelp


@pytest.fixture
def setup(tmp_path, monkeypatch):
    play, yelp = FakeGooglePlay(), FakeYelp()
    play.start()
    yelp.start()
    for fake in (play, yelp):
        for key, value in fake.environment().items():
            monkeypatch.setenv(key, value)
    config = parse_config(
        {
            "dry_run": False,
            "brand": {"name": "Acme", "contact_email": "care@acme.example", "timezone": "Europe/Amsterdam"},
            "store": {"path": str(tmp_path / "bot.db")},
            "connectors": {"googleplay": play.connector_settings(), "yelp": yelp.connector_settings()},
        }
    )
    store = Store.open(tmp_path / "bot.db")
    pipeline = Pipeline(config, store)
    yield pipeline, store, play, yelp
    pipeline.close()
    play.stop()
    yelp.stop()


def test_one_star_play_review_is_answered_within_the_limit_and_an_overlong_edit_is_stopped(setup):
    pipeline, store, play, _ = setup
    rid = play.add_review(
        author="Priya Sharma", rating=1, text="Order still not here, tracking stuck for a week"
    )
    pipeline.poll("googleplay")
    (draft,) = store.drafts("awaiting")
    assert draft.mention_id == rid and draft.intent == "complaint"
    assert store.mention("googleplay", rid).rating == 1
    now = pipeline.clock.now()
    with pytest.raises(decisions.DecisionError, match="refuse"):
        decisions.approve(store, draft.id, actor="alice", now=now, text="We are sorry. " * 30)
    decisions.approve(store, draft.id, actor="alice", now=now, brand=pipeline.config.brand)
    while pipeline.post():
        pass
    assert play.reply_of(rid) == draft.text and len(draft.text) <= 350
    assert store.draft(draft.id).state == "posted"


def test_yelp_review_becomes_a_reply_by_hand_task(setup):
    pipeline, store, _, yelp = setup
    rid = yelp.add_review(name="Amy K.", rating=2, text="The Acme store lost my repair ticket.")
    pipeline.poll("yelp")
    (draft,) = store.drafts("awaiting")
    assert (draft.mention_id, draft.route) == (rid, "manual")
    decided = decisions.approve(
        store, draft.id, actor="alice", now=pipeline.clock.now(), brand=pipeline.config.brand
    )
    assert decided.state == "manual"
    assert yelp.posted() == []
