"""Reddit through the real praw against the loopback Reddit: sources in turns, paging, restarts, rate limits, faults."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from bot import decisions
from bot.errors import FatalError, ReplyNotAllowed, TransientError
from bot.pipeline import Pipeline
from bot.store import Store
from connectors.fakes.hackernews import FakeHackerNews
from connectors.fakes.reddit import FakeReddit
from connectors.fakes.server import Fault
from connectors.reddit import ERRORS
from tests.review_helpers import config_for, connector_for


@pytest.fixture
def fake():
    with FakeReddit() as fake:
        yield fake


@pytest.fixture
def reddit(fake, clock, monkeypatch):
    return connector_for(fake, clock, monkeypatch)


def pipeline_for(tmp_path, clock, connectors, *fakes):
    return Pipeline(
        config_for(tmp_path, *fakes), Store.open(tmp_path / "bot.db"), clock=clock, connectors=connectors
    )


@pytest.fixture
def pipeline(tmp_path, fake, reddit, clock):
    pipe = pipeline_for(tmp_path, clock, {"reddit": reddit}, fake)
    yield pipe
    pipe.close()


def ago(seconds):
    return time.time() - seconds


def test_first_poll_reads_mentions_keyword_posts_and_keyword_comments(fake, reddit):
    mention = fake.add_comment(
        author="marta", body="u/acme_support my Acme order is late", created_utc=ago(60)
    )
    post = fake.add_submission(
        author="bo", title="Acme hub keeps dropping wifi", selftext="Anyone else?", created_utc=ago(50)
    )
    comment = fake.add_comment(author="cy", body="My ACME kettle leaks", parent=post, created_utc=ago(40))
    fake.add_comment(author="dee", body="Mine works fine", parent=post, created_utc=ago(30))  # no keyword
    fake.add_comment(author="eve", body="thanks!", parent=mention, created_utc=ago(20))  # a reply in a thread
    fake.customer_message(author="old", body="hello from before the bot", created_utc=ago(10))

    result = reddit.fetch(None)
    assert [m.id for m in result.mentions] == [mention, post, comment]  # the mention is read once, not twice
    by_id = {m.id: m for m in result.mentions}
    assert reddit.fetch_private(None).mentions == []  # messages older than the bot belong to no case
    p = by_id[post]
    assert (p.kind, p.text, p.thread_id) == ("post", "Acme hub keeps dropping wifi\n\nAnyone else?", post)
    assert p.url.startswith("https://www.reddit.com/r/acme/comments/") and p.raw["title"].startswith("Acme")
    c = by_id[comment]
    assert (c.kind, c.author.handle, c.parent_id, c.thread_id) == ("comment", "cy", post, post)
    paths = sorted(r.path for r in fake.requests if r.method == "GET")
    assert paths == ["/message/inbox/", "/r/acme/comments/", "/r/acme/search/"]
    assert fake.calls("GET", "/r/acme/search/")[0].arg("q") == "acme"


def test_sources_take_turns_and_three_quiet_polls_make_one_request_each(fake, pipeline, clock):
    pipeline.poll("reddit")
    before = len(fake.requests)
    for _ in range(3):
        clock.advance(minutes=2)
        result = pipeline.poll("reddit")
        assert (result.status, result.fetched, result.new, result.calls) == ("ok", 0, 0, 1)
    assert [r.path for r in fake.requests[before:]] == [
        "/message/inbox/",
        "/r/acme/search/",
        "/r/acme/comments/",
    ]
    assert pipeline.store.drafts() == [] and pipeline.store.runs("reddit", limit=1)[0].calls == 1


def test_a_busy_backlog_is_paged_by_after_until_what_was_seen(fake, reddit):
    fake.max_page = 10
    old = [fake.add_comment(author=f"o{i}", body="acme is fine", created_utc=ago(600)) for i in range(5)]
    cursor = reddit.fetch(None).cursor
    cursor = reddit.fetch(cursor).cursor  # the inbox's turn
    new = [
        fake.add_comment(author=f"u{i}", body=f"acme question {i}?", created_utc=ago(100 - i))
        for i in range(25)
    ]
    before = len(fake.requests)
    result = reddit.fetch(cursor)  # the posts' turn: nothing
    assert result.mentions == []
    result = reddit.fetch(result.cursor)  # the comments' turn
    assert sorted(m.id for m in result.mentions) == sorted(new) and not set(old) & {
        m.id for m in result.mentions
    }
    pages = fake.requests[before + 1 :]
    assert [bool(r.arg("after")) for r in pages] == [False, True, True]  # three pages of ten


def test_the_cursor_survives_a_restart(tmp_path, fake, clock, monkeypatch):
    first = pipeline_for(tmp_path, clock, {"reddit": connector_for(fake, clock, monkeypatch)}, fake)
    fake.add_comment(author="bo", body="u/acme_support where is my refund?", created_utc=ago(30))
    assert first.poll("reddit").new == 1
    first.close()
    again = pipeline_for(tmp_path, clock, {"reddit": connector_for(fake, clock, monkeypatch)}, fake)
    result = again.poll("reddit")
    assert (result.status, result.fetched, result.new) == ("ok", 0, 0)
    fake.add_comment(author="cy", body="u/acme_support and my parcel?", created_utc=ago(1))
    for _ in range(3):
        clock.advance(minutes=2)
        again.poll("reddit")
    assert [m.author.handle for m in again.store.mentions() if m.platform == "reddit"] == ["bo", "cy"]
    again.close()


def test_a_post_found_by_search_is_answered_and_the_private_answer_joins_the_case(fake, pipeline, clock):
    post = fake.add_submission(
        author="nina", title="Acme charged me twice", selftext="I want a refund now", created_utc=ago(30)
    )
    pipeline.poll("reddit")
    draft = pipeline.store.draft_for("reddit", post)
    assert draft.intent == "complaint" and draft.case_id
    decisions.approve(pipeline.store, draft.id, actor="alice", now=clock.now())
    while pipeline.post():
        pass
    (reply,) = fake.replies_to(post, author="acme_support")
    assert reply["body"] == draft.text
    assert [m["to"] for m in fake.messages] == ["nina"]

    fake.customer_message(author="nina", body="Order 7781, charged on the 3rd", created_utc=ago(5))
    fake.customer_message(author="acme_support", body="our own note", created_utc=ago(4))
    for _ in pipeline.connectors["reddit"].sources():
        clock.advance(minutes=2)
        pipeline.poll("reddit")
    notes = [e.note for e in pipeline.store.case_events(draft.case_id) if e.kind == "customer_reply"]
    assert notes == ["Order 7781, charged on the 3rd"]


def test_a_nearly_spent_budget_waits_for_the_reset_through_the_clock(fake, pipeline, clock):
    pipeline.poll("reddit")
    fake.ratelimit_remaining, fake.ratelimit_used, fake.ratelimit_reset = 1, 599, 240
    clock.advance(minutes=2)
    assert pipeline.poll("reddit").status == "ok"  # the answer says 1 request is left for 240 s
    before = len(fake.requests)
    result = pipeline.poll("reddit")
    assert result.status == "error" and "rate budget spent" in result.error
    assert len(fake.requests) == before  # not even asked
    assert (pipeline.not_before["reddit"] - clock.now()).total_seconds() == pytest.approx(240, abs=1)
    fake.ratelimit_remaining, fake.ratelimit_used = 600, 0
    clock.advance(seconds=120)
    assert pipeline.poll("reddit").status == "backoff"
    clock.advance(seconds=121)
    assert pipeline.poll("reddit").status == "ok"
    assert clock.slept == []


def test_a_429_waits_for_the_announced_reset(fake, reddit, clock):
    cursor = reddit.fetch(None).cursor
    fake.inject(
        Fault(429, {"message": "Too Many Requests", "error": 429}, headers={"x-ratelimit-reset": "90"})
    )
    started = time.monotonic()
    with pytest.raises(TransientError, match="429") as caught:
        reddit.fetch(cursor)
    assert caught.value.retry_after == pytest.approx(90, abs=1)
    assert time.monotonic() - started < 2 and clock.slept == []


def test_faults_are_survived_and_other_connectors_keep_running(tmp_path, fake, clock, monkeypatch):
    with FakeHackerNews() as hn:
        connectors = {
            "reddit": connector_for(fake, clock, monkeypatch),
            "hackernews": connector_for(hn, clock, monkeypatch),
        }
        pipe = pipeline_for(tmp_path, clock, connectors, fake, hn)
        pipe.run_cycle()
        fake.add_comment(author="sol", body="u/acme_support my order is late", created_utc=ago(5))
        for fault in (
            Fault(502, {"message": "Bad Gateway"}, times=2),  # prawcore asks once more at once
            Fault(disconnect=True, times=2),
            Fault(200, raw=b'{"kind": "Listing", "data": {'),
        ):
            fake.inject(fault)
            results = pipe.run_cycle()
            assert [(r.connector, r.status) for r in results] == [("reddit", "error"), ("hackernews", "ok")]
            clock.advance(hours=2)
        for _ in range(3):
            pipe.run_cycle()
        assert [m.author.handle for m in pipe.store.mentions() if m.platform == "reddit"] == ["sol"]
        errors = [r.error for r in pipe.store.runs("reddit") if r.status == "error"]
        assert len(errors) == 3 and all(e.startswith("reddit: ") for e in errors)
        assert "malformed" in errors[0]
        pipe.close()


def test_a_platform_too_slow_to_answer_is_a_transient_error(fake, clock, monkeypatch):
    reddit = connector_for(fake, clock, monkeypatch, timeout_seconds=0.2)
    reddit.check()
    fake.delay = 0.5
    with pytest.raises(TransientError, match=r"^reddit: RequestException"):
        reddit.fetch(None)
    fake.delay = 0.0
    assert reddit.fetch(None).cursor


def test_an_expired_access_token_is_renewed_without_a_fuss(fake, reddit):
    cursor = reddit.fetch(None).cursor
    tokens = len(fake.calls("POST", "access_token"))
    fake.inject(Fault(401, {"message": "Unauthorized", "error": 401}, path="^/message/"))
    reddit.fetch(cursor)  # the inbox's turn: 401, a new token from the password, the same request again
    assert len(fake.calls("POST", "access_token")) == tokens + 1
    assert len(fake.calls("GET", "^/message/inbox")) == 3


def test_a_revoked_login_pauses_reddit_and_is_reported_once(fake, pipeline, clock):
    pipeline.poll("reddit")
    events = []
    pipeline.on_event = lambda kind, **data: events.append(kind)
    fake.revoked = True
    fake.inject(Fault(401, {"message": "Unauthorized", "error": 401}, path="^/message/"))
    assert pipeline.poll("reddit").status == "fatal"
    before = len(fake.requests)
    for _ in range(3):
        clock.advance(minutes=10)
        assert pipeline.poll("reddit").status == "paused"
    assert events.count("connector_paused") == 1 and len(fake.requests) == before
    with pytest.raises(FatalError, match="login refused"):
        pipeline.connectors["reddit"].fetch(None)


def test_a_post_is_never_repeated_by_praw(fake, reddit):
    comment = fake.add_comment(author="ty", body="u/acme_support order missing", created_utc=ago(5))
    (mention,) = [m for m in reddit.fetch(None).mentions if m.id == comment]
    fake.inject(Fault(disconnect=True, after=True, path="^/api/comment/$"))
    with pytest.raises(TransientError):
        reddit.reply(mention, "Thank you, we're on it.", idempotency_key="draft-1")
    assert len(fake.calls("POST", "^/api/comment/$")) == 1
    (posted,) = fake.replies_to(comment, author="acme_support")
    assert reddit.find_reply(mention) == posted["name"]


def test_doing_that_too_much_waits_as_long_as_reddit_says(fake, reddit, clock):
    comment = fake.add_comment(author="ty", body="u/acme_support order missing", created_utc=ago(5))
    (mention,) = [m for m in reddit.fetch(None).mentions if m.id == comment]
    fake.posting_limited = (
        "Looks like you've been doing that a lot. Take a break for 7 minutes before trying again."
    )
    with pytest.raises(TransientError, match="RATELIMIT") as caught:
        reddit.reply(mention, "Thank you, we're on it.", idempotency_key="draft-1")
    assert caught.value.retry_after == 420 and clock.slept == []
    assert fake.replies_to(comment) == []


def test_settings_problems_name_the_key():
    from connectors.reddit import RedditSettings

    bad = RedditSettings(subreddits=["acme"], page_size=500, max_pages=0, rotation=["mentions", "everything"])
    problems = bad.problems("connectors.reddit")
    for key in ("page_size", "max_pages", "rotation"):
        assert any(p.startswith(f"connectors.reddit.{key}:") for p in problems), key


def test_locked_and_edited_items_are_stored_marked_and_a_locked_one_drafted_for_a_human(fake, pipeline):
    locked = fake.add_submission(
        author="ana", title="Acme refund refused, I want my money back", created_utc=ago(90)
    )
    # a keyword comment, read from the subreddit's comments (inbox items carry no ``edited``, as on Reddit)
    edited = fake.add_comment(author="cy", body="Where is my Acme order", created_utc=ago(70))
    fake.moderate(locked, "lock")
    fake.edit(edited, "Where is my Acme order? It is two weeks late now")
    pipeline.poll("reddit")
    store = pipeline.store
    assert store.mention("reddit", locked).unanswerable == "locked"
    m = store.mention("reddit", edited)
    assert (m.edited, m.unanswerable, m.text) == (
        True,
        None,
        "Where is my Acme order? It is two weeks late now",
    )
    draft = store.draft_for("reddit", locked)
    assert draft.route == "manual" and any("will not take a reply here: locked" in p for p in draft.problems)
    assert store.draft_for("reddit", edited).route == "reply"


def test_a_mention_in_a_removed_comment_is_unanswerable(fake, reddit):
    comment = fake.add_comment(author="dee", body="u/acme_support my parcel is lost", created_utc=ago(30))
    fake.moderate(comment, "remove")
    (mention,) = [m for m in reddit.fetch(None).mentions if m.id == comment]
    assert (mention.unanswerable, mention.text) == ("removed by the moderators", "[removed]")
    assert not reddit.can_reply(mention)


def test_a_refused_post_ends_that_post_only_and_a_refused_read_pauses(fake, reddit):
    post = fake.add_submission(author="ty", title="Acme order missing", created_utc=ago(5))
    (mention,) = [m for m in reddit.fetch(None).mentions if m.id == post]
    gone = replace(mention, id="t3_zzzzzz")  # Reddit answers INVALID_THING in json.errors
    with pytest.raises(ReplyNotAllowed, match="INVALID_THING"):
        reddit.reply(gone, "Thank you", idempotency_key="k1")
    fake.inject(Fault(403, {"message": "Forbidden", "error": 403}, path="^/api/comment/$"))
    with pytest.raises(
        ReplyNotAllowed, match="403"
    ):  # e.g. banned from the subreddit: not the whole connector
        reddit.reply(mention, "Thank you", idempotency_key="k2")
    fake.inject(Fault(403, {"message": "Forbidden", "error": 403}, path="^/message/"))
    with pytest.raises(FatalError, match="403"):
        reddit.fetch(None)
    fake.inject(Fault(500, {"message": "Internal Server Error", "error": 500}, path="^/message/", times=2))
    with pytest.raises(TransientError, match="ServerError"):
        reddit.fetch(None)
    assert {cls.__name__ for cls, _, _ in ERRORS.values()} == {"TransientError", "FatalError"}
