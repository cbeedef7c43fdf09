"""What connectors keep in the store (``connectors.base.PlatformState``): YouTube's quota ledger and Meta's private
replies, shared by every daemon on one database, kept across restarts, and carried over from the files an older
version wrote. On both engines."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.clock import FakeClock
from bot.errors import ReplyNotAllowed, TransientError
from bot.models import PrivateReply
from bot.store import Store
from connectors.base import Secret
from connectors.fakes.meta import FakeFacebook
from connectors.fakes.youtube import FakeYouTube
from connectors.meta import FacebookConnector
from connectors.youtube import YouTubeConnector, YouTubeSettings
from tests.conftest import mentionbot

# 07:00 UTC on 2 December is 23:00 on 1 December in California: the quota day is Google's 1 December.
START = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)
DAY = date(2026, 12, 1)


@pytest.fixture
def clock():
    return FakeClock(START)


def settings(fake, monkeypatch, cls, **overrides):
    for key, value in fake.environment().items():
        monkeypatch.setenv(key, value)
    table = {**fake.connector_settings(), **overrides}
    return cls(**{k: Secret(env=v["env"]) if isinstance(v, dict) else v for k, v in table.items()})


def test_two_daemons_on_one_database_count_one_youtube_quota(engine, tmp_path, clock, monkeypatch):
    with FakeYouTube() as fake:
        fake.comment(author="jane", text="My Acme Hub will not pair", at=clock.now() - timedelta(minutes=1))
        # 5 units a day, 2 kept for replies: three polls (one list call each) between both daemons, not six.
        ours = settings(fake, monkeypatch, YouTubeSettings, daily_quota=5, reply_reserve=2)
        first, second = (
            YouTubeConnector(ours, clock=clock, state_dir=tmp_path, state=engine.open(tmp_path)) for _ in "ab"
        )
        first.fetch(None)
        second.fetch(None)
        first.fetch(None)
        with pytest.raises(TransientError, match="3 of 5 are used today, 2 kept for replies"):
            second.fetch(None)
        assert len(fake.calls("GET", "/commentThreads$")) == 3
        assert "quota 3 of 5 units" in first.budget() and "quota 3 of 5 units" in second.budget()
        # a restart (a third daemon) reads the same count; Google's new day starts it again for all of them
        restarted = YouTubeConnector(ours, clock=clock, state_dir=tmp_path, state=engine.open(tmp_path))
        assert "quota 3 of 5 units" in restarted.budget()
        clock.advance(hours=1)
        assert restarted.fetch(None).mentions
        assert "quota 1 of 5 units" in first.budget()


def test_the_quota_is_booked_atomically_by_concurrent_daemons(engine, tmp_path):
    stores = [engine.open(tmp_path) for _ in range(4)]
    booked: list[int | None] = []

    def spend(store: Store) -> None:
        for _ in range(15):
            booked.append(store.spend_quota("youtube", DAY, 1, cap=40))

    threads = [threading.Thread(target=spend, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    granted = sorted(b for b in booked if b is not None)
    assert granted == list(range(1, 41))  # each unit booked once, never past the cap
    assert booked.count(None) == 60 - 40
    assert stores[0].quota_used("youtube", DAY) == 40
    # the platform saying it is gone books the limit, never less than already booked
    stores[1].quota_spent("youtube", DAY, limit=30)
    assert stores[2].quota_used("youtube", DAY) == 40
    stores[1].quota_spent("youtube", DAY, limit=50)
    assert stores[3].quota_used("youtube", DAY) == 50
    # a new day's first booking drops the days before it
    assert stores[0].spend_quota("youtube", DAY + timedelta(days=1), 7, cap=40) == 7
    assert stores[0].quota_used("youtube", DAY) == 0


def test_two_daemons_share_metas_private_reply_record_across_restarts(engine, tmp_path, clock, monkeypatch):
    with FakeFacebook(clock=clock) as fb:
        post = fb.page_post("Acme Hub", at=clock.now() - timedelta(days=1))
        comment = fb.comment(post, "Bob Smith", "Mine stopped pairing", at=clock.now() - timedelta(hours=1))
        ours = settings(fb, monkeypatch, FacebookConnector.Settings)

        def daemon():
            return FacebookConnector(ours, clock=clock, state_dir=tmp_path, state=engine.open(tmp_path))

        first, second = daemon(), daemon()
        mention = next(m for m in first.fetch(None).mentions if m.id == comment)
        first.message(mention, "Hi Bob, could you send us your order number?", idempotency_key="1")
        # the other daemon knows it was sent: one private reply per comment, until the customer answers
        with pytest.raises(ReplyNotAllowed, match="until the customer answers"):
            second.message(mention, "Hi again", idempotency_key="2")
        assert len(fb.calls("POST", "/messages$")) == 1
        bob = fb.comments[comment]["from"]["id"]
        fb.customer_writes(bob, "Bob Smith", "Order 123, thanks", at=clock.now())
        assert second.fetch_private(None).mentions
        clock.advance(hours=2)
        # the answer the second daemon read opens the window for the first
        first.message(mention, "A new one is on its way", idempotency_key="3")
        assert fb.calls("POST", "/messages$")[-1].json["messaging_type"] == "RESPONSE"
        clock.advance(days=8)
        with pytest.raises(ReplyNotAllowed, match="window is closed"):
            daemon().message(mention, "Hello?", idempotency_key="4")
        assert len(fb.calls("POST", "/messages$")) == 2
        assert not list(tmp_path.glob("*-private.json"))


def test_a_customer_message_read_twice_or_late_keeps_the_latest_time(engine, tmp_path):
    store = engine.open(tmp_path)
    later, earlier = START, START - timedelta(hours=5)
    assert store.customer_wrote("facebook", "42") is None
    store.note_customer_wrote("facebook", "42", later)
    store.note_customer_wrote("facebook", "42", earlier)
    assert engine.open(tmp_path).customer_wrote("facebook", "42") == later
    assert store.customer_wrote("instagram", "42") is None
    reply = PrivateReply(recipient="42", at=earlier)
    store.record_private_reply("facebook", "c1", reply)
    assert engine.open(tmp_path).private_reply("facebook", "c1") == reply
    assert store.private_reply("instagram", "c1") is None


def test_the_files_an_older_version_wrote_are_carried_over_once(engine, tmp_path, clock, monkeypatch):
    sent_at, wrote_at = START - timedelta(hours=3), START - timedelta(hours=1)
    (tmp_path / "facebook-private.json").write_text(
        json.dumps(
            {
                "sent": {"c1": {"recipient": "42", "at": sent_at.timestamp()}},
                "last_in": {"42": wrote_at.timestamp()},
            }
        )
    )
    (tmp_path / "youtube-quota.json").write_text(json.dumps({"day": DAY.isoformat(), "used": 1_234}))
    store = engine.open(tmp_path)
    with FakeFacebook(clock=clock) as fb, FakeYouTube() as yt:
        FacebookConnector(
            settings(fb, monkeypatch, FacebookConnector.Settings),
            clock=clock,
            state_dir=tmp_path,
            state=store,
        )
        youtube = settings(yt, monkeypatch, YouTubeSettings)
        YouTubeConnector(youtube, clock=clock, state_dir=tmp_path, state=store)
        assert not (tmp_path / "facebook-private.json").exists()
        assert not (tmp_path / "youtube-quota.json").exists()
        assert store.private_reply("facebook", "c1") == PrivateReply(recipient="42", at=sent_at)
        assert store.customer_wrote("facebook", "42") == wrote_at
        assert store.quota_used("youtube", DAY) == 1_234
        # read once: a connector built again does not book it a second time
        again = YouTubeConnector(youtube, clock=clock, state_dir=tmp_path, state=store)
        assert "quota 1,234 of 10,000" in again.budget()
        # a ledger that cannot be read is taken as spent for the day rather than counted from 0
        (tmp_path / "youtube-quota.json").write_text("{not json")
        YouTubeConnector(youtube, clock=clock, state_dir=tmp_path, state=store)
        assert store.quota_used("youtube", DAY) == 10_000


def test_check_books_its_login_where_the_daemon_counts_and_makes_no_database(tmp_path, monkeypatch):
    with FakeYouTube() as fake:
        table = fake.connector_settings()
        lines = [f"{k} = {json.dumps(v)}" for k, v in table.items() if not isinstance(v, dict)]
        lines += [f'{k} = {{ env = "{v["env"]}" }}' for k, v in table.items() if isinstance(v, dict)]
        config = tmp_path / "config.toml"
        config.write_text(
            '[brand]\nname = "Acme"\ncontact_email = "care@acme.example"\n[store]\npath = "bot.db"\n'
            "[connectors.youtube]\n" + "\n".join(lines) + "\n"
        )
        # before the first run there is no database, and check makes none
        result = mentionbot(config, "check", env=fake.environment())
        assert "1 of 1 logged in" in result.stdout and "quota 1 of 10,000" in result.stdout
        assert not (tmp_path / "bot.db").exists()
        # once the daemon has run, the unit check spends is booked in its store
        Store.open(tmp_path / "bot.db").close()
        result = mentionbot(config, "check", env=fake.environment())
        assert "1 of 1 logged in" in result.stdout
        assert Store.open(tmp_path / "bot.db")._one("select used from quota where connector = 'youtube'") == {
            "used": 1
        }
