"""YouTube connector through google-api-python-client against the loopback YouTube Data API: comment threads,
replies, the cursor across restarts, the failures, and the daily quota ledger."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import FakeClock
from bot.errors import FatalError, ReplyNotAllowed, TransientError
from bot.pipeline import Pipeline
from bot.store import Store
from connectors.base import Secret
from connectors.fakes.server import Fault
from connectors.fakes.youtube import CHANNEL, REFRESH_TOKEN_ENV, FakeYouTube
from connectors.youtube import YouTubeConnector, YouTubeSettings
from tests.review_helpers import config_for, fetch_refused

# 07:00 UTC on 2 December is 23:00 on 1 December in California: Google's quota day ends in an hour.
START = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)
QUOTA_ERROR = {
    "error": {
        "code": 403,
        "message": "quota",
        "errors": [{"message": "quota", "domain": "youtube.quota", "reason": "quotaExceeded"}],
    }
}


@pytest.fixture
def clock():
    return FakeClock(START)


@pytest.fixture
def fake():
    with FakeYouTube(max_results=2) as fake:
        yield fake


def connector(fake, clock, tmp_path, monkeypatch, **overrides):
    for key, value in fake.environment().items():
        monkeypatch.setenv(key, value)
    table = {**fake.connector_settings(), **overrides}
    table = {k: Secret(env=v["env"]) if isinstance(v, dict) else v for k, v in table.items()}
    # Its quota ledger is in the store beside it, as the daemon builds it: a connector built again reads it back.
    store = Store.open(tmp_path / "bot.db")
    return YouTubeConnector(YouTubeSettings(**table), clock=clock, state_dir=tmp_path, state=store)


@pytest.fixture
def bot(fake, clock, tmp_path, monkeypatch):
    return connector(fake, clock, tmp_path, monkeypatch)


def seed(fake, clock, n, apart=timedelta(minutes=1)):
    return [
        fake.comment(
            author=f"jane{i}", text=f"My Acme Hub {i} will not pair", at=clock.now() - (n - i) * apart
        )
        for i in range(n)
    ]


def ledger(tmp_path):
    """The quota day booked in the store and its units (an older day is dropped when a new one is booked)."""
    (row,) = Store.open(tmp_path / "bot.db")._rows("select day, used from quota where connector = 'youtube'")
    return row


def test_comments_and_replies_round_trip(fake, bot, clock):
    [first, second] = seed(fake, clock, 2)
    reply = fake.comment(author="bob", text="Same <here> & worse", reply_to=first, at=clock.now())
    result = bot.fetch(None)
    assert [m.id for m in result.mentions] == [first, second, reply]
    top, answer = result.mentions[0], result.mentions[2]
    assert top.kind == "comment" and top.author.handle == "@jane0" and top.author.id.startswith("UC")
    assert top.text == "My Acme Hub 0 will not pair" and top.thread_id == first
    assert top.url == f"https://www.youtube.com/watch?v=dQw4w9WgXcQ&lc={first}"
    assert answer.kind == "reply" and answer.parent_id == first and answer.text == "Same <here> & worse"
    # the threads of the brand's channel, with their replies, as plain text
    (call,) = fake.calls("GET", "/commentThreads$")
    assert call.arg("allThreadsRelatedToChannelId") == CHANNEL and call.arg("part") == "snippet,replies"

    # a reply to a reply goes into the thread (YouTube threads are one level deep)
    posted = bot.reply(answer, "Sorry Bob! Write to care@acme.example", idempotency_key="k")
    assert fake.posted() == [
        {"kind": "reply", "in_reply_to": first, "text": "Sorry Bob! Write to care@acme.example", "id": posted}
    ]
    assert bot.find_reply(top) == posted and bot.find_reply(result.mentions[1]) is None
    assert bot.reply_url(answer, posted) == f"https://www.youtube.com/watch?v=dQw4w9WgXcQ&lc={posted}"
    # our reply comes back on the next poll as the brand's own
    (ours,) = bot.fetch(result.cursor).mentions
    assert ours.id == posted and bot.is_own(ours.author)
    assert bot.fetch(result.cursor).mentions[0].id == posted  # (same cursor, same answer)


def test_a_comment_without_its_original_text_is_read_from_its_display_text(fake, bot, clock):
    [cid] = seed(fake, clock, 1)
    fake.threads[cid]["snippet"].pop("textOriginal")  # YouTube guarantees it only to the comment's author
    fake.threads[cid]["snippet"]["textDisplay"] = "Broken <again> & again"
    assert bot.fetch(None).mentions[0].text == "Broken <again> & again"


def test_rules_no_private_channel_and_long_replies_refused(fake, bot, clock):
    assert bot.rules.max_length == 10_000 and bot.rules.can_reply and not bot.rules.can_message
    assert not bot.rules.one_reply_per_item
    assert {"message", "private", "reconcile_message"}.isdisjoint(bot.capabilities)
    seed(fake, clock, 1)
    comment = bot.fetch(None).mentions[0]
    with pytest.raises(ReplyNotAllowed):
        bot.reply(comment, "x" * 10_001, idempotency_key="a")
    assert fake.calls("POST", "/comments$") == []
    # comments turned off on the video: that reply is refused, the connector goes on
    fake.videos["dQw4w9WgXcQ"]["comments"] = False
    with pytest.raises(ReplyNotAllowed, match="commentsDisabled"):
        bot.reply(comment, "Sorry!", idempotency_key="b")
    assert bot.fetch(None).mentions[0].unanswerable == "replies are turned off"


def test_pages_and_cursor_survive_a_restart(fake, bot, clock, tmp_path, monkeypatch):
    ids = seed(fake, clock, 5, apart=timedelta(hours=1))
    first = bot.fetch(None)
    assert [m.id for m in first.mentions] == ids
    assert len(fake.calls("GET", "/commentThreads$")) == 3  # 2 + 2 + 1
    assert fake.calls("GET", "/commentThreads$")[1].arg("pageToken")
    clock.advance(minutes=3)
    new = fake.comment(author="late", text="Refund please", at=clock.now())
    restarted = connector(fake, clock, tmp_path, monkeypatch)
    before = len(fake.calls("GET", "/commentThreads$"))
    second = restarted.fetch(first.cursor)
    assert [m.id for m in second.mentions] == [new]
    # paging stops at the page older than what the cursor covers (its hour of look-back)
    assert len(fake.calls("GET", "/commentThreads$")) - before == 2
    quiet = restarted.fetch(second.cursor)
    assert quiet.mentions == [] and json.loads(quiet.cursor) == json.loads(second.cursor)


def test_faults_are_survived_without_waiting(fake, bot, clock):
    seed(fake, clock, 2)
    fake.inject(Fault(500, {"error": {"code": 500, "message": "Backend Error"}}, path="/commentThreads"))
    assert fetch_refused(bot).retry_after is None
    fake.inject(Fault(200, raw=b"{not json", path="/commentThreads"))
    assert "malformed" in str(fetch_refused(bot))
    fake.inject(Fault(429, {"error": {"code": 429}}, headers={"Retry-After": "20"}, path="/commentThreads"))
    assert fetch_refused(bot).retry_after == 20
    # an item that cannot be read is set aside, the others come through
    fake.threads[next(iter(fake.threads))]["snippet"]["publishedAt"] = "yesterday"
    result = bot.fetch(None)
    assert len(result.mentions) == 1 and len(result.quarantined) == 1


def test_refused_refresh_token_or_access_token_is_fatal(fake, clock, tmp_path, monkeypatch):
    bot = connector(fake, clock, tmp_path, monkeypatch)
    monkeypatch.setenv(REFRESH_TOKEN_ENV, "1//revoked")
    with pytest.raises(FatalError, match="refresh token refused"):
        bot.fetch(None)
    monkeypatch.undo()
    fake.inject(
        Fault(
            401, {"error": {"code": 401, "message": "Invalid Credentials"}}, path="/commentThreads", times=5
        )
    )
    with pytest.raises(FatalError):
        connector(fake, clock, tmp_path, monkeypatch).fetch(None)


def test_the_ledger_stops_polling_before_the_quota_is_gone_and_keeps_replies_possible(
    fake, clock, tmp_path, monkeypatch
):
    seed(fake, clock, 1)
    # Earlier today (Pacific time) this project spent 9,898 of its 10,000 units; YouTube counts the same.
    (tmp_path / "youtube-quota.json").write_text(json.dumps({"day": "2026-12-01", "used": 9_898}))
    fake.used = 9_898
    bot = connector(fake, clock, tmp_path, monkeypatch, reply_reserve=100)
    assert not (tmp_path / "youtube-quota.json").exists()  # an older version's file, carried over once
    comment = bot.fetch(None).mentions[0]
    bot.fetch(None)
    assert ledger(tmp_path) == {"day": "2026-12-01", "used": 9_900}
    paused = fetch_refused(bot)
    assert "quota" in str(paused) and "100 kept for replies" in str(paused)
    assert paused.retry_after == 3600  # midnight in California
    # replies may use the reserve, but none is sent that would overrun the quota
    bot.reply(comment, "Sorry! One", idempotency_key="1")
    bot.reply(comment, "Sorry! Two", idempotency_key="2")
    with pytest.raises(TransientError, match="quota") as third:
        bot.reply(comment, "Sorry! Three", idempotency_key="3")
    assert third.value.retry_after == 3600
    # YouTube never had to refuse anything: the third reply was not sent
    assert fake.used == 10_000 and len(fake.calls("POST", "/comments$")) == len(fake.posted()) == 2
    # a restart keeps what was spent; the Pacific midnight resets it
    restarted = connector(fake, clock, tmp_path, monkeypatch, reply_reserve=100)
    assert "10,000 of 10,000" in restarted.budget()
    calls = len(fake.requests)
    fetch_refused(restarted)
    assert len(fake.requests) == calls  # nothing sent
    clock.advance(hours=1)
    fake.used = 0
    assert restarted.fetch(None).mentions  # a new quota day
    assert ledger(tmp_path) == {"day": "2026-12-02", "used": 1}


def test_youtube_saying_the_quota_is_spent_pauses_until_midnight_pacific(fake, bot, clock, tmp_path):
    seed(fake, clock, 1)
    fake.used = fake.quota  # another client of the same Google Cloud project spent it
    paused = fetch_refused(bot)
    assert "quota" in str(paused) and paused.retry_after == 3600
    assert fake.calls("GET", "/commentThreads$")  # it was asked once, and said no
    assert ledger(tmp_path)["used"] == 10_000
    calls = len(fake.requests)
    fetch_refused(bot)
    assert len(fake.requests) == calls
    # any other 403 is a refused credential
    clock.advance(hours=1)
    fake.inject(
        Fault(403, {"error": {"code": 403, "errors": [{"reason": "forbidden"}]}}, path="/commentThreads")
    )
    with pytest.raises(FatalError):
        bot.fetch(None)


def test_search_runs_sparingly_and_its_videos_are_answered_by_hand(fake, clock, tmp_path, monkeypatch):
    bot = connector(fake, clock, tmp_path, monkeypatch, search_query="acme hub", search_every_hours=12)
    video = fake.add_search_result(
        channel="Daily Gadget", title="Acme Hub review", description="A month with it", at=clock.now()
    )
    fake.add_search_result(channel="Cooking", title="Pancakes", description="no brand here", at=clock.now())
    first = bot.fetch(None)
    (hit,) = first.mentions
    assert hit.id == f"video:{video}" and hit.author.handle == "Daily Gadget" and not bot.can_reply(hit)
    assert hit.text == "Acme Hub review\n\nA month with it"
    assert ledger(tmp_path)["used"] == 1 + 100
    clock.advance(hours=11)
    second = bot.fetch(first.cursor)
    assert len(fake.calls("GET", "/search$")) == 1
    clock.advance(hours=1)
    assert bot.fetch(second.cursor).mentions == []  # searched again, nothing new
    assert len(fake.calls("GET", "/search$")) == 2


def test_status_shows_the_quota(fake, bot, clock, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from bot.cli import cli

    seed(fake, clock, 1)
    store = Store.open(tmp_path / "bot.db")
    pipeline = Pipeline(config_for(tmp_path, fake), store, clock=clock, connectors={"youtube": bot})
    assert pipeline.poll("youtube").new == 1
    pipeline.close()
    config = tmp_path / "config.toml"
    config.write_text(
        '[brand]\nname = "Acme"\ncontact_email = "care@acme.example"\ntimezone = "Europe/Amsterdam"\n'
        f'[store]\npath = "{tmp_path / "bot.db"}"\n'
    )
    monkeypatch.setenv("COLUMNS", "250")
    result = CliRunner().invoke(cli, ["-c", str(config), "status", "--json"], obj=clock)
    assert result.exit_code == 0, result.output
    (row,) = [c for c in json.loads(result.output)["connectors"] if c["connector"] == "youtube"]
    assert row["budget"] == "quota 1 of 10,000 units used today (resets at midnight Pacific time)"
    table = CliRunner().invoke(cli, ["-c", str(config), "status"], obj=clock)
    assert "quota 1 of 10,000 units used today" in table.output


def test_settings_problems_are_named():
    bad = YouTubeSettings(enabled=True, channel_id="acme", daily_quota=100, reply_reserve=100)
    problems = "\n".join(bad.problems("connectors.youtube"))
    for key in ("channel_id", "client_id", "client_secret", "refresh_token", "reply_reserve"):
        assert f"connectors.youtube.{key}:" in problems


def test_the_quota_pause_holds_the_daemon_until_midnight_pacific_and_is_not_fatal(fake, bot, clock, tmp_path):
    seed(fake, clock, 1)
    (tmp_path / "youtube-quota.json").write_text(json.dumps({"day": "2026-12-01", "used": 9_000}))
    store = Store.open(tmp_path / "bot.db")
    bot = YouTubeConnector(bot.settings, clock=clock, state_dir=tmp_path, state=store)
    pipeline = Pipeline(config_for(tmp_path, fake), store, clock=clock, connectors={"youtube": bot})
    result = pipeline.poll("youtube")
    assert result.status == "error" and "quota" in result.error
    assert store.paused_connectors() == {}  # nothing for a human to fix
    assert pipeline.not_before["youtube"] == datetime(2026, 12, 2, 8, 0, tzinfo=UTC)  # midnight PST
    assert pipeline.poll("youtube").status == "backoff" and fake.calls("GET", "/commentThreads$") == []
    clock.advance(hours=1)
    assert pipeline.poll("youtube").new == 1
    pipeline.close()
