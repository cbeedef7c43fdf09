"""Bluesky through the real atproto SDK against the loopback XRPC fake: fetch, replies, DMs, sessions, faults."""

from __future__ import annotations

import os
import stat
from datetime import UTC, date, datetime, timedelta

import pytest

from bot import decisions
from bot.config import parse_config
from bot.errors import FatalError, ReplyNotAllowed, TransientError
from bot.models import CredentialExpiry
from bot.pipeline import Pipeline
from bot.store import Store
from connectors.base import Secret
from connectors.bluesky import BlueskyConnector, BlueskySettings
from connectors.fakes.bluesky import FakeBluesky
from connectors.fakes.googleplay import FakeGooglePlay
from connectors.fakes.server import Fault

BRAND = {"name": "Acme", "contact_email": "care@acme.example", "timezone": "Europe/Amsterdam"}


@pytest.fixture
def fake(clock, monkeypatch):
    with FakeBluesky(clock=clock, max_limit=100) as fake:
        for key, value in fake.environment().items():
            monkeypatch.setenv(key, value)
        yield fake


def settings(fake, **overrides):
    table = {**fake.connector_settings(), **overrides}
    table["app_password"] = Secret(env=table["app_password"]["env"])
    return BlueskySettings(**table)


def connector(fake, clock, **overrides):
    return BlueskyConnector(settings(fake, **overrides), clock=clock)


def paths(fake, nsid):
    return fake.calls(path=f"/xrpc/{nsid}$")


def test_notifications_are_normalised_with_raw_json_url_and_author(fake, clock):
    brand = fake.add_post(author="acme.com", text="Launch day")
    clock.advance(minutes=1)
    jane = fake.add_post(
        author="jane.bsky.social",
        name="Jane Doe",
        text="@acme.com my order never arrived",
        link="https://acme.example/orders/12345",
    )
    clock.advance(minutes=1)
    bob = fake.add_post(author="bob.bsky.social", name="Bob", text="Love it", reply_to=brand)
    clock.advance(minutes=1)
    carl = fake.add_post(author="carl.bsky.social", text="meh", quote=brand)
    bot = connector(fake, clock, keywords=[])
    mentions = bot.fetch(None).mentions
    assert [m.id for m in mentions] == [jane, bob, carl]
    first = mentions[0]
    # the shortened link is expanded to its full URL from the facet; the brand's mention to its full handle
    assert first.text == "@acme.com my order never arrived https://acme.example/orders/12345"
    assert first.url == f"https://bsky.app/profile/jane.bsky.social/post/{jane.rsplit('/', 1)[1]}"
    assert (first.author.handle, first.author.display_name) == ("jane.bsky.social", "Jane Doe")
    assert first.author.id.startswith("did:plc:") and first.lang == "en"
    assert first.raw["post"]["cid"] and first.raw["record"]["facets"]
    assert [m.raw["reason"] for m in mentions] == ["mention", "reply", "quote"]
    assert (mentions[1].kind, mentions[1].parent_id, mentions[1].thread_id) == ("reply", brand, brand)
    assert bot.own_accounts() >= {"acme.com", fake.did.lower()}


def test_pagination_cursor_after_restart_and_empty_polls(fake, clock):
    for i in range(7):
        fake.add_post(author=f"user{i}.bsky.social", text=f"@acme.com question {i}")
        clock.advance(seconds=10)
    bot = connector(fake, clock, keywords=[], page_size=3)
    first = bot.fetch(None)
    assert len(first.mentions) == 7
    assert len(paths(fake, "app.bsky.notification.listNotifications")) == 3  # 3 + 3 + 1
    clock.advance(minutes=5)
    late = fake.add_post(author="late.bsky.social", text="@acme.com still waiting")
    restarted = connector(fake, clock, keywords=[], page_size=3)
    second = restarted.fetch(first.cursor)
    assert [m.id for m in second.mentions] == [late]
    before = len(fake.requests)
    cursor = second.cursor
    for _ in range(3):
        result = restarted.fetch(cursor)
        assert result.mentions == []
        cursor = result.cursor
    assert len(fake.requests) - before == 3


def test_keyword_search_takes_turns_and_tolerates_being_unavailable(fake, clock):
    fake.add_post(author="sunny.bsky.social", text="my acme tracker drains the battery")
    fake.add_post(author="jane.bsky.social", text="@acme.com hello")
    bot = connector(fake, clock, keywords=["acme"])
    first = bot.fetch(None)
    assert [m.raw["reason"] for m in first.mentions] == ["mention"]
    second = bot.fetch(first.cursor)  # the search's turn: one request, both posts contain "acme"
    assert sorted(m.author.handle for m in second.mentions) == ["jane.bsky.social", "sunny.bsky.social"]
    assert {m.raw["reason"] for m in second.mentions} == {"search"}
    assert len(paths(fake, "app.bsky.feed.searchPosts")) == 1
    assert len(paths(fake, "app.bsky.notification.listNotifications")) == 1
    fake.search_available = False
    fake.add_post(author="kat.bsky.social", text="@acme.com refund?")
    third = bot.fetch(second.cursor)  # notifications' turn
    fake.add_post(author="lee.bsky.social", text="@acme.com billed twice")
    fourth = bot.fetch(third.cursor)  # search's turn: refused, so notifications instead
    assert [m.author.handle for m in third.mentions + fourth.mentions] == [
        "kat.bsky.social",
        "lee.bsky.social",
    ]
    assert len(paths(fake, "app.bsky.feed.searchPosts")) == 2
    bot.fetch(fourth.cursor)
    bot.fetch(fourth.cursor)
    assert len(paths(fake, "app.bsky.feed.searchPosts")) == 2  # not asked again once refused


def test_reply_root_and_parent_refs_and_reconcile(fake, clock):
    root = fake.add_post(author="jane.bsky.social", text="@acme.com the app crashes")
    parent = fake.add_post(author="bob.bsky.social", text="@acme.com same here", reply_to=root)
    bot = connector(fake, clock, keywords=[])
    mentions = {m.id: m for m in bot.fetch(None).mentions}
    assert bot.find_reply(mentions[parent]) is None
    posted = bot.reply(mentions[parent], "Sorry Bob! Please write to care@acme.example", idempotency_key="k1")
    reply = fake.posts[posted]["record"]["reply"]
    refs = {k: (reply[k]["uri"], reply[k]["cid"]) for k in ("parent", "root")}
    assert refs == {
        "parent": (parent, fake.posts[parent]["cid"]),
        "root": (root, fake.posts[root]["cid"]),  # the parent's own root, not the parent
    }
    top = bot.reply(mentions[root], "Sorry Jane!", idempotency_key="k2")
    assert fake.posts[top]["record"]["reply"]["root"]["uri"] == root  # a top-level post is its own root
    assert bot.find_reply(mentions[parent]) == posted
    assert bot.team_replied(mentions[parent]) == f"acme.com:{posted}"
    assert [(p["kind"], p["in_reply_to"]) for p in fake.posted()] == [("reply", parent), ("reply", root)]


def test_reply_limit_counts_graphemes_not_code_points(fake, clock):
    assert (BlueskyConnector.rules.max_length, BlueskyConnector.rules.length_unit) == (300, "graphemes")
    fake.add_post(author="jane.bsky.social", text="@acme.com hi")
    bot = connector(fake, clock, keywords=[])
    (mention,) = bot.fetch(None).mentions
    accented = "e\u0301"  # two code points, one grapheme
    bot.reply(mention, accented * 300, idempotency_key="ok")
    with pytest.raises(ReplyNotAllowed):
        bot.reply(mention, "x" * 301, idempotency_key="long")
    assert len(fake.posted()) == 1


def test_session_is_reused_across_restarts_and_refreshed(fake, clock):
    fake.add_post(author="jane.bsky.social", text="@acme.com hi")
    connector(fake, clock, keywords=[]).fetch(None)
    session_file = settings(fake).session_file
    assert stat.S_IMODE(os.stat(session_file).st_mode) == 0o600
    assert fake.create_session_calls == 1
    # a restart reuses the stored session
    second = connector(fake, clock, keywords=[])
    second.fetch(None)
    assert fake.create_session_calls == 1
    # the access token is refused as expired: refreshSession, then the call again; no new login
    fake.expire_sessions()
    assert len(second.fetch(None).mentions) == 1
    assert (fake.create_session_calls, fake.refresh_calls) == (1, 1)
    # the token's own expiry (2 h) is noticed on the injected clock and refreshed before the call
    clock.advance(hours=3)
    second.fetch(None)
    assert (fake.create_session_calls, fake.refresh_calls) == (1, 2)
    # and the refreshed session is what the next restart uses
    connector(fake, clock, keywords=[]).fetch(None)
    assert fake.create_session_calls == 1
    assert fake.access  # the tokens never appear in the connector's settings or errors
    assert all(token not in repr(second.settings) for token in fake.access)


def test_the_session_refresh_token_expiry_is_reported_and_renews_itself(fake, clock):
    bsky = connector(fake, clock, keywords=[])
    assert (
        bsky.credential_expiry() is None
    )  # not logged in yet: nothing known, and no request made to find out
    bsky.fetch(None)
    first = bsky.credential_expiry()
    assert (first.at, first.what, first.renews) == (
        clock.now() + timedelta(days=60),
        "session refresh token",
        True,
    )
    clock.advance(hours=3)  # the access token's 2 h are over: the refresh rolls the refresh token on
    bsky.fetch(None)
    assert bsky.credential_expiry().at == clock.now() + timedelta(days=60)
    # a configured date is one someone must act on: it wins over the session that renews itself, even when later
    for day in (date(2026, 12, 1), date(2027, 6, 1)):
        dated = connector(fake, clock, keywords=[], credentials_expire=day)
        dated.fetch(None)
        assert dated.credential_expiry() == CredentialExpiry(
            at=datetime.combine(day, datetime.min.time(), tzinfo=UTC), what="credentials_expire (config)"
        )


def test_session_lives_beside_the_database_and_stays_out_of_the_logs(fake, clock, tmp_path, caplog):
    caplog.set_level("DEBUG")
    bot = BlueskyConnector(settings(fake, session_file=""), clock=clock, state_dir=tmp_path)
    bot.fetch(None)
    stored = (tmp_path / "bluesky-session-acme.com").read_text()
    assert all(token in stored for token in fake.access)
    assert not any(token in caplog.text for token in [*fake.access, *fake.refresh])


def test_a_session_the_server_forgot_falls_back_to_the_app_password(fake, clock):
    connector(fake, clock, keywords=[]).fetch(None)
    fake.access.clear()
    fake.refresh.clear()
    fake.add_post(author="jane.bsky.social", text="@acme.com hi")
    assert len(connector(fake, clock, keywords=[]).fetch(None).mentions) == 1
    assert fake.create_session_calls == 2


def test_bad_password_is_fatal(fake, clock, monkeypatch):
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", "wrong-password")
    with pytest.raises(FatalError, match="login refused"):
        connector(fake, clock).fetch(None)


def test_faults_become_transient_errors_naming_the_connector(fake, clock):
    fake.add_post(author="jane.bsky.social", text="@acme.com hi")
    bot = connector(fake, clock, keywords=[])
    bot.check()
    for fault in (
        Fault(500, {"error": "InternalServerError", "message": "boom"}, path="listNotifications"),
        Fault(200, raw=b'{"notifications": [', path="listNotifications"),
        Fault(disconnect=True, path="listNotifications"),
    ):
        fake.inject(fault)
        with pytest.raises(TransientError, match=r"^bluesky: "):
            bot.fetch(None)
    assert len(bot.fetch(None).mentions) == 1
    reset = int(clock.now().timestamp()) + 120
    fake.inject(
        Fault(
            429,
            {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
            headers={"ratelimit-remaining": "0", "ratelimit-reset": str(reset)},
            path="listNotifications",
        )
    )
    with pytest.raises(TransientError) as caught:
        bot.fetch(None)
    assert caught.value.retry_after == pytest.approx(120)
    # the budget is spent until the reset: no request is made before it
    count = len(fake.requests)
    with pytest.raises(TransientError):
        bot.fetch(None)
    assert len(fake.requests) == count
    clock.advance(seconds=121)
    assert len(bot.fetch(None).mentions) == 1


# -- through the pipeline -------------------------------------------------------------------------------------


@pytest.fixture
def pipeline(fake, clock, tmp_path, monkeypatch):
    play = FakeGooglePlay()
    play.start()
    for key, value in play.environment().items():
        monkeypatch.setenv(key, value)
    config = parse_config(
        {
            "dry_run": False,
            "brand": BRAND,
            "store": {"path": str(tmp_path / "bot.db")},
            "connectors": {
                "bluesky": {**fake.connector_settings(), "keywords": []},
                "googleplay": play.connector_settings(),
            },
        }
    )
    store = Store.open(tmp_path / "bot.db")
    pipe = Pipeline(config, store, clock=clock)
    yield pipe, store, play
    pipe.close()
    play.stop()


def test_fetch_triage_reply_and_dm_round_trip(pipeline, fake, clock):
    pipe, store, _ = pipeline
    brand = fake.add_post(author="acme.com", text="New: Acme Hub 2")
    complaint = fake.add_post(
        author="maria.bsky.social",
        name="Maria Lopez",
        text="@acme.com my Acme Hub arrived broken and nobody answers. Terrible service.",
        reply_to=brand,
    )
    pipe.poll("bluesky")
    (draft,) = store.drafts("awaiting")
    assert (draft.mention_id, draft.intent) == (complaint, "complaint")
    decisions.approve(store, draft.id, actor="alice", now=clock.now())
    while pipe.post():
        pass
    reply, dm = fake.posted()
    assert (reply["kind"], reply["in_reply_to"], reply["root"]) == ("reply", complaint, brand)
    assert (dm["kind"], dm["to"]) == ("message", "maria.bsky.social")
    chat = fake.calls(path=r"/xrpc/chat\.bsky\.")
    assert chat and {r.header("atproto-proxy") for r in chat} == {"did:web:api.bsky.chat#bsky_chat"}
    assert store.draft(draft.id).state == "posted"
    # the customer answers in private; the next poll attaches it to the case
    clock.advance(minutes=10)
    fake.customer_dm("maria.bsky.social", "Order 4821, the screen is cracked")
    pipe.poll("bluesky")
    case = store.case_for("bluesky", complaint)
    assert case.customer_replied_at is not None
    assert any("4821" in (e.note or "") for e in store.case_events(case.id))
    # nothing new: each poll is one notifications request and one chat-log request, and nothing is stored
    before, mentions = len(fake.requests), store.counts().mentions
    for _ in range(3):
        assert pipe.poll("bluesky").new == 0
    assert [r.path.rsplit(".", 1)[1] for r in fake.requests[before:]] == ["listNotifications", "getLog"] * 3
    assert store.counts().mentions == mentions


def test_faults_are_survived_while_other_connectors_keep_running(pipeline, fake, clock):
    pipe, store, play = pipeline
    play.add_review(author="Ann", rating=5, text="Great app", modified=clock.now())
    fake.add_post(author="jane.bsky.social", text="@acme.com where is my order?")
    fake.inject(Fault(503, {"error": "Unavailable"}, path="listNotifications"))
    results = pipe.run_cycle()
    assert {r.connector: r.status for r in results} == {"bluesky": "error", "googleplay": "ok"}
    assert "bluesky" in results[0].error
    assert store.runs("bluesky")[0].status == "error"
    clock.advance(minutes=31)  # past the back-off
    reset = int(clock.now().timestamp()) + 600
    fake.inject(Fault(429, {"error": "RateLimitExceeded"}, headers={"ratelimit-reset": str(reset)}))
    assert pipe.poll("bluesky").status == "error"
    assert pipe.poll("bluesky").status == "backoff"  # waits for the announced reset, on the injected clock
    clock.set(clock.now().replace(microsecond=0) + timedelta(seconds=reset - clock.now().timestamp() + 1))
    assert pipe.poll("bluesky").new == 1
    assert clock.slept == []  # nothing ever slept


def test_revoked_password_pauses_the_connector_and_is_reported_once(pipeline, fake, clock):
    pipe, store, _ = pipeline
    events = []
    pipe.on_event = lambda kind, **data: events.append(kind)
    pipe.poll("bluesky")
    fake.revoke()  # sessions end and the app password stops working
    assert pipe.poll("bluesky").status == "fatal"
    count = len(fake.requests)
    clock.advance(hours=1)
    assert pipe.poll("bluesky").status == "paused"
    assert len(fake.requests) == count
    assert events.count("connector_paused") == 1
    assert "login refused" in store.paused_connectors()["bluesky"]


def test_a_poll_records_when_the_credentials_expire(pipeline, fake, clock):
    pipe, store, play = pipeline
    play.key_expires = clock.now() + timedelta(days=5)
    pipe.poll("bluesky")
    pipe.poll("googleplay")
    assert store.credential_expiries() == {
        "bluesky": CredentialExpiry(
            at=clock.now() + timedelta(days=60), what="session refresh token", renews=True
        ),
        "googleplay": CredentialExpiry(
            at=clock.now() + timedelta(days=5), what="service account key 01234567"
        ),
    }
    # the key is replaced by one without an end date: tomorrow's check clears the warning
    play.key_expires = datetime(9999, 12, 31, tzinfo=UTC)
    clock.advance(hours=25)
    pipe.poll("googleplay")
    assert set(store.credential_expiries()) == {"bluesky"}


def test_embeds_are_read_and_a_blocking_author_is_not_answered(pipeline, fake, clock):
    pipe, store, _ = pipeline
    brand = fake.add_post(author="acme.com", text="Acme Hub 2 is out")
    photo = fake.add_post(
        author="ivy.bsky.social", text="@acme.com", images=["A Hub 2 with a cracked screen"]
    )
    quote = fake.add_post(author="jo.bsky.social", text="still broken", quote=brand)
    card = fake.add_post(
        author="kim.bsky.social",
        text="@acme.com ??",
        card=("https://acme.example/status", "Acme status: outage", "Devices offline in Europe"),
    )
    fake.block("kim.bsky.social")
    pipe.poll("bluesky")
    assert store.mention("bluesky", photo).text == "@acme.com\nImage: A Hub 2 with a cracked screen"
    assert store.mention("bluesky", quote).text == "still broken\nQuoted post by @acme.com: Acme Hub 2 is out"
    blocked = store.mention("bluesky", card)
    assert blocked.text == "@acme.com ??\nLink: Acme status: outage — Devices offline in Europe"
    assert blocked.unanswerable == "the author blocks the brand's account"
    draft = store.draft_for("bluesky", card)
    assert draft.route == "manual" and any("blocks" in p for p in draft.problems)
    assert len(fake.calls(path=r"getPosts$")) == 1  # the page's quoted posts in one request
