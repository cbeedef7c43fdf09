"""A poisoned post (a lone surrogate, NUL, 50 MB) between normal ones, through the real clients and the pipeline:
every post is stored, the poisoned one safely and bounded, the cursor moves on and nothing stops."""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import timedelta

from bot.models import MAX_RAW, MAX_TEXT
from bot.pipeline import Pipeline
from bot.store import Store
from connectors.fakes.mastodon import TOKEN, FakeMastodon
from tests.conftest import mentionbot, open_store
from tests.review_helpers import config_for, connector_for

# Legal in JSON ("\ud800" is a valid escape) and in a Python str, but not encodable as UTF-8, so not storable.
POISON_HEAD = "my Acme order \ud800 never came\x00 and nobody answers "
HUGE = 50 * 1024 * 1024


def poison(prefix: str) -> str:
    return prefix + POISON_HEAD + "x" * (HUGE - len(POISON_HEAD))


def assert_stored_safely(store: Store, platform: str, mention_id: str) -> None:
    m = store.mention(platform, mention_id)
    assert "\ufffd never came and nobody answers" in m.text  # the surrogate replaced, the NUL removed
    assert len(m.text) == MAX_TEXT and "cut by mentionbot" in m.text and m.text.endswith("characters in all]")
    assert "\x00" not in m.text
    (raw,) = store._rows("select raw from mentions where platform = ? and id = ?", [platform, mention_id])
    assert len(raw["raw"]) <= MAX_RAW + 100 and "\\ud800" in raw["raw"]  # the original kept, bounded
    raw["raw"].encode("utf-8")


def test_a_poisoned_reddit_post_between_two_normal_ones_through_the_daemon(config_path, fake_reddit):
    now = time.time()
    first = fake_reddit.add_comment(
        author="ann", body="u/acme_support my Acme parcel is late", created_utc=now - 60
    )
    bad = fake_reddit.add_comment(author="mallory", body=poison("u/acme_support "), created_utc=now - 50)
    last = fake_reddit.add_comment(
        author="cy", body="u/acme_support where is my Acme refund?", created_utc=now - 40
    )

    for _ in range(3):
        out = mentionbot(config_path, "run", "--once", timeout=120)
        assert "one cycle done: 3 mentions stored" in out.stdout

    store = open_store(config_path)
    assert {m.id for m in store.mentions()} == {first, bad, last}
    assert_stored_safely(store, "reddit", bad)
    assert store.get_cursor("reddit") is not None
    assert [r.status for r in store.runs("reddit")] == ["ok", "ok", "ok"]
    assert store.draft_for("reddit", last) is not None and store.draft_for("reddit", bad) is not None
    case = store.case_for("reddit", bad)
    store.close()
    # every surface that shows it takes it: the queue, the case, the status and both reports
    assert "mallory" in mentionbot(config_path, "queue").stdout
    assert "never came and nobody answers" in mentionbot(config_path, "case", case.ref).stdout
    mentionbot(config_path, "status")
    report = mentionbot(config_path, "report", "--out", str(config_path.parent / "reports"))
    assert "report for" in report.stdout


def test_a_poisoned_mastodon_post_between_two_normal_ones_through_the_pipeline(tmp_path, clock, monkeypatch):
    with FakeMastodon(clock=clock) as fake:
        masto = connector_for(fake, clock, monkeypatch)
        pipeline = Pipeline(
            config_for(tmp_path, fake),
            Store.open(tmp_path / "bot.db"),
            clock=clock,
            connectors={"mastodon": masto},
        )
        pipeline.poll("mastodon")  # the first poll: nothing yet
        when = clock.now() - timedelta(minutes=3)
        ids = [
            fake.post("ann@x.social", "@acme my parcel is late", when=when),
            fake.post("mallory@x.social", poison("@acme "), name="Mal\ud800\x00lory", when=when),
            fake.post("cy@x.social", "@acme where is my refund?", when=when),
        ]
        request = urllib.request.Request(
            f"{fake.base_url}/api/v1/notifications?limit=1", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        fake.post("dee@x.social", "@acme \ud800", when=when)
        with urllib.request.urlopen(request) as answer:
            body = answer.read()
        assert b"\\ud800" in body  # served as the JSON escape, as a platform would
        json.loads(body)
        ids.append(max(fake.statuses))

        results = []
        for _ in range(3):
            clock.advance(minutes=2)
            results += pipeline.run_cycle()
        assert [r.status for r in results] == ["ok", "ok", "ok"] and results[0].new == 4
        store = pipeline.store
        assert {m.id for m in store.mentions()} == set(ids)
        assert_stored_safely(store, "mastodon", ids[1])
        assert store.mention("mastodon", ids[1]).author.display_name == "Mal\ufffdlory"
        assert store.get_cursor("mastodon") is not None
        pipeline.close()
