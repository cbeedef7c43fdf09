"""X through tweepy's real v2 ``Client`` against the loopback X API: fetching, the summoned rule, posting, accounting."""

from __future__ import annotations

import logging
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from bot import decisions, report
from bot.errors import FatalError, ReplyNotAllowed, TransientError
from bot.pipeline import Pipeline
from bot.store import Store
from connectors.fakes.hackernews import FakeHackerNews
from connectors.fakes.server import Fault
from connectors.fakes.x import ACCESS_TOKEN, BEARER, BRAND_ID, FakeX
from connectors.x import XSettings
from tests.review_helpers import config_for, connector_for

UNAUTHORIZED = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}


@pytest.fixture
def fake(clock):
    with FakeX(clock=clock) as fake:
        yield fake


@pytest.fixture
def x(fake, clock, monkeypatch):
    return connector_for(fake, clock, monkeypatch)


@pytest.fixture
def pipeline(tmp_path, fake, x, clock):
    store = Store.open(tmp_path / "bot.db")
    pipe = Pipeline(config_for(tmp_path, fake), store, clock=clock, connectors={"x": x})
    yield pipe
    pipe.close()


def post(fake, clock, author, text, minutes_ago=1, **kwargs):
    return fake.post(author, text, when=clock.now() - timedelta(minutes=minutes_ago), **kwargs)


def drain(pipeline):
    while pipeline.post():
        pass


# -- fetching ----------------------------------------------------------------------------------------------------


def test_fetch_normalises_text_and_keeps_x_json(fake, x, clock):
    first = post(
        fake, clock, "alice", "@Acme order late, see https://acme.example/orders/77 & fix it", name="Alice B"
    )
    reply = post(fake, clock, "bob", "@alice @Acme same here", minutes_ago=0, reply_to=first)
    (m1, m2) = x.fetch(None).mentions
    assert fake.tweets[first]["text"].count("https://t.co/") == 1 and "&amp;" in fake.tweets[first]["text"]
    assert m1.text == "@Acme order late, see https://acme.example/orders/77 & fix it"
    assert m1.url == f"https://x.com/alice/status/{first}"
    assert (m1.author.handle, m1.author.display_name, m1.kind, m1.lang) == ("alice", "Alice B", "post", "en")
    assert m1.raw["data"]["id"] == first and m1.raw["includes"]["users"][0]["username"] == "alice"
    assert (m2.kind, m2.parent_id, m2.thread_id) == ("reply", first, first)
    assert m1.created_at < m2.created_at and m1.created_at.tzinfo is not None
    (request,) = fake.calls("GET", "/mentions$")
    assert request.arg("expansions") == "author_id,referenced_tweets.id,referenced_tweets.id.author_id"
    assert "created_at" in request.arg("tweet.fields") and "entities" in request.arg("tweet.fields")
    assert request.header("authorization").startswith("Bearer ")
    assert reply in m2.url


def test_sources_take_turns_and_own_posts_are_recognised(fake, x, clock):
    summoned = post(fake, clock, "carol", "@Acme where is my refund")
    keyword = post(fake, clock, "dave", "acme app keeps crashing")
    own = post(fake, clock, "Acme", "Acme Hub 3 firmware is out")
    first = x.fetch(None)
    assert [m.id for m in first.mentions] == [summoned]
    second = x.fetch(first.cursor)
    assert {m.id for m in second.mentions} == {summoned, keyword, own}
    assert [r.path for r in fake.requests] == [f"/2/users/{BRAND_ID}/mentions", "/2/tweets/search/recent"]
    assert fake.requests[1].arg("query") == "acme -is:retweet"
    assert next(m for m in second.mentions if x.is_own(m.author)).id == own


def test_pagination_across_pages(fake, clock, monkeypatch):
    x = connector_for(fake, clock, monkeypatch, page_size=10)
    ids = [post(fake, clock, f"user{i}", f"@Acme question {i}", minutes_ago=30 - i) for i in range(25)]
    result = x.fetch(None)
    assert [m.id for m in result.mentions] == ids
    pages = fake.calls("GET", "/mentions$")
    assert len(pages) == 3 and x.calls == 3
    assert pages[0].arg("pagination_token") is None and pages[1].arg("pagination_token")
    assert pages[0].arg("start_time") and pages[0].arg("since_id") is None
    # the search pages with next_token, from its own first run
    searched = x.fetch(result.cursor)
    assert len(searched.mentions) == 25
    assert [r.arg("next_token") is not None for r in fake.calls("GET", "/search/recent$")] == [
        False,
        True,
        True,
    ]
    later = post(fake, clock, "late", "@Acme one more", minutes_ago=0)
    newer = x.fetch(searched.cursor)
    assert [m.id for m in newer.mentions] == [later]
    assert fake.calls("GET", "/mentions$")[-1].arg("since_id") == ids[-1]


def test_a_backlog_beyond_max_pages_is_read_on_the_next_turns_not_skipped(fake, clock, monkeypatch):
    x = connector_for(fake, clock, monkeypatch, page_size=10, max_pages=2, rotation=["mentions"])
    first = post(fake, clock, "early", "@Acme before the rush", minutes_ago=60)
    cursor = x.fetch(None).cursor
    rush = [post(fake, clock, f"user{i}", f"@Acme question {i}", minutes_ago=30 - i) for i in range(25)]
    newest = x.fetch(cursor)
    assert [m.id for m in newest.mentions] == rush[5:]  # two pages of ten, newest first
    later = post(fake, clock, "late", "@Acme one more", minutes_ago=0)
    rest = x.fetch(newest.cursor)
    assert [m.id for m in rest.mentions] == rush[:5]  # the five the rush pushed beyond max_pages
    request = fake.calls("GET", "/mentions$")[-1]
    assert (request.arg("since_id"), request.arg("until_id")) == (first, rush[5])
    after = x.fetch(rest.cursor)
    assert [m.id for m in after.mentions] == [later]
    assert fake.calls("GET", "/mentions$")[-1].arg("since_id") == rush[-1]


def test_stale_search_cursor_falls_back_to_the_seven_day_window(fake, x, clock):
    post(fake, clock, "erin", "acme is fine")
    cursor = x.fetch(x.fetch(None).cursor).cursor
    clock.advance(days=8)
    fresh = post(fake, clock, "fred", "acme support rocks", minutes_ago=0)
    result = x.fetch(x.fetch(cursor).cursor)  # mentions, then the search with its week-old since_id
    assert [m.id for m in result.mentions] == [fresh]
    last = fake.calls("GET", "/search/recent$")[-1]
    assert last.arg("since_id") is None and last.arg("start_time")


def test_cursor_survives_a_restart(tmp_path, fake, clock, monkeypatch):
    old = post(fake, clock, "gina", "@Acme my parcel is lost")
    connectors = {"x": connector_for(fake, clock, monkeypatch)}
    config = config_for(tmp_path, fake)
    first = Pipeline(config, Store.open(tmp_path / "bot.db"), clock=clock, connectors=connectors)
    assert first.poll("x").new == 1
    first.close()
    clock.advance(minutes=5)
    new = post(fake, clock, "hank", "@Acme is the Hub waterproof?", minutes_ago=0)
    store = Store.open(tmp_path / "bot.db")
    again = Pipeline(config, store, clock=clock, connectors={"x": connector_for(fake, clock, monkeypatch)})
    again.poll("x")  # search turn: both posts, only the new one is new
    again.poll("x")  # mentions turn: since_id from before the restart
    assert fake.calls("GET", "/mentions$")[-1].arg("since_id") == old
    assert {m.id for m in store.mentions()} == {old, new}
    assert sum(r.new for r in store.runs("x")) == 2


def test_three_quiet_polls_make_one_request_each_and_store_nothing(fake, pipeline, clock):
    post(fake, clock, "ivy", "@Acme thanks for the quick fix!")
    pipeline.poll("x")
    pipeline.poll("x")
    stored = len(list(pipeline.store.mentions()))
    before = len(fake.requests)
    for _ in range(3):
        clock.advance(minutes=5)
        result = pipeline.poll("x")
        assert (result.status, result.new, result.calls) == ("ok", 0, 1)
    assert len(fake.requests) - before == 3
    assert len(list(pipeline.store.mentions())) == stored
    assert [r.calls for r in pipeline.store.runs("x")] == [1, 1, 1, 1, 1]


# -- the summoned rule, replies and DMs ---------------------------------------------------------------------------


def test_overlong_reply_is_refused_before_any_request(fake, x, clock):
    post(fake, clock, "uma", "@Acme hello?")
    (mention,) = x.fetch(None).mentions
    assert x.rules.max_length == 280
    with pytest.raises(ReplyNotAllowed, match="280"):
        x.reply(mention, "y" * 281, idempotency_key="k")
    assert fake.calls("POST") == []


def test_summoned_complaint_round_trip_reply_then_dm(fake, pipeline, clock):
    tid = post(
        fake, clock, "jane", "@Acme I was charged twice for my subscription, please refund", name="Jane D"
    )
    pipeline.poll("x")
    (draft,) = pipeline.store.drafts("awaiting")
    assert draft.route == "reply" and draft.intent == "complaint" and draft.case_id
    assert "private message" in draft.text
    decisions.approve(pipeline.store, draft.id, actor="alice", now=clock.now())
    drain(pipeline)
    reply, dm = fake.posted()
    assert (reply["kind"], reply["in_reply_to"], reply["text"]) == ("reply", tid, draft.text)
    assert fake.tweets[reply["id"]]["referenced_tweets"] == [{"type": "replied_to", "id": tid}]
    assert dm["kind"] == "message" and dm["to"] == fake.tweets[tid]["author_id"] and "Jane" in dm["text"]
    assert pipeline.store.draft(draft.id).state == "posted"
    case = pipeline.store.case(draft.case_id)
    assert case.acknowledged_at and case.contacted_at
    assert len(reply["text"]) <= 280

    # The customer answers by DM: the next poll attaches it to the case.
    clock.advance(minutes=5)
    fake.customer_dm("jane", "It was order 5521, charged on the 3rd and the 4th")
    pipeline.poll("x")
    assert any("order 5521" in (e.note or "") for e in pipeline.store.case_events(case.id))
    assert pipeline.store.case(case.id).customer_replied_at is not None


def test_quote_of_the_brand_counts_as_summoned(fake, x, clock):
    ours = post(fake, clock, "Acme", "Acme Hub 3 is here", minutes_ago=60)
    quote = post(fake, clock, "kim", "acme finally fixed the battery", quote=ours)
    plain = post(fake, clock, "lou", "acme finally fixed the battery, apparently")
    mentions = {m.id: m for m in x.fetch(x.fetch(None).cursor).mentions}
    assert x.can_reply(mentions[quote]) and not x.can_reply(mentions[plain])
    assert not x.can_reply(mentions[ours])  # our own post
    assert x.reply(mentions[quote], "Thanks, Kim!", idempotency_key="k")


def test_unsummoned_post_is_a_reply_by_hand_task_and_a_dm_never_a_failed_post(fake, pipeline, clock):
    tid = post(fake, clock, "mo", "Acme lost my order and support never answers. Terrible.", name="Mo Salah")
    pipeline.poll("x")
    pipeline.poll("x")  # the search turn finds it
    (draft,) = pipeline.store.drafts("awaiting")
    mention = pipeline.store.mention("x", tid)
    assert not pipeline.connectors["x"].can_reply(mention)
    assert draft.route == "manual" and draft.case_id
    decided = decisions.approve(pipeline.store, draft.id, actor="alice", now=clock.now())
    assert decided.state == "manual"
    drain(pipeline)
    assert fake.calls("POST", "^/2/tweets$") == []
    (dm,) = fake.posted()
    assert dm["kind"] == "message" and "Mo" in dm["text"]
    assert pipeline.store.case(draft.case_id).contacted_at is not None
    drain(pipeline)  # the case is contacted: nothing more is queued
    assert len(fake.posted()) == 1


def test_reply_refused_before_any_request_when_not_summoned(fake, x, clock):
    tid = post(fake, clock, "ned", "acme app crashed again")
    (mention,) = x.fetch(x.fetch(None).cursor).mentions
    with pytest.raises(ReplyNotAllowed, match="summoned"):
        x.reply(mention, "Sorry to hear that", idempotency_key="k")
    assert fake.calls("POST") == [] and mention.id == tid
    # and the fake refuses like X if such a reply got through
    x.can_reply = lambda m: True
    with pytest.raises(ReplyNotAllowed, match="not been mentioned"):
        x.reply(mention, "Sorry to hear that", idempotency_key="k")


def test_closed_dms_settle_as_a_task_for_a_human(fake, pipeline, clock):
    tid = post(fake, clock, "olga", "@Acme my Hub arrived broken, I want a replacement")
    fake.closed_dms.add(fake.tweets[tid]["author_id"])
    pipeline.poll("x")
    (draft,) = pipeline.store.drafts("awaiting")
    decisions.approve(pipeline.store, draft.id, actor="alice", now=clock.now())
    drain(pipeline)
    states = {item.kind: item.state for item in pipeline.store.outbox()}
    assert states == {"reply": "sent", "message": "manual"}


def test_a_teammates_reply_by_hand_is_not_answered_again(fake, pipeline, clock):
    tid = post(fake, clock, "zoe", "@Acme my Hub arrived broken and I want a refund", name="Zoe Q")
    pipeline.poll("x")
    (draft,) = pipeline.store.drafts("awaiting")
    fake.add_user("AcmeHelp", "Acme Help")
    pipeline.connectors["x"].settings.own_accounts.append("AcmeHelp")
    theirs = post(fake, clock, "AcmeHelp", "@zoe sorry Zoe, DM us", minutes_ago=0, reply_to=tid)
    decisions.approve(pipeline.store, draft.id, actor="alice", now=clock.now())
    drain(pipeline)
    assert pipeline.store.draft(draft.id).state == "team_replied"
    assert fake.calls("POST", "^/2/tweets$") == []
    query = fake.calls("GET", "/search/recent$")[-1].arg("query")
    assert query == f"conversation_id:{tid} (from:acme OR from:acmehelp)"
    assert pipeline.store.outbox()[0].posted_id == f"AcmeHelp:{theirs}"


def test_reconcile_finds_our_reply_and_dm(fake, x, clock):
    post(fake, clock, "pat", "@Acme how long is the warranty?")
    (mention,) = x.fetch(None).mentions
    assert x.find_reply(mention) is None and x.find_message(mention, "Hi Pat") is None
    posted = x.reply(mention, "Two years, Pat.", idempotency_key="k")
    sent = x.message(mention, "Hi Pat", idempotency_key="m")
    assert x.find_reply(mention) == posted
    assert x.find_message(mention, "Hi Pat") == sent
    assert {"reconcile", "reconcile_message", "reply", "message"} <= x.capabilities
    assert fake.calls("GET", "/tweets$")[-1].arg("since_id") == mention.id


def test_a_wrong_user_secret_is_refused_by_the_signature(fake, x, clock, monkeypatch):
    monkeypatch.setenv("X_ACCESS_TOKEN_SECRET", "not-the-secret")
    with pytest.raises(FatalError, match="401"):
        x.check()
    post(fake, clock, "yan", "@Acme hello")
    (mention,) = x.fetch(None).mentions  # reads use the app's bearer token
    with pytest.raises(FatalError):
        x.reply(mention, "Hi Yan", idempotency_key="k")
    assert fake.posted() == []


def test_read_only_without_user_keys(fake, clock, monkeypatch):
    keys = dict.fromkeys(XSettings.USER_KEYS)
    x = connector_for(fake, clock, monkeypatch, **keys)
    post(fake, clock, "quinn", "@Acme hello")
    (mention,) = x.fetch(None).mentions
    assert not x.can_reply(mention) and not x.rules.can_message
    assert "no user keys" in x.check()


def test_check_logs_in_with_user_context(x, fake, caplog):
    caplog.set_level(logging.DEBUG)
    assert x.check() == f"logged in as @Acme (id {BRAND_ID})"
    x.fetch(None)
    assert BEARER not in caplog.text and ACCESS_TOKEN not in caplog.text
    assert fake.calls("GET", "/users/me$")[0].header("authorization").startswith("OAuth ")


# -- rate limits and faults ---------------------------------------------------------------------------------------


def test_429_waits_for_the_announced_reset_through_the_clock(fake, pipeline, clock):
    post(fake, clock, "rae", "@Acme hi")
    reset = int(clock.now().timestamp()) + 300
    fake.inject(
        Fault(429, {"title": "Too Many Requests", "status": 429}, headers={"x-rate-limit-reset": str(reset)})
    )
    result = pipeline.poll("x")
    assert result.status == "error" and "429" in result.error and result.calls == 1
    assert pipeline.not_before["x"] == clock.now() + timedelta(seconds=300)
    clock.advance(seconds=120)
    assert pipeline.poll("x").status == "backoff"
    assert len(fake.requests) == 1
    clock.advance(seconds=181)
    assert pipeline.poll("x").new == 1
    assert clock.slept == []


def test_a_spent_window_is_not_asked_until_it_resets(fake, x, clock):
    fake.limits["GET /2/users/:id/mentions"] = 1
    fake.limits["GET /2/tweets/search/recent"] = 1
    cursor = x.fetch(None).cursor  # mentions: remaining 0
    cursor = x.fetch(cursor).cursor  # search: remaining 0
    assert x.session.limits["GET /2/users/:id/mentions"][0] == 0
    with pytest.raises(TransientError) as caught:
        x.fetch(cursor)
    assert len(fake.requests) == 2 and 0 < caught.value.retry_after <= 900
    clock.advance(seconds=caught.value.retry_after + 1)
    x.fetch(cursor)
    assert len(fake.requests) == 3


def test_faults_are_survived_and_other_connectors_keep_running(tmp_path, fake, clock, monkeypatch):
    hn = FakeHackerNews()
    hn.start()
    try:
        connectors = {
            "x": connector_for(fake, clock, monkeypatch),
            "hackernews": connector_for(hn, clock, monkeypatch),
        }
        pipe = Pipeline(
            config_for(tmp_path, fake, hn),
            Store.open(tmp_path / "bot.db"),
            clock=clock,
            connectors=connectors,
        )
        post(fake, clock, "sol", "@Acme my order is late")
        faults = [
            Fault(503, {"title": "Service Unavailable", "status": 503}),
            Fault(disconnect=True),
            Fault(200, raw=b'{"data": [{"id": '),
        ]
        for fault in faults:
            fake.inject(fault)
            results = pipe.run_cycle()
            assert [(r.connector, r.status) for r in results] == [("x", "error"), ("hackernews", "ok")]
            clock.advance(hours=2)
        assert pipe.poll("x").new == 1
        errors = [r.error for r in pipe.store.runs("x") if r.status == "error"]
        assert len(errors) == 3 and all(e.startswith("x: ") for e in errors)
        assert "malformed JSON" in errors[0] and "HTTP 503" in errors[2]
        pipe.close()
    finally:
        hn.stop()


def test_a_timeout_is_transient(fake, clock, monkeypatch):
    x = connector_for(fake, clock, monkeypatch, timeout_seconds=0.05)
    fake.delay = 0.5
    with pytest.raises(TransientError, match="Timeout"):
        x.fetch(None)
    fake.delay = 0.0
    assert x.fetch(None).mentions == []


def test_a_failing_source_does_not_starve_the_other(fake, x, clock):
    tid = post(fake, clock, "wes", "@Acme my order?")
    fake.inject(Fault(503, {"title": "Service Unavailable", "status": 503}, path="/search/recent", times=99))
    cursor = x.fetch(None).cursor
    with pytest.raises(TransientError, match="503"):
        x.fetch(cursor)
    clock.advance(minutes=5)
    later = post(fake, clock, "xia", "@Acme and mine?", minutes_ago=0)
    assert [m.id for m in x.fetch(cursor).mentions] == [later] and tid != later


def test_a_malformed_post_is_quarantined_not_the_page(fake, x, clock):
    good = {
        "id": "2122253086356406272",
        "text": "@Acme hi",
        "author_id": "42",
        "created_at": "2026-11-16T08:59:00.000Z",
    }
    bad = {"id": "2122253086356406273", "text": "no author"}
    body = {
        "data": [bad, good],
        "includes": {"users": [{"id": "42", "name": "Al", "username": "al"}]},
        "meta": {"newest_id": bad["id"], "oldest_id": good["id"], "result_count": 2},
    }
    fake.inject(Fault(200, body, path="/mentions"))
    result = x.fetch(None)
    assert [m.id for m in result.mentions] == [good["id"]]
    (aside,) = result.quarantined
    assert (aside.item_id, aside.platform) == (bad["id"], "x") and "author_id" in aside.reason
    assert bad["id"] in result.cursor  # kept aside, so the cursor may move past it


def test_refused_credential_pauses_x_and_is_reported_once(fake, pipeline, clock):
    events = []
    pipeline.on_event = lambda kind, **data: events.append(kind)
    fake.inject(Fault(401, UNAUTHORIZED, times=10))
    assert pipeline.poll("x").status == "fatal"
    for _ in range(3):
        clock.advance(minutes=10)
        assert pipeline.poll("x").status == "paused"
    assert events.count("connector_paused") == 1
    assert len(fake.requests) == 1
    assert [r.status for r in pipeline.store.runs("x")] == ["fatal"]
    with pytest.raises(FatalError):
        pipeline.connectors["x"].fetch(None)


# -- accounting ---------------------------------------------------------------------------------------------------


def test_calls_are_recorded_per_poll_and_summed_for_status_and_report(fake, pipeline, clock):
    for i in range(12):
        post(fake, clock, f"u{i}", f"@Acme question number {i}?")
    pipeline.connectors["x"].settings.page_size = 10
    pipeline.poll("x")  # two pages
    pipeline.poll("x")  # search: two pages
    pipeline.poll("x")  # quiet
    assert [r.calls for r in reversed(pipeline.store.runs("x"))] == [2, 2, 1]
    assert pipeline.store.calls_since(clock.now() - timedelta(days=7)) == {"x": 5}
    week_start = (clock.now() - timedelta(days=1)).isoformat()
    (row,) = pipeline.store.report_runs(week_start, (clock.now() + timedelta(days=1)).isoformat())
    assert row.calls == 5
    week = report.week_of(clock.now().date(), ZoneInfo("Europe/Amsterdam"))
    built = report.build(pipeline.store, pipeline.config, week=week, now=clock.now())
    (health,) = [rows for heading, _, rows, _ in report.sections(built) if heading == "Connector health"]
    assert health[0][7] == "quota used (API calls)" and health[1][7] == "5"


def test_settings_problems_are_named():
    bad = XSettings(enabled=True, rotation=["timeline"], page_size=5, consumer_key=None)
    problems = bad.problems("connectors.x")
    assert any(p.startswith("connectors.x.user_id") for p in problems)
    assert any(p.startswith("connectors.x.bearer_token") for p in problems)
    assert any(p.startswith("connectors.x.rotation") for p in problems)
    assert any(p.startswith("connectors.x.page_size") for p in problems)
    from connectors.base import Secret

    half = XSettings(user_id="1", username="a", bearer_token=Secret(env="B"), consumer_key=Secret(env="C"))
    assert any("missing consumer_secret" in p for p in half.problems("connectors.x"))


def test_status_shows_each_connectors_calls_this_week(tmp_path, fake, pipeline, clock, monkeypatch):
    from click.testing import CliRunner

    from bot.cli import cli

    post(fake, clock, "vic", "@Acme hi there")
    for _ in range(3):
        pipeline.poll("x")
    config = tmp_path / "config.toml"
    config.write_text(
        '[brand]\nname = "Acme"\ncontact_email = "care@acme.example"\ntimezone = "Europe/Amsterdam"\n'
        f'[store]\npath = "{tmp_path / "bot.db"}"\n'
        '[connectors.x]\nenabled = false\nuser_id = "783214"\nusername = "Acme"\n'
    )
    monkeypatch.setenv("COLUMNS", "250")
    result = CliRunner().invoke(cli, ["-c", str(config), "status"], obj=clock)  # "7 days" by the fake clock
    assert result.exit_code == 0, result.output
    assert "API calls (7 days)" in result.output
    (row,) = [line for line in result.output.splitlines() if line.strip("│ ").startswith("x ")]
    assert row.rstrip(" │").endswith("3")


def test_reddit_and_google_play_count_their_requests_too(fake_reddit, reddit_env, clock, monkeypatch):
    from connectors.fakes.googleplay import FakeGooglePlay

    reddit = connector_for(fake_reddit, clock, monkeypatch)
    reddit.fetch(None)
    # a request lost on a dropped keep-alive connection is counted (it was sent) and retried by prawcore
    assert 0 < len(fake_reddit.requests) <= reddit.calls <= len(fake_reddit.requests) + 1
    with FakeGooglePlay() as play:
        googleplay = connector_for(play, clock, monkeypatch)
        googleplay.fetch(None)
        # the key's certificate (its expiry, once a day), the token exchange and one page
        assert googleplay.calls == len(play.requests) == 3


def test_a_demo_authors_followers_reach_the_mention(fake, x):
    # The demo's samples carry their authors' followers, so the report's widest reach is not all 0s.
    fake.publish(
        {
            "author": "gadgetdaily",
            "name": "Gadget Daily",
            "followers": 184300,
            "text": "Hub 3 review",
            "summoned": True,
        }
    )
    fake.publish({"author": "pete_r", "text": "is the Hub 3 worth it?", "summoned": True})
    reach = {m.author.handle: m.author.reach for m in x.fetch(None).mentions}
    assert reach == {"gadgetdaily": 184300, "pete_r": 0}
