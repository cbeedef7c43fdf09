"""Meta's webhooks through the daemon's endpoint: the verification handshake, signed deliveries stored before they
are acknowledged, forged ones refused with nothing stored, repeats stored once, and polling as the backfill."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import FakeClock
from bot.config import WebhooksSettings, parse_config
from bot.errors import ConfigError, ReplyNotAllowed
from bot.pipeline import Pipeline
from bot.store import Store
from bot.webhooks import WebhookServer
from connectors.base import Secret
from connectors.fakes.meta import (
    IG_USER_ID,
    FakeFacebook,
    FakeInstagram,
    WebhookSender,
    comments_delivery,
    feed_delivery,
    mentions_delivery,
    story_mention_delivery,
)
from connectors.fakes.server import Fault
from tests.review_helpers import config_for
from tests.test_meta import connector

APP_SECRET = "fake-meta-app-secret"
VERIFY = "acme-verify-token-42"


@pytest.fixture
def clock():
    return FakeClock(datetime(2026, 12, 2, 12, 0, tzinfo=UTC))


@pytest.fixture
def setup(clock, tmp_path, monkeypatch):
    monkeypatch.setenv("META_APP_SECRET", APP_SECRET)
    monkeypatch.setenv("META_WEBHOOK_VERIFY_TOKEN", VERIFY)
    with FakeFacebook(clock=clock) as fb, FakeInstagram(clock=clock) as ig:
        connectors = {
            "facebook": connector(fb, clock, tmp_path, monkeypatch),
            "instagram": connector(ig, clock, tmp_path, monkeypatch),
        }
        store = Store.open(tmp_path / "bot.db")
        pipeline = Pipeline(config_for(tmp_path, fb, ig), store, clock=clock, connectors=connectors)
        settings = WebhooksSettings(
            listen="127.0.0.1:0",
            verify_token=Secret(env="META_WEBHOOK_VERIFY_TOKEN"),
            app_secret=Secret(env="META_APP_SECRET"),
        )
        server = WebhookServer(pipeline, settings).start()
        try:
            yield fb, ig, pipeline, store, WebhookSender(server.url, APP_SECRET)
        finally:
            server.stop()
            pipeline.close()


def stored(store, platform):
    return [
        r[0] for r in store.db.execute("select id from mentions where platform = ?", [platform]).fetchall()
    ]


def test_the_verification_handshake(setup):
    *_, sender = setup
    ok = sender.verify(VERIFY)
    assert (ok.status_code, ok.text) == (200, "1158201444")
    assert sender.verify("guessed").status_code == 403


def test_a_signed_delivery_is_stored_before_it_is_acknowledged_and_repeats_are_stored_once(setup, clock):
    fb, _, _, store, sender = setup
    post = fb.page_post("Meet the Acme Hub", at=clock.now() - timedelta(hours=1))
    comment = fb.comment(post, "Bob Smith", "My Acme Hub arrived broken, I want a refund", at=clock.now())
    delivery = feed_delivery(fb, comment)
    assert sender.send(delivery) == [200]
    assert stored(store, "facebook") == [comment]  # there when Meta got its 200
    drafts = store.db.execute("select count(*) from drafts").fetchone()[0]
    assert drafts == 1  # triaged and drafted as a polled comment would be
    # Meta delivers again when it thinks a delivery failed
    assert sender.send(delivery, times=3) == [200, 200, 200]
    assert stored(store, "facebook") == [comment]
    assert store.db.execute("select count(*) from drafts").fetchone()[0] == drafts
    mention = store.mention("facebook", comment)
    assert (mention.author.handle, mention.kind, mention.text) == (
        "Bob Smith",
        "comment",
        fb.comments[comment]["message"],
    )


def test_a_forged_or_unsigned_delivery_is_refused_and_nothing_is_stored(setup, clock):
    fb, _, _, store, sender = setup
    post = fb.page_post("Meet the Acme Hub", at=clock.now() - timedelta(hours=1))
    comment = fb.comment(post, "Mallory", "Click my link", at=clock.now())
    assert sender.send(feed_delivery(fb, comment), forge=True) == [403]
    assert sender.send(feed_delivery(fb, comment), unsigned=True) == [403]
    assert stored(store, "facebook") == []
    # a delivery whose body was changed after Meta signed it
    body = feed_delivery(fb, comment)
    body["entry"][0]["changes"][0]["value"]["message"] = "changed"
    import hashlib
    import hmac
    import json

    import requests

    signature = hmac.new(APP_SECRET.encode(), json.dumps(feed_delivery(fb, comment)).encode(), hashlib.sha256)
    answer = requests.post(
        sender.url,
        data=json.dumps(body).encode(),
        headers={"X-Hub-Signature-256": "sha256=" + signature.hexdigest()},
        timeout=10,
    )
    assert answer.status_code == 403 and stored(store, "facebook") == []


def test_polling_stays_the_backfill_and_finds_the_webhooks_items_stored(setup, clock):
    fb, _, pipeline, store, sender = setup
    post = fb.page_post("Meet the Acme Hub", at=clock.now() - timedelta(hours=1))
    pushed = fb.comment(post, "Bob Smith", "Mine is broken", at=clock.now() - timedelta(minutes=2))
    missed = fb.comment(post, "Ann Lee", "Where is my order?", at=clock.now() - timedelta(minutes=1))
    sender.send(feed_delivery(fb, pushed))  # the delivery of `missed` was lost while we were down
    result = pipeline.poll("facebook")
    assert result.status == "ok" and [m.id for m in result.mentions] == [missed]
    assert sorted(stored(store, "facebook")) == sorted([pushed, missed])


def test_instagram_comment_deliveries(setup, clock):
    _, ig, _, store, sender = setup
    media = ig.ig_post("The Acme Speaker", at=clock.now() - timedelta(hours=1))
    top = ig.ig_comment(media, "maya", "Mine crackles", at=clock.now())
    answer = ig.ig_comment(media, "bob", "same", parent=top, at=clock.now())
    assert sender.send(comments_delivery(ig, top)) == [200]
    assert sender.send(comments_delivery(ig, answer), times=2) == [200, 200]
    assert sorted(stored(store, "instagram")) == sorted([top, answer])
    assert store.mention("instagram", answer).parent_id == top
    # the brand's own reply, pushed back by Meta, is stored as its own and never triaged
    ours = ig.ig_comment(media, "acme", "Sorry Maya!", parent=top, at=clock.now())
    sender.send(comments_delivery(ig, ours))
    assert ours not in stored(store, "instagram")


def test_instagram_mentions_are_read_by_their_ids_and_answered_where_they_are(setup, clock):
    _, ig, pipeline, store, sender = setup
    caption = ig.ig_caption_mention("dana", "Loving my @acme speaker, but it crackles", at=clock.now())
    media, comment = ig.ig_comment_mention("eve", "@acme my order never came", at=clock.now())
    assert sender.send(mentions_delivery(ig, caption)) == [200]
    assert sender.send(mentions_delivery(ig, media, comment), times=2) == [200, 200]
    assert sorted(stored(store, "instagram")) == sorted([f"media:{caption}", f"mentioned:{comment}"])
    post = store.mention("instagram", f"media:{caption}")
    assert (post.author.handle, post.text, post.kind) == (
        "dana",
        "Loving my @acme speaker, but it crackles",
        "post",
    )
    said = store.mention("instagram", f"mentioned:{comment}")
    assert (said.author.handle, said.text, said.thread_id) == ("eve", "@acme my order never came", media)
    bot = pipeline.connectors["instagram"]
    bot.reply(said, "Sorry Eve! Could you send us a DM?", idempotency_key="1")
    (answer,) = ig.calls("POST", "/mentions$")
    assert (answer.form["media_id"], answer.form["comment_id"]) == (media, comment)
    assert bot.find_reply(said) is None


def test_a_mention_that_cannot_be_read_yet_is_not_acknowledged(setup, clock):
    _, ig, _, store, sender = setup
    caption = ig.ig_caption_mention("dana", "@acme hello", at=clock.now())
    ig.inject(
        Fault(500, {"error": {"message": "An unknown error occurred", "code": 1}}, path=f"/{IG_USER_ID}$")
    )
    assert sender.send(mentions_delivery(ig, caption)) == [503]  # Meta sends it again
    assert stored(store, "instagram") == []
    assert sender.send(mentions_delivery(ig, caption)) == [200]
    assert stored(store, "instagram") == [f"media:{caption}"]


def test_webhooks_config_names_its_keys():
    base = {"brand": {"name": "Acme", "contact_email": "care@acme.example"}}
    with pytest.raises(ConfigError) as caught:
        parse_config({**base, "webhooks": {"listen": "8088"}})
    text = str(caught.value)
    assert "webhooks.listen:" in text and "webhooks.verify_token:" in text and "webhooks.app_secret:" in text
    assert parse_config(base).webhooks.listen == ""


def test_the_daemon_serves_the_webhooks_it_is_configured_with(tmp_path, monkeypatch):
    import signal
    import socket
    import subprocess
    import sys

    import requests

    from tests.conftest import ROOT, open_store, wait_for

    with socket.socket() as probe:  # a free port for the daemon
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with FakeFacebook() as fb:
        post = fb.page_post("Meet the Acme Hub", at=datetime.now(UTC) - timedelta(hours=1))
        comment = fb.comment(post, "Bob Smith", "My Acme Hub arrived broken")
        config = tmp_path / "config.toml"
        config.write_text(
            '[brand]\nname = "Acme"\ncontact_email = "care@acme.example"\ntimezone = "Europe/Amsterdam"\n'
            '[store]\npath = "bot.db"\n'
            f'[webhooks]\nlisten = "127.0.0.1:{port}"\n'
            'verify_token = { env = "META_WEBHOOK_VERIFY_TOKEN" }\napp_secret = { env = "META_APP_SECRET" }\n'
            f'[connectors.facebook]\nenabled = true\ninterval_seconds = 3600\nbase_url = "{fb.base_url}"\n'
            f'page_id = "{fb.connector_settings()["page_id"]}"\naccess_token = {{ env = "META_PAGE_ACCESS_TOKEN" }}\n'
        )
        env = {**fb.environment(), "META_APP_SECRET": APP_SECRET, "META_WEBHOOK_VERIFY_TOKEN": VERIFY}
        import os

        daemon = subprocess.Popen(
            [sys.executable, "-m", "bot", "-c", str(config), "run"],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        sender = WebhookSender(f"http://127.0.0.1:{port}", APP_SECRET)

        def answers():
            try:
                return sender.verify(VERIFY).status_code == 200
            except requests.ConnectionError:
                return False

        try:
            wait_for(answers, what="the daemon's webhook endpoint")
            assert sender.send(feed_delivery(fb, comment), forge=True) == [403]
            assert sender.send(feed_delivery(fb, comment)) == [200]
            assert open_store(config).mention("facebook", comment).text == "My Acme Hub arrived broken"
        finally:
            daemon.send_signal(signal.SIGTERM)
            _, stderr = daemon.communicate(timeout=20)
        assert daemon.returncode == 0, stderr
        assert "delivery with a missing or wrong signature refused" in stderr


def test_an_instagram_story_mention_is_stored_once_and_answered_by_direct_message_within_24_hours(
    setup, clock
):
    _, ig, pipeline, store, sender = setup
    mid = ig.ig_story_mention("fern", at=clock.now())
    delivery = story_mention_delivery(ig, mid)
    assert sender.send(delivery, forge=True) == [403]
    assert stored(store, "instagram") == []
    assert sender.send(delivery, times=2) == [200, 200]
    assert stored(store, "instagram") == [mid]
    story = store.mention("instagram", mid)
    igsid = delivery["entry"][0]["messaging"][0]["sender"]["id"]
    assert (story.kind, story.text, story.author.id) == ("story_mention", "", igsid)
    assert story.url == delivery["entry"][0]["messaging"][0]["message"]["attachments"][0]["payload"]["url"]
    bot = pipeline.connectors["instagram"]
    with pytest.raises(ReplyNotAllowed, match="direct message"):
        bot.reply(story, "Thanks Fern!", idempotency_key="1")
    clock.advance(hours=23)
    bot.message(story, "Thanks for the mention, Fern!", idempotency_key="2")
    (sent,) = ig.calls("POST", "/messages$")
    assert sent.json["recipient"] == {"id": igsid}
    assert sent.json["messaging_type"] == "RESPONSE"


def test_a_story_mention_is_not_messaged_after_24_hours(setup, clock):
    _, ig, pipeline, store, sender = setup
    mid = ig.ig_story_mention("gus", at=clock.now())
    assert sender.send(story_mention_delivery(ig, mid)) == [200]
    clock.advance(hours=25)
    with pytest.raises(ReplyNotAllowed, match="24 hours"):
        pipeline.connectors["instagram"].message(
            store.mention("instagram", mid), "Thanks Gus!", idempotency_key="1"
        )
    assert ig.calls("POST", "/messages$") == []


def test_a_story_mention_without_words_is_held_for_a_person_with_a_neutral_draft(setup, clock):
    _, ig, _, store, sender = setup
    mid = ig.ig_story_mention("hana", at=clock.now())
    assert sender.send(story_mention_delivery(ig, mid)) == [200]
    draft = store.draft_for("instagram", mid)
    assert draft is not None and draft.state == "awaiting"  # on a card, never approved by itself
    assert any("a story mention without words: look at the story" in p for p in draft.problems)
    assert "thank you for the kind words" not in draft.text.lower() and "sorry" not in draft.text.lower()
