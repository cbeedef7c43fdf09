"""Mastodon through the real Mastodon.py against the loopback server: fetching, posting, the private channel, faults."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot import decisions
from bot.errors import FatalError, TransientError
from bot.pipeline import Pipeline
from bot.store import Store
from connectors.fakes.hackernews import FakeHackerNews
from connectors.fakes.mastodon import FakeMastodon
from connectors.fakes.server import Fault
from tests.review_helpers import config_for, connector_for


@pytest.fixture
def fake(clock):
    with FakeMastodon(clock=clock) as fake:
        yield fake


@pytest.fixture
def masto(fake, clock, monkeypatch):
    return connector_for(fake, clock, monkeypatch)


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


def post(fake, clock, author, text, minutes_ago=1, **kwargs):
    return fake.post(author, text, when=clock.now() - timedelta(minutes=minutes_ago), **kwargs)


def drain(pipeline):
    while pipeline.post():
        pass


def test_fetch_strips_html_and_keeps_the_status(fake, masto, clock):
    sid = post(
        fake, clock, "alice@example.social", "@acme my order is late & lost\n\nPlease help", name="Alice B"
    )
    (mention,) = masto.fetch(None).mentions
    assert "<p>" in fake.statuses[sid]["content"] and "&amp;" in fake.statuses[sid]["content"]
    assert mention.text == "@acme my order is late & lost\nPlease help"
    assert mention.url == f"https://social.example/@alice@example.social/{sid}"
    assert (mention.author.handle, mention.author.display_name) == ("alice@example.social", "Alice B")
    assert mention.raw["content"] == fake.statuses[sid]["content"] and mention.raw["visibility"] == "public"
    assert None not in mention.raw.values()


def test_links_mentions_and_hashtags_read_as_written(fake, masto, clock):
    sid = post(
        fake, clock, "ola@x.social", "@acme the guide at https://acme.example/help/hub is wrong #AcmeHub #42"
    )
    (mention,) = masto.fetch(None).mentions
    content = fake.statuses[sid]["content"]
    assert (
        'class="u-url mention"' in content
        and 'class="invisible">https://' in content
        and "hashtag" in content
    )
    assert mention.text == "@acme the guide at https://acme.example/help/hub is wrong #AcmeHub #42"
    assert content.count("hashtag") == 1  # Mastodon's hashtags need a letter


def test_hashtags_are_followed_on_a_server_without_search(clock, monkeypatch):
    with FakeMastodon(search=False, clock=clock) as fake:
        masto = connector_for(fake, clock, monkeypatch, hashtags=["#AcmeHub"])
        sid = post(fake, clock, "pia@x.social", "my #AcmeHub lost its pairing again", notify=False)
        post(fake, clock, "quin@x.social", "lovely weather #sunday", notify=False)
        cursor = masto.fetch(None).cursor  # the mentions' turn
        result = masto.fetch(cursor)  # the hashtag's turn
        assert [m.text for m in result.mentions] == ["my #AcmeHub lost its pairing again"]
        assert fake.requests[-1].path == "/api/v1/timelines/tag/acmehub"
        masto.fetch(result.cursor)
        quiet = masto.fetch(result.cursor)
        assert quiet.mentions == [] and fake.requests[-1].arg("min_id") == sid


def test_complaint_round_trip_reply_private_message_and_the_customers_answer(fake, pipeline, clock):
    sid = post(fake, clock, "marta@example.social", "@acme my order #4821 is a week late and nobody answers")
    pipeline.poll("mastodon")
    (draft,) = pipeline.store.drafts("awaiting")
    assert draft.intent == "complaint" and draft.case_id
    decisions.approve(pipeline.store, draft.id, actor="alice", now=clock.now())
    drain(pipeline)
    reply, message = fake.posted()
    assert reply["kind"] == "reply" and reply["in_reply_to"] == sid
    assert reply["text"] == f"@marta@example.social {draft.text}"
    assert fake.statuses[reply["id"]]["visibility"] == "unlisted"
    assert message["kind"] == "message" and fake.statuses[message["id"]]["visibility"] == "direct"
    (post_call,) = fake.calls("POST", "^/api/v1/statuses$")[:1]
    assert post_call.header("idempotency-key")
    assert pipeline.store.case(draft.case_id).contacted_at is not None

    post(
        fake,
        clock,
        "marta@example.social",
        "@acme it is order 4821, thanks",
        minutes_ago=0,
        visibility="direct",
        reply_to=message["id"],
    )
    clock.advance(minutes=5)
    result = pipeline.poll("mastodon")
    assert result.new == 0  # the answer in our private conversation is not a new mention
    history = pipeline.store.case_events(draft.case_id)
    assert any("order 4821" in (e.note or "") for e in history)


def test_pages_through_a_busy_backlog(fake, masto, clock):
    masto.settings.page_size = 10
    cursor = masto.fetch(None).cursor
    ids = [post(fake, clock, f"u{i}@x.social", f"@acme question {i}?") for i in range(25)]
    before = len(fake.requests)
    result = masto.fetch(cursor)
    assert sorted(m.id for m in result.mentions) == sorted(ids)
    pages = fake.requests[before:]
    assert len(pages) == 3 and all(r.query["types[]"] == ["mention"] for r in pages)
    newest = [n["id"] for n in fake.notifications]
    assert [r.arg("min_id") for r in pages[1:]] == [newest[9], newest[19]]  # followed Link: rel="prev"


def test_cursor_survives_a_restart(tmp_path, fake, clock, monkeypatch):
    connector = connector_for(fake, clock, monkeypatch)
    first = Pipeline(
        config_for(tmp_path, fake),
        Store.open(tmp_path / "bot.db"),
        clock=clock,
        connectors={"mastodon": connector},
    )
    post(fake, clock, "bo@x.social", "@acme where is my refund?")
    assert first.poll("mastodon").new == 1
    first.close()
    again = Pipeline(
        config_for(tmp_path, fake),
        Store.open(tmp_path / "bot.db"),
        clock=clock,
        connectors={"mastodon": connector_for(fake, clock, monkeypatch)},
    )
    result = again.poll("mastodon")
    assert (result.fetched, result.new) == (0, 0)
    assert "min_id" in fake.requests[-1].query
    again.close()


def test_three_quiet_polls_make_one_request_each_and_store_nothing(fake, pipeline, clock):
    pipeline.poll("mastodon")
    before = len(fake.requests)
    for _ in range(3):
        clock.advance(minutes=1)
        result = pipeline.poll("mastodon")
        assert (result.status, result.fetched, result.new, result.calls) == ("ok", 0, 0, 1)
    assert len(fake.requests) - before == 3
    assert pipeline.store.drafts("awaiting") == []


def test_keyword_search_takes_turns_and_a_server_without_search_is_left_alone(fake, masto, clock, caplog):
    masto.settings.keywords = ["acme"]
    sid = post(fake, clock, "cy@x.social", "acme hub keeps dropping wifi", notify=False)
    cursor = masto.fetch(None).cursor  # mentions
    assert [m.id for m in masto.fetch(cursor).mentions] == [sid]  # search
    fake.search_enabled = False
    cursor = masto.fetch(masto.fetch(cursor).cursor).cursor  # mentions, then search refused
    assert "refused search" in caplog.text
    before = len(fake.requests)
    masto.fetch(cursor)
    masto.fetch(cursor)
    assert all(r.path == "/api/v1/notifications" for r in fake.requests[before:])


def test_later_search_turns_find_only_newer_posts(fake, masto, clock):
    masto.settings.keywords = ["acme"]
    old = post(fake, clock, "cy@x.social", "acme hub keeps dropping wifi", notify=False)
    cursor = masto.fetch(None).cursor  # mentions
    first = masto.fetch(cursor)  # search
    assert [m.id for m in first.mentions] == [old]
    new = post(fake, clock, "dd@x.social", "the acme app crashes on start", minutes_ago=0, notify=False)
    cursor = masto.fetch(first.cursor).cursor  # mentions
    again = masto.fetch(
        cursor
    )  # search: Mastodon.py would refuse a min_id here; the connector filters instead
    assert [m.id for m in again.mentions] == [new]
    assert masto.fetch(masto.fetch(again.cursor).cursor).mentions == []
    assert len(fake.calls("GET", "/api/v2/search")) == 3


def test_429_waits_for_the_announced_reset_through_the_clock(fake, pipeline, clock):
    post(fake, clock, "rae@x.social", "@acme hi, is the hub back in stock?")
    reset = (clock.now() + timedelta(seconds=240)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    fake.inject(
        Fault(
            429,
            {"error": "Too many requests"},
            headers={"X-RateLimit-Reset": reset, "X-RateLimit-Remaining": "0"},
        )
    )
    result = pipeline.poll("mastodon")
    assert result.status == "error" and "429" in result.error
    assert pipeline.not_before["mastodon"] == clock.now() + timedelta(seconds=240)
    clock.advance(seconds=120)
    assert pipeline.poll("mastodon").status == "backoff"
    clock.advance(seconds=121)
    assert pipeline.poll("mastodon").new == 1
    assert clock.slept == []


def test_a_spent_budget_waits_for_the_window_to_reset_without_asking(fake, pipeline, clock):
    pipeline.poll("mastodon")
    fake.limit_remaining = 2  # the next answer says one request is left in this window
    clock.advance(seconds=60)
    assert pipeline.poll("mastodon").status == "ok"
    before = len(fake.requests)
    result = pipeline.poll("mastodon")
    assert result.status == "error" and "rate budget spent" in result.error and len(fake.requests) == before
    assert pipeline.not_before["mastodon"] == fake.window_ends
    clock.set(fake.window_ends)
    post(fake, clock, "vi@x.social", "@acme is the hub waterproof?")
    assert pipeline.poll("mastodon").new == 1
    assert clock.slept == []


def test_faults_are_survived_and_other_connectors_keep_running(tmp_path, fake, clock, monkeypatch):
    with FakeHackerNews() as hn:
        connectors = {
            "mastodon": connector_for(fake, clock, monkeypatch),
            "hackernews": connector_for(hn, clock, monkeypatch),
        }
        pipe = Pipeline(
            config_for(tmp_path, fake, hn),
            Store.open(tmp_path / "bot.db"),
            clock=clock,
            connectors=connectors,
        )
        post(fake, clock, "sol@x.social", "@acme my order is late")
        for fault in (
            Fault(502, {"error": "Bad gateway"}),
            Fault(disconnect=True),
            Fault(200, raw=b'[{"id": '),
        ):
            fake.inject(fault)
            results = pipe.run_cycle()
            assert [(r.connector, r.status) for r in results] == [("mastodon", "error"), ("hackernews", "ok")]
            clock.advance(hours=2)
        assert pipe.poll("mastodon").new == 1
        errors = [r.error for r in pipe.store.runs("mastodon") if r.status == "error"]
        assert len(errors) == 3 and all(e.startswith("mastodon: ") for e in errors)
        pipe.close()


def test_a_server_too_slow_to_answer_is_a_transient_error(fake, clock, monkeypatch):
    masto = connector_for(fake, clock, monkeypatch, timeout_seconds=0.2)
    fake.delay = 0.5
    with pytest.raises(TransientError, match=r"^mastodon: MastodonNetworkError"):
        masto.fetch(None)
    fake.delay = 0.0
    assert masto.fetch(None).cursor


def test_the_brands_own_accounts_are_stored_but_never_triaged(tmp_path, fake, clock, monkeypatch):
    masto = connector_for(fake, clock, monkeypatch, own_accounts=["acme_care@social.example"])
    pipe = Pipeline(
        config_for(tmp_path, fake),
        Store.open(tmp_path / "bot.db"),
        clock=clock,
        connectors={"mastodon": masto},
    )
    own = post(fake, clock, "acme_care@social.example", "@acme handing this one over to you")
    theirs = post(fake, clock, "wu@x.social", "@acme my order never arrived")
    assert pipe.poll("mastodon").new == 2
    assert pipe.store.mention_is_own("mastodon", own) and pipe.store.triage_for("mastodon", own) is None
    assert [d.mention_id for d in pipe.store.drafts("awaiting")] == [theirs]
    pipe.close()


def test_refused_token_pauses_mastodon_and_is_reported_once(fake, pipeline, clock):
    events = []
    pipeline.on_event = lambda kind, **data: events.append(kind)
    fake.inject(Fault(401, {"error": "The access token was revoked"}, times=10))
    assert pipeline.poll("mastodon").status == "fatal"
    for _ in range(3):
        clock.advance(minutes=10)
        assert pipeline.poll("mastodon").status == "paused"
    assert events.count("connector_paused") == 1 and len(fake.requests) == 1
    with pytest.raises(FatalError, match="revoked"):
        pipeline.connectors["mastodon"].fetch(None)


def test_a_retried_post_with_the_same_key_is_not_doubled(fake, masto, clock):
    post(fake, clock, "ty@x.social", "@acme order missing")
    (mention,) = masto.fetch(None).mentions
    fake.inject(Fault(disconnect=True, after=True, path="/api/v1/statuses$"))
    with pytest.raises(TransientError):
        masto.reply(mention, "Thank you, we're on it.", idempotency_key="draft-1")
    again = masto.reply(mention, "Thank you, we're on it.", idempotency_key="draft-1")
    assert [p["id"] for p in fake.posted()] == [again]
    assert masto.find_reply(mention) == again


def test_a_teammates_reply_is_seen(fake, masto, clock):
    sid = post(fake, clock, "lu@x.social", "@acme broken hub")
    (mention,) = masto.fetch(None).mentions
    assert masto.team_replied(mention) is None
    fake.post("acme", "@lu@x.social so sorry, DM us", reply_to=sid, notify=False)
    assert masto.team_replied(mention).startswith("acme:")


def test_a_deleted_status_is_set_aside_and_an_edited_one_marked(fake, pipeline, clock):
    gone = post(fake, clock, "zed@x.social", "@acme never mind")
    fake.delete(gone)
    kept = post(
        fake, clock, "yan@x.social", "@acme my hub is dead", spoiler="rant", media=["a hub with no lights"]
    )
    fake.edit(kept, "@acme my hub is dead again")
    result = pipeline.poll("mastodon")
    assert (result.new, result.quarantined) == (1, 1)
    (aside,) = pipeline.store.quarantined("mastodon")
    assert "deleted" in aside.item.reason and aside.item.item_id == fake.notifications[0]["id"]
    stored = pipeline.store.mention("mastodon", kept)
    assert (
        stored.edited
        and stored.text == "Content warning: rant\n@acme my hub is dead again\nImage: a hub with no lights"
    )
    assert pipeline.poll("mastodon").quarantined == 0  # the cursor moved past it: asked once, kept once


def test_a_reblog_is_answered_to_the_author_never_the_booster(fake, masto, clock):
    masto.settings.hashtags = ["acmehub"]
    sid = post(fake, clock, "ann@x.social", "my #AcmeHub died", notify=False)
    boost = fake.boost("bee@x.social", sid)
    # Mastodon's tag timelines leave reblogs out; a server that sends one anyway (here, with the tag's link):
    fake.statuses[boost]["content"] = '<a href="https://social.example/tags/acmehub">'
    mentions = masto.fetch(json.dumps({"since": {}, "turn": 1})).mentions
    assert [(m.id, m.author.handle) for m in mentions] == [(sid, "ann@x.social")]


def test_a_demo_authors_followers_reach_the_mention(fake, masto):
    # The demo's samples carry their authors' followers, so the report's widest reach is not all 0s.
    fake.publish(
        {"author": "omar@infosec.example", "followers": 41200, "text": "@acme where do I report a bug?"}
    )
    fake.publish({"author": "pia@mas.example", "text": "@acme thanks!"})
    reach = {m.author.handle: m.author.reach for m in masto.fetch(None).mentions}
    assert reach == {"omar@infosec.example": 41200, "pia@mas.example": 0}
