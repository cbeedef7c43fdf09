"""Bluesky through the real atproto SDK against the loopback PDS: fetching, reply refs, chat, the session, faults."""

from __future__ import annotations

import stat
from datetime import timedelta

import pytest

from bot import decisions
from bot.clock import FakeClock
from bot.config import parse_config
from bot.errors import FatalError, ReplyNotAllowed
from bot.pipeline import Pipeline
from bot.store import Store
from connectors.fakes.bluesky import BRAND_HANDLE, FakeBluesky
from connectors.fakes.hackernews import FakeHackerNews
from connectors.fakes.server import Fault
from tests.review_helpers import connector_for


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def fake(clock):
    with FakeBluesky(clock=clock) as fake:
        yield fake


def make(fake, clock, monkeypatch, tmp_path, **overrides):
    connector = connector_for(fake, clock, monkeypatch, **overrides)
    connector.state_dir = tmp_path
    return connector


@pytest.fixture
def sky(fake, clock, monkeypatch, tmp_path):
    return make(fake, clock, monkeypatch, tmp_path)


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
def pipeline(tmp_path, fake, sky, clock):
    pipe = Pipeline(
        config_for(tmp_path, fake), Store.open(tmp_path / "bot.db"), clock=clock, connectors={"bluesky": sky}
    )
    yield pipe
    pipe.close()


def post(fake, clock, handle, text, minutes_ago=1, **kwargs):
    clock.advance(seconds=2)  # every post gets its own indexedAt
    return fake.post(handle, text, when=clock.now() - timedelta(minutes=minutes_ago), **kwargs)


def drain(pipeline):
    while pipeline.post():
        pass


def test_fetch_resolves_links_and_keeps_the_post(fake, sky, clock):
    uri = post(
        fake, clock, "alice.bsky.social", f"@{BRAND_HANDLE} order late, see acme.example/o/7…", name="Alice B"
    )
    record = fake.posts[uri]["record"]
    start = record["text"].encode().index(b"acme.example")
    record.setdefault("facets", []).append(
        {
            "index": {"byteStart": start, "byteEnd": len(record["text"].encode())},
            "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://acme.example/o/77"}],
        }
    )
    (mention,) = sky.fetch(None).mentions
    assert mention.text == f"@{BRAND_HANDLE} order late, see https://acme.example/o/77"
    assert mention.url == f"https://bsky.app/profile/alice.bsky.social/post/{uri.rsplit('/', 1)[1]}"
    assert (mention.author.handle, mention.author.display_name) == ("alice.bsky.social", "Alice B")
    assert mention.author.id.startswith("did:plc:") and mention.raw["uri"] == uri


def test_complaint_round_trip_reply_with_thread_refs_then_chat(fake, pipeline, clock):
    root = post(fake, clock, "zed.bsky.social", "anyone else waiting on an acme order?", notify=False)
    uri = post(
        fake,
        clock,
        "marta.bsky.social",
        f"@{BRAND_HANDLE} mine is two weeks late, nobody answers",
        reply_to=root,
    )
    pipeline.poll("bluesky")
    (draft,) = pipeline.store.drafts("awaiting")
    assert draft.intent == "complaint" and draft.case_id
    decisions.approve(pipeline.store, draft.id, actor="alice", now=clock.now())
    drain(pipeline)
    reply, message = fake.posted()
    assert reply["text"] == draft.text and reply["in_reply_to"] == uri
    assert reply["reply"]["parent"]["uri"] == uri and reply["reply"]["root"]["uri"] == root
    assert reply["reply"]["root"]["cid"] == fake.posts[root]["cid"]
    assert message["kind"] == "message" and message["in_reply_to"] == uri
    assert fake.calls(path="chat.bsky.convo.sendMessage")[0].header("atproto-proxy").endswith("#bsky_chat")
    assert pipeline.store.case(draft.case_id).contacted_at is not None


def test_pages_through_notifications_until_the_watermark(fake, sky, clock):
    sky.settings.page_size = 10
    cursor = sky.fetch(None).cursor
    uris = [post(fake, clock, f"u{i}.bsky.social", f"@{BRAND_HANDLE} question {i}?") for i in range(25)]
    before = len(fake.requests)
    result = sky.fetch(cursor)
    assert sorted(m.id for m in result.mentions) == sorted(uris)
    assert len(fake.requests) - before == 3


def test_the_session_is_saved_reused_across_restarts_and_refreshed(fake, clock, monkeypatch, tmp_path):
    first = make(fake, clock, monkeypatch, tmp_path)
    post(fake, clock, "bo.bsky.social", f"@{BRAND_HANDLE} where is my refund?")
    cursor = first.fetch(None).cursor
    saved = tmp_path / f"bluesky-session-{BRAND_HANDLE}"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    again = make(fake, clock, monkeypatch, tmp_path)
    assert again.fetch(cursor).mentions == []
    assert fake.sessions_created == 1
    fake.expire_access_tokens()
    post(fake, clock, "cy.bsky.social", f"@{BRAND_HANDLE} still nothing")
    assert len(again.fetch(cursor).mentions) == 1
    assert fake.sessions_created == 1 and len(fake.calls(path="refreshSession")) == 1
    assert saved.read_text() not in "\n".join(r.path for r in fake.requests)


def test_three_quiet_polls_make_one_request_each_and_store_nothing(fake, pipeline, clock):
    pipeline.poll("bluesky")
    before = len(fake.requests)
    for _ in range(3):
        clock.advance(minutes=1)
        result = pipeline.poll("bluesky")
        assert (result.status, result.fetched, result.new, result.calls) == ("ok", 0, 0, 1)
    assert len(fake.requests) - before == 3


def test_keyword_search_takes_turns(fake, sky, clock):
    sky.settings.keywords = ["acme"]
    cursor = sky.fetch(None).cursor  # notifications
    uri = post(fake, clock, "kim.bsky.social", "acme hub keeps dropping wifi", notify=False)
    found = sky.fetch(cursor)  # search
    assert [m.id for m in found.mentions] == [uri]
    assert [m.id for m in sky.fetch(sky.fetch(found.cursor).cursor).mentions] == []


def test_429_waits_for_the_announced_reset_through_the_clock(fake, pipeline, clock):
    post(fake, clock, "rae.bsky.social", f"@{BRAND_HANDLE} is the hub back in stock?")
    pipeline.connectors["bluesky"].check()
    reset = int(clock.now().timestamp()) + 200
    fake.inject(
        Fault(
            429,
            {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
            headers={"ratelimit-reset": str(reset)},
        )
    )
    result = pipeline.poll("bluesky")
    assert result.status == "error" and "429" in result.error
    assert pipeline.not_before["bluesky"] == clock.now() + timedelta(seconds=200)
    clock.advance(seconds=100)
    assert pipeline.poll("bluesky").status == "backoff"
    clock.advance(seconds=101)
    assert pipeline.poll("bluesky").new == 1
    assert clock.slept == []


def test_faults_are_survived_and_other_connectors_keep_running(tmp_path, fake, clock, monkeypatch):
    with FakeHackerNews() as hn:
        connectors = {
            "bluesky": make(fake, clock, monkeypatch, tmp_path),
            "hackernews": connector_for(hn, clock, monkeypatch),
        }
        pipe = Pipeline(
            config_for(tmp_path, fake, hn),
            Store.open(tmp_path / "bot.db"),
            clock=clock,
            connectors=connectors,
        )
        connectors["bluesky"].check()
        post(fake, clock, "sol.bsky.social", f"@{BRAND_HANDLE} my order is late")
        for fault in (
            Fault(502, {"error": "UpstreamFailure"}),
            Fault(disconnect=True),
            Fault(200, raw=b'{"notifications": [{"uri": '),
        ):
            fake.inject(fault)
            results = pipe.run_cycle()
            assert [(r.connector, r.status) for r in results] == [("bluesky", "error"), ("hackernews", "ok")]
            clock.advance(hours=2)
        assert pipe.poll("bluesky").new == 1
        errors = [r["error"] for r in pipe.store.runs("bluesky") if r["status"] == "error"]
        assert len(errors) == 3 and all(e.startswith("bluesky: ") for e in errors)
        pipe.close()


def test_a_wrong_app_password_pauses_bluesky_and_is_reported_once(fake, clock, monkeypatch, tmp_path):
    sky = make(fake, clock, monkeypatch, tmp_path)
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", "wrong")
    events = []
    pipe = Pipeline(
        config_for(tmp_path, fake),
        Store.open(tmp_path / "bot.db"),
        clock=clock,
        connectors={"bluesky": sky},
        on_event=lambda kind, **data: events.append(kind),
    )
    assert pipe.poll("bluesky").status == "fatal"
    for _ in range(3):
        clock.advance(minutes=10)
        assert pipe.poll("bluesky").status == "paused"
    assert events.count("connector_paused") == 1 and fake.sessions_created == 1
    with pytest.raises(FatalError, match="Invalid identifier or password"):
        sky.fetch(None)
    pipe.close()


def test_reply_length_is_counted_in_graphemes(fake, sky, clock):
    post(fake, clock, "lu.bsky.social", f"@{BRAND_HANDLE} broken hub")
    (mention,) = sky.fetch(None).mentions
    family = "👨\u200d👩\u200d👧"  # one grapheme, eight code points
    assert sky.reply(mention, family * 300, idempotency_key="k")
    with pytest.raises(ReplyNotAllowed, match="301 graphemes"):
        sky.reply(mention, family * 301, idempotency_key="k2")


def test_reconcile_and_teammates_replies_are_found_in_the_thread(fake, sky, clock):
    uri = post(fake, clock, "ny.bsky.social", f"@{BRAND_HANDLE} my order?")
    (mention,) = sky.fetch(None).mentions
    assert sky.find_reply(mention) is None and sky.team_replied(mention) is None
    posted = sky.reply(mention, "Thank you, we're looking.", idempotency_key="k")
    assert sky.find_reply(mention) == posted
    assert sky.team_replied(mention) == f"{BRAND_HANDLE}:{posted}" and uri == mention.id
    sent = sky.message(mention, "Hello from Acme", idempotency_key="m")
    assert sky.find_message(mention, "Hello from Acme") == sent


def test_a_saved_session_the_server_forgot_falls_back_to_the_app_password(fake, clock, monkeypatch, tmp_path):
    make(fake, clock, monkeypatch, tmp_path).check()
    fake.access_tokens.clear()
    fake.refresh_tokens.clear()
    post(fake, clock, "eli.bsky.social", f"@{BRAND_HANDLE} hello?")
    assert len(make(fake, clock, monkeypatch, tmp_path).fetch(None).mentions) == 1
    assert fake.sessions_created == 2
