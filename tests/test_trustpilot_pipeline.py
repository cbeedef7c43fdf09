"""Trustpilot's reference reviews through the real pipeline: a reported review is stored and left to a human with the
reason, an edited one is marked, an unreadable one is quarantined beside the cursor."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

from bot.clock import FakeClock
from bot.config import parse_config
from bot.pipeline import Pipeline
from bot.store import Store
from connectors.fakes.trustpilot import FakeTrustpilot
from tests.conformance import fixture

RECORDED = fixture("trustpilot", "reviews_list.json")


def test_reference_reviews_through_the_pipeline(tmp_path, monkeypatch):
    with FakeTrustpilot() as fake:
        for review in RECORDED["reviews"]:
            fake.reviews[review["id"]] = copy.deepcopy(review)
        broken = {
            **copy.deepcopy(RECORDED["reviews"][0]),
            "id": "5e3de1b45fb06f0001790bff",
            "createdAt": None,
        }
        fake.reviews[broken["id"]] = broken
        for key, value in fake.environment().items():
            monkeypatch.setenv(key, value)
        config = parse_config(
            {
                "dry_run": False,
                "brand": {
                    "name": "Acme",
                    "contact_email": "care@acme.example",
                    "timezone": "Europe/Amsterdam",
                },
                "store": {"path": str(tmp_path / "bot.db")},
                "connectors": {"trustpilot": fake.connector_settings()},
            }
        )
        store = Store.open(tmp_path / "bot.db")
        pipeline = Pipeline(config, store, clock=FakeClock(datetime(2026, 4, 28, 12, 0, tzinfo=UTC)))
        try:
            result = pipeline.poll("trustpilot")
            assert result.quarantined == 1
            reported = store.mention("trustpilot", "5e3de1b45fb06f0001790b52")
            assert (reported.unanswerable, reported.edited) == ("reported on Trustpilot", True)
            draft = store.draft_for("trustpilot", reported.id)
            assert draft is not None and draft.route == "manual"
            assert "reported on Trustpilot" in " ".join(draft.problems)
            john = store.mention("trustpilot", "5e3de1b45fb06f0001790b51")
            assert (john.unanswerable, john.edited, john.rating) == (None, False, 5)
            [bad] = store.quarantined("trustpilot")
            assert bad.item.item_id == "5e3de1b45fb06f0001790bff" and "createdAt" in bad.item.raw
            assert "quarantined:5e3de1b45fb06f0001790bff" in store.get_cursor("trustpilot")
        finally:
            pipeline.close()
