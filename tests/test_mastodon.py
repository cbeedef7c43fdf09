"""Mastodon through the real Mastodon.py against the loopback Mastodon server: fetching, posting, faults."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot import decisions
from bot.clock import FakeClock
from bot.config import parse_config
from bot.errors import FatalError, ReplyNotAllowed, TransientError
from bot.pipeline import Pipeline
from bot.store import Store
from connectors.fakes.hackernews import FakeHackerNews
from connectors.fakes.mastodon import FakeMastodon
from connectors.fakes.server import Fault
from connectors.mastodon import to_text
from tests.review_helpers import connector_for


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def fake(clock):
    with FakeMastodon(clock=clock) as fake:
        yield fake


@pytest.fixture
def masto(fake, clock, monkeypatch):
    return connector_for(fake, clock, monkeypatch)


def config_for(tmp_path, *fakes):
    return parse_config(
        {
            "dry_run": False,
            "brand": {"name": "Acme", "contact_email": "care@acme.example", "timezone": "Europe/Amsterdam"},
            "store": {"path": str(tmp_path / "bot.db")},
            "connectors": {f.platform: f.connector_settings() for f in fakes},
        }
    )


@pytest.fixture
def pipeline(tmp_path, fake, masto, clock):
    pipe = Pipeline(
        config_for(tmp_path, fake),
        Store.open(tmp_path / "bot.db"),
        clock=clock,
        connectors={"mastodon": masto},
    )
    yield pipe
    pipe.close()


def post(fake, clock, acct, text, minutes_ago=1, **kwargs):
    return fake.post(acct, text, when=clock.now() - timedelta(minutes=minutes_ago), **kwargs)


def drain(pipeline):
    while pipeline.post():
        pass


def test_fetch_normalises_html_and_keeps_the_status_json(fake, masto, clock):
    sid = post(
        fake,
        clock,
        "alice@example.social",
        "@acme my order is late, see https://acme.example/orders/7777777777777777777777 & fix it",
        name="Alice B",
    )
    own = post(fake, clock, "acme", "Acme Hub 3 firmware is out")
    result = masto.fetch(None)
    (m,) = [x for x in result.mentions if x.id == sid]
    assert "<span" in fake.statuses[sid]["content"] and "&amp;" in fake.statuses[sid]["content"]
    assert m.text == "@acme my order is late, see https://acme.example/orders/7777777777777777777777 & fix it"
    assert m.url == f"https://example.social/@alice/{sid}"
    assert (m.author.handle, m.author.display_name, m.kind) == ("alice@example.social", "Alice B", "post")
    assert m.raw["id"] == sid and m.raw["content"].startswith("<p>") and m.created_at.tzinfo is not None
    (note,) = fake.calls("GET", "/api/v1/notifications$")
    assert note.query["types[]"] == ["mention"]
    own_mention = next(x for x in result.mentions if x.id == own)  # found by the keyword search
    assert masto.is_own(own_mention.author) and not masto.is_own(m.author)
    assert fake.calls("GET", "/api/v1/instance") == []


def test_to_text_handles_breaks_mentions_and_links():
    html = '<p>Hi <span class="h-card"><a href="https://x.y/@acme" class="u-url mention">@<span>acme</span></a></span><br />see <a href="https://a.example/x?a=1&amp;b=2"><span class="invisible">https://</span>a.example/x</a></p><p>thanks &lt;3</p>'
    assert to_text(html) == "Hi @acme\nsee https://a.example/x?a=1&b=2\n\nthanks <3"


def test_pagination_across_link_pages_and_cursor(fake, clock, monkeypatch):
    masto = connector_for(fake, clock, monkeypatch, page_size=10, keywords=[])
    ids = [post(fake, clock, f"user{i}", f"@acme question {i}", minutes_ago=30 - i) for i in range(25)]
    result = masto.fetch(None)
    assert [m.id for m in result.mentions] == ids
    assert len(fake.calls("GET", "/notifications$")) == 3
    more = [post(fake, clock, f"late{i}", f"@acme later {i}", minutes_ago=0) for i in range(12)]
    again = masto.fetch(result.cursor)
    assert [m.id for m in again.mentions] == more
    pages = fake.calls("GET", "/notifications$")[3:]
    assert len(pages) == 2 and pages[0].arg("min_id") and pages[1].arg("min_id")


def test_keyword_search_finds_new_unmentioned_posts_on_later_polls(fake, masto, clock):
    first = masto.fetch(None)
    sid = post(fake, clock, "noa", "the acme app keeps logging me out", minutes_ago=0)
    again = masto.fetch(first.cursor)
    assert [m.id for m in again.mentions] == [sid]
    assert masto.fetch(again.cursor).mentions == []
    assert len(fake.calls("GET", "/api/v2/search")) == 3


def test_search_refusal_is_tolerated(fake, masto, clock):
    fake.search_enabled = False
    sid = post(fake, clock, "bob", "@acme hello")
    assert [m.id for m in masto.fetch(None).mentions] == [sid]
    masto.fetch(None)
    assert len(fake.calls("GET", "/api/v2/search")) == 1


def test_cursor_survives_a_restart(tmp_path, fake, clock, monkeypatch):
    old = post(fake, clock, "gina", "@acme my parcel is lost")
    connectors = {"mastodon": connector_for(fake, clock, monkeypatch)}
    config = config_for(tmp_path, fake)
    first = Pipeline(config, Store.open(tmp_path / "bot.db"), clock=clock, connectors=connectors)
    assert first.poll("mastodon").new == 1
    first.close()
    clock.advance(minutes=5)
    new = post(fake, clock, "hank", "@acme is the Hub waterproof?", minutes_ago=0)
    store = Store.open(tmp_path / "bot.db")
    again = Pipeline(
        config, store, clock=clock, connectors={"mastodon": connector_for(fake, clock, monkeypatch)}
    )
    assert again.poll("mastodon").new == 1
    assert fake.calls("GET", "/notifications$")[-1].arg("min_id") is not None
    assert {m.id for m in store.mentions()} == {old, new}


def test_three_quiet_polls_make_minimal_requests_and_store_nothing(fake, clock, tmp_path, monkeypatch):
    masto = connector_for(fake, clock, monkeypatch, keywords=[])
    pipe = Pipeline(
        config_for(tmp_path, fake),
        Store.open(tmp_path / "bot.db"),
        clock=clock,
        connectors={"mastodon": masto},
    )
    post(fake, clock, "ivy", "@acme thanks for the quick fix!")
    pipe.poll("mastodon")
    stored = len(list(pipe.store.mentions()))
    before = len(fake.requests)
    for _ in range(3):
        clock.advance(minutes=5)
        result = pipe.poll("mastodon")
        assert (result.status, result.new, result.calls) == ("ok", 0, 1)
    assert len(fake.requests) - before == 3
    assert len(list(pipe.store.mentions())) == stored
    pipe.close()


def test_complaint_round_trip_reply_then_direct_message_then_answer(fake, pipeline, clock):
    sid = post(
        fake,
        clock,
        "jane@example.social",
        "@acme I was charged twice for my subscription, please refund",
        name="Jane D",
    )
    pipeline.poll("mastodon")
    (draft,) = pipeline.store.drafts("awaiting")
    assert draft.route == "reply" and draft.intent == "complaint" and draft.case_id
    decisions.approve(pipeline.store, draft.id, actor="alice", now=clock.now())
    drain(pipeline)
    reply, dm = fake.posted()
    assert (reply["kind"], reply["in_reply_to"]) == ("reply", sid)
    assert fake.statuses[reply["id"]]["in_reply_to_id"] == sid
    assert dm["kind"] == "message" and fake.statuses[dm["id"]]["visibility"] == "direct"
    assert "@jane@example.social" in dm["text"]
    assert [r.header("idempotency-key") != "" for r in fake.calls("POST", "/statuses$")] == [True, True]
    assert pipeline.store.draft(draft.id).state == "posted"
    clock.advance(minutes=10)
    post(
        fake,
        clock,
        "jane@example.social",
        "@acme order 7731, card ending 42",
        minutes_ago=0,
        visibility="direct",
    )
    assert pipeline.poll("mastodon").new == 0  # the direct answer is private: not a public mention
    assert pipeline.store.case(draft.case_id).customer_replied_at is not None


def test_the_idempotency_key_prevents_a_double_post(fake, masto, clock):
    post(fake, clock, "kim", "@acme hello?")
    (mention,) = [m for m in masto.fetch(None).mentions if m.author.handle == "kim"]
    first = masto.reply(mention, "Hi Kim, how can we help?", idempotency_key="draft-1")
    again = masto.reply(mention, "Hi Kim, how can we help?", idempotency_key="draft-1")
    assert first == again and len(fake.posted()) == 1
    assert masto.find_reply(mention) == first


def test_a_lost_answer_is_retried_without_a_double_post(fake, pipeline, clock):
    post(fake, clock, "lee", "@acme where is my order? it is two weeks late")
    pipeline.poll("mastodon")
    (draft,) = pipeline.store.drafts("awaiting")
    decisions.approve(pipeline.store, draft.id, actor="alice", now=clock.now())
    fake.inject(Fault(disconnect=True, after=True, path="/api/v1/statuses$"))
    for _ in range(5):
        drain(pipeline)
        clock.advance(minutes=5)
    replies = [p for p in fake.posted() if p["kind"] == "reply"]
    assert len(replies) == 1
    assert pipeline.store.draft(draft.id).state == "posted"


def test_overlong_reply_is_refused_before_any_request(fake, masto, clock):
    post(fake, clock, "uma", "@acme hello?")
    (mention,) = masto.fetch(None).mentions
    with pytest.raises(ReplyNotAllowed, match="500"):
        masto.reply(mention, "y" * 501, idempotency_key="k")
    assert fake.calls("POST") == []


def test_429_waits_for_the_announced_reset_through_the_clock(fake, pipeline, clock):
    post(fake, clock, "rae", "@acme hi")
    reset = (clock.now() + timedelta(seconds=300)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    fake.inject(
        Fault(
            429,
            {"error": "Too many requests"},
            headers={"X-RateLimit-Reset": reset, "X-RateLimit-Remaining": "0"},
            times=2,
        )
    )
    result = pipeline.poll("mastodon")
    assert result.status == "error" and "429" in result.error
    assert pipeline.not_before["mastodon"] == clock.now() + timedelta(seconds=300)
    clock.advance(seconds=120)
    assert pipeline.poll("mastodon").status == "backoff"
    clock.advance(seconds=181)
    fake.faults.clear()
    assert pipeline.poll("mastodon").new == 1
    assert clock.slept == []


def test_faults_are_survived_and_other_connectors_keep_running(tmp_path, fake, clock, monkeypatch):
    hn = FakeHackerNews()
    hn.start()
    try:
        connectors = {
            "mastodon": connector_for(fake, clock, monkeypatch, timeout_seconds=0.5),
            "hackernews": connector_for(hn, clock, monkeypatch),
        }
        pipe = Pipeline(
            config_for(tmp_path, fake, hn),
            Store.open(tmp_path / "bot.db"),
            clock=clock,
            connectors=connectors,
        )
        post(fake, clock, "sol", "@acme my order is late")
        for fault in [Fault(500, {"error": "boom"}), Fault(disconnect=True), Fault(200, raw=b'[{"id": ')]:
            fake.inject(fault)
            results = pipe.run_cycle()
            assert [(r.connector, r.status) for r in results] == [("mastodon", "error"), ("hackernews", "ok")]
            clock.advance(hours=2)
        assert pipe.poll("mastodon").new == 1
        errors = [r["error"] for r in pipe.store.runs("mastodon") if r["status"] == "error"]
        assert len(errors) == 3 and all(e.startswith("mastodon: ") for e in errors)
        assert "malformed JSON" in errors[0] and "HTTP 500" in errors[2]
        pipe.close()
    finally:
        hn.stop()


def test_refused_token_pauses_mastodon_and_is_reported_once(fake, pipeline, clock):
    events = []
    pipeline.on_event = lambda kind, **data: events.append(kind)
    fake.inject(Fault(401, {"error": "The access token is invalid"}, times=10))
    assert pipeline.poll("mastodon").status == "fatal"
    for _ in range(3):
        clock.advance(minutes=10)
        assert pipeline.poll("mastodon").status == "paused"
    assert events.count("connector_paused") == 1 and len(fake.requests) == 1
    with pytest.raises(FatalError):
        pipeline.connectors["mastodon"].fetch(None)


def test_a_timeout_is_transient(fake, clock, monkeypatch):
    masto = connector_for(fake, clock, monkeypatch)
    fake.inject(Fault(disconnect=True))
    with pytest.raises(TransientError, match="mastodon"):
        masto.fetch(None)
