"""Facebook and Instagram on the loopback Graph API: what is read, public and private replies with Meta's windows,
the usage headers and throttling codes, refused tokens, and the Page token's expiry."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import FakeClock
from bot.errors import FatalError, ReplyNotAllowed
from bot.models import CredentialExpiry
from bot.store import Store
from connectors.base import Secret
from connectors.fakes.meta import IG_USER_ID, PAGE_ID, TOKEN_ENV, FakeFacebook, FakeInstagram
from connectors.fakes.server import Fault
from connectors.meta import FacebookConnector, InstagramConnector
from tests.review_helpers import fetch_refused

START = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    return FakeClock(START)


@pytest.fixture
def fb(clock):
    with FakeFacebook(clock=clock, page_size=2) as fake:
        yield fake


@pytest.fixture
def ig(clock):
    with FakeInstagram(clock=clock) as fake:
        yield fake


def connector(fake, clock, tmp_path, monkeypatch, **overrides):
    for key, value in fake.environment().items():
        monkeypatch.setenv(key, value)
    table = {**fake.connector_settings(), **overrides}
    table = {k: Secret(env=v["env"]) if isinstance(v, dict) else v for k, v in table.items()}
    cls = FacebookConnector if fake.platform == "facebook" else InstagramConnector
    # What it sent privately is kept in the store beside it, as the daemon builds it.
    return cls(cls.Settings(**table), clock=clock, state_dir=tmp_path, state=Store.open(tmp_path / "bot.db"))


def ago(clock, **delta):
    return clock.now() - timedelta(**delta)


def test_facebook_reads_visitor_posts_tags_and_comments_and_replies_in_the_thread(
    fb, clock, tmp_path, monkeypatch
):
    bot = connector(fb, clock, tmp_path, monkeypatch)
    ours = fb.page_post("Meet the new Acme Hub!", at=ago(clock, hours=3))
    visitor = fb.page_post("Where is my order #123?", author="Jane Doe", at=ago(clock, hours=2))
    top = fb.comment(ours, "Bob Smith", "Mine stopped pairing", at=ago(clock, minutes=30))
    answer = fb.comment(ours, "Ann Lee", "Same here", at=ago(clock, minutes=20), parent=top)
    tagged = fb.tag_post("Carl Jones", "Thanks @Acme for the quick fix", at=ago(clock, minutes=10))
    result = bot.fetch(None)
    assert [m.id for m in result.mentions] == [visitor, top, answer, tagged]  # the Page's own post is not one
    by_id = {m.id: m for m in result.mentions}
    assert by_id[visitor].kind == "post" and by_id[visitor].author.handle == "Jane Doe"
    assert by_id[top].kind == "comment" and by_id[answer].kind == "reply" and by_id[answer].parent_id == top
    assert "comment_id=" in by_id[top].url
    # a reply to a reply goes under the top comment (Facebook threads are two levels deep)
    posted = bot.reply(by_id[answer], "Sorry Ann! Write to care@acme.example", idempotency_key="a")
    bot.reply(by_id[visitor], "Sorry Jane, we are on it", idempotency_key="b")
    assert [(p["in_reply_to"], p["kind"]) for p in fb.posted()] == [(top, "reply"), (visitor, "reply")]
    with pytest.raises(ReplyNotAllowed):
        bot.reply(by_id[top], "x" * 8001, idempotency_key="c")
    # an uncertain post is looked up before it is retried
    assert bot.find_reply(by_id[answer]) == posted and bot.find_reply(by_id[visitor]) is not None
    assert len(fb.posted()) == 2
    # our replies come back as the Page's own
    again = bot.fetch(result.cursor)
    assert posted in {m.id for m in again.mentions} and all(bot.is_own(m.author) for m in again.mentions)


def test_pages_and_the_cursor_after_a_restart_and_quiet_polls(fb, clock, tmp_path, monkeypatch):
    post = fb.page_post("Acme Hub 2", at=ago(clock, hours=5))
    ids = [fb.comment(post, f"Fan {i}", f"comment {i}", at=ago(clock, hours=4 - i * 0.5)) for i in range(5)]
    bot = connector(fb, clock, tmp_path, monkeypatch)
    first = bot.fetch(None)
    assert [m.id for m in first.mentions] == ids
    assert len(fb.calls("GET", f"/{post}/comments$")) == 3  # 2 + 2 + 1, by paging.next
    clock.advance(minutes=5)
    new = fb.comment(post, "Late", "Refund please", at=clock.now())
    restarted = connector(fb, clock, tmp_path, monkeypatch)
    second = restarted.fetch(first.cursor)
    assert [m.id for m in second.mentions] == [new]
    quiet = restarted.fetch(second.cursor)
    assert quiet.mentions == []
    # the next page's URL carries the token: what names a request (in errors and logs) never does
    bot = connector(fb, clock, tmp_path, monkeypatch)
    named, send = [], bot.http.request
    bot.http.request = lambda method, path, **kw: named.append(path) or send(method, path, **kw)
    bot.fetch(None)
    assert len(named) > 3 and not [
        p for p in named if "access_token" in p or fb.environment()[TOKEN_ENV] in p
    ]
    assert all(r.arg("access_token") == fb.environment()[TOKEN_ENV] for r in fb.requests)


def test_the_private_reply_is_sent_once_within_7_days_then_only_in_the_messaging_windows(
    fb, clock, tmp_path, monkeypatch
):
    bot = connector(fb, clock, tmp_path, monkeypatch)
    post = fb.page_post("Acme Hub", at=ago(clock, days=10))
    old = fb.comment(post, "Old Timer", "Broken since last week", at=ago(clock, days=8))
    fresh = fb.comment(post, "Bob Smith", "Mine stopped pairing", at=ago(clock, hours=1))
    mentions = {
        m.id: m
        for m in connector(fb, clock, tmp_path, monkeypatch, backfill_hours=24 * 30).fetch(None).mentions
    }
    sends = lambda: fb.calls("POST", "/messages$")  # noqa: E731
    # outside the 7 days: not attempted, and the reason says what to do
    with pytest.raises(ReplyNotAllowed, match=r"within 7 days.*8 days old.*by hand"):
        bot.message(mentions[old], "Hi", idempotency_key="o")
    assert sends() == []
    bot.message(mentions[fresh], "Hi Bob, could you send us your order number?", idempotency_key="1")
    assert fb.calls("POST", "/messages$")[0].json["recipient"] == {"comment_id": fresh}
    # once per comment: the next message waits for the customer's answer
    with pytest.raises(ReplyNotAllowed, match="until the customer answers"):
        bot.message(mentions[fresh], "Any news?", idempotency_key="2")
    assert len(sends()) == 1
    bob = fb.comments[fresh]["from"]["id"]
    fb.customer_writes(bob, "Bob Smith", "Order 123, thanks", at=clock.now())
    (dm,) = bot.fetch_private(None).mentions
    assert dm.kind == "dm" and dm.author.handle == "Bob Smith" and dm.text == "Order 123, thanks"
    clock.advance(hours=2)
    bot.message(mentions[fresh], "A new one is on its way", idempotency_key="3")
    assert sends()[-1].json["messaging_type"] == "RESPONSE"
    clock.advance(days=3)  # past the 24 hours: the human agent tag, up to 7 days
    bot.message(mentions[fresh], "Did it arrive?", idempotency_key="4")
    assert (sends()[-1].json["messaging_type"], sends()[-1].json["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")
    clock.advance(days=5)
    with pytest.raises(ReplyNotAllowed, match=r"window is closed.*8 days ago"):
        bot.message(mentions[fresh], "Hello?", idempotency_key="5")
    assert len(sends()) == 3
    # a restart remembers what was sent and when the customer last wrote
    restarted = connector(fb, clock, tmp_path, monkeypatch)
    with pytest.raises(ReplyNotAllowed, match="window is closed"):
        restarted.message(mentions[fresh], "Hello?", idempotency_key="6")
    assert not (tmp_path / "facebook-private.json").exists()  # in the store, not in a file of its own


def test_usage_headers_stop_calls_before_meta_throttles(fb, clock, tmp_path, monkeypatch):
    bot = connector(fb, clock, tmp_path, monkeypatch)
    fb.page_post("Where is my order?", author="Jane Doe", at=ago(clock, minutes=5))
    bot.fetch(None)
    fb.usage = {"call_count": 93, "total_cputime": 12, "total_time": 20}
    # the feed answered, and said 93% of the app's budget is used: the poll's next call is not sent
    assert fetch_refused(bot).retry_after == 600
    calls = len(fb.requests)
    assert fetch_refused(bot).retry_after == 600 and len(fb.requests) == calls
    clock.advance(seconds=601)
    fb.usage = {"call_count": 10, "total_cputime": 1, "total_time": 1}
    fb.buc = [
        {
            "type": "pages",
            "call_count": 96,
            "total_cputime": 4,
            "total_time": 5,
            "estimated_time_to_regain_access": 7,
        }
    ]
    assert fetch_refused(bot).retry_after == 7 * 60  # what Meta estimates, in minutes
    calls = len(fb.requests)
    fetch_refused(bot)
    assert len(fb.requests) == calls


@pytest.mark.parametrize("code", [4, 17, 32, 613, 80001])
def test_throttling_codes_pause_without_waiting(fb, clock, tmp_path, monkeypatch, code):
    bot = connector(fb, clock, tmp_path, monkeypatch)
    body = {
        "error": {"message": "(#4) Application request limit reached", "type": "OAuthException", "code": code}
    }
    fb.inject(Fault(403 if code == 4 else 400, body, path="/feed"))
    assert fetch_refused(bot).retry_after == 600
    calls = len(fb.requests)
    fetch_refused(bot)
    assert len(fb.requests) == calls


def test_a_429_waits_as_long_as_it_says(fb, clock, tmp_path, monkeypatch):
    bot = connector(fb, clock, tmp_path, monkeypatch)
    fb.inject(
        Fault(
            429,
            {"error": {"message": "Too many calls", "code": 0}},
            headers={"Retry-After": "42"},
            path="/feed",
        )
    )
    assert fetch_refused(bot).retry_after == 42


def test_server_errors_garbage_and_a_refused_token(fb, clock, tmp_path, monkeypatch):
    bot = connector(fb, clock, tmp_path, monkeypatch)
    fb.page_post("Where is my order?", author="Jane Doe", at=ago(clock, minutes=5))
    fb.inject(Fault(500, {"error": {"message": "An unknown error occurred", "code": 1}}, path="/feed"))
    assert fetch_refused(bot).retry_after is None
    fb.inject(Fault(200, raw=b"<html>oops", path="/feed"))
    assert "malformed" in str(fetch_refused(bot))
    assert len(bot.fetch(None).mentions) == 1
    refused = connector(fb, clock, tmp_path, monkeypatch, access_token={"env": "OTHER_PAGE_TOKEN"})
    monkeypatch.setenv("OTHER_PAGE_TOKEN", "EAAGrevoked")
    with pytest.raises(FatalError, match="code 190"):
        refused.fetch(None)


def test_the_page_tokens_expiry_comes_from_debug_token_once_a_day(fb, clock, tmp_path, monkeypatch):
    bot = connector(fb, clock, tmp_path, monkeypatch)
    bot.fetch(None)
    assert bot.credential_expiry() is None  # 0: a Page token that does not expire
    fb.token_expires_at = int((clock.now() + timedelta(days=50)).timestamp())
    clock.advance(hours=23)
    bot.fetch(None)
    assert bot.credential_expiry() is None and len(fb.calls("GET", "/debug_token$")) == 1
    clock.advance(hours=2)
    bot.fetch(None)
    assert bot.credential_expiry() == CredentialExpiry(
        at=datetime.fromtimestamp(fb.token_expires_at, tz=UTC), what="Page access token"
    )
    assert bot.check() == "reading the Facebook Page as Acme"
    # debug_token failing leaves the poll alone and the last known expiry in place
    clock.advance(hours=25)
    fb.inject(Fault(500, {"error": {"message": "oops", "code": 1}}, path="/debug_token"))
    bot.fetch(None)
    assert bot.credential_expiry().what == "Page access token"


def test_instagram_comments_replies_and_tags(ig, clock, tmp_path, monkeypatch):
    bot = connector(ig, clock, tmp_path, monkeypatch)
    media = ig.ig_post("The Acme Speaker is here", at=ago(clock, hours=2))
    top = ig.ig_comment(media, "jane", "Mine crackles at full volume", at=ago(clock, minutes=30))
    reply = ig.ig_comment(media, "bob", "same", parent=top, at=ago(clock, minutes=20))
    tag = ig.ig_tag("carl", "Unboxing my @acme speaker", at=ago(clock, minutes=10))
    result = bot.fetch(None)
    assert [m.id for m in result.mentions] == [top, reply, f"media:{tag}"]
    by_id = {m.id: m for m in result.mentions}
    assert (
        by_id[reply].kind == "reply" and by_id[reply].parent_id == top and by_id[top].author.handle == "jane"
    )
    assert by_id[top].url == ig.media[media]["permalink"]
    bot.reply(by_id[reply], "Sorry Bob!", idempotency_key="1")
    bot.reply(by_id[f"media:{tag}"], "Enjoy it, Carl!", idempotency_key="2")
    assert [p["in_reply_to"] for p in ig.posted()] == [top, f"media:{tag}"]
    assert ig.calls("POST", f"/{top}/replies$") and ig.calls("POST", f"/{IG_USER_ID}/mentions$")
    with pytest.raises(ReplyNotAllowed):
        bot.reply(by_id[top], "x" * 2201, idempotency_key="3")
    assert bot.find_reply(by_id[reply]) == ig.posted()[0]["id"]
    assert bot.find_reply(ig_mention := by_id[f"media:{tag}"]) is None and ig_mention.kind == "post"
    # the private reply opens the Instagram conversation; a tagged post has none
    bot.message(by_id[top], "Hi Jane, could you DM us your order number?", idempotency_key="4")
    with pytest.raises(ReplyNotAllowed, match="comments only"):
        bot.message(by_id[f"media:{tag}"], "Hi", idempotency_key="5")
    ig.customer_writes(ig.ig_comments[top]["from"]["id"], "jane", "It is 456", ig=True)
    (dm,) = bot.fetch_private(None).mentions
    assert (
        dm.author.handle == "jane" and ig.calls("GET", "/conversations$")[-1].arg("platform") == "instagram"
    )
    assert {m.id for m in bot.fetch(result.cursor).mentions} <= {p.get("id") for p in ig.posted()}


def test_settings_problems_are_named():
    from connectors.meta import FacebookSettings, InstagramSettings

    fb = "\n".join(
        FacebookSettings(enabled=True, page_id="acme", usage_limit_percent=0).problems("connectors.facebook")
    )
    for key in ("page_id", "access_token", "usage_limit_percent"):
        assert f"connectors.facebook.{key}:" in fb
    ig = "\n".join(InstagramSettings(enabled=True, api_version="21").problems("connectors.instagram"))
    for key in ("ig_user_id", "page_id", "access_token", "api_version"):
        assert f"connectors.instagram.{key}:" in ig


def test_the_page_id_is_the_brands_own_account(fb, clock, tmp_path, monkeypatch):
    bot = connector(fb, clock, tmp_path, monkeypatch)
    assert PAGE_ID in bot.own_accounts()
    assert json.loads(bot.fetch(None).cursor).keys() >= {"feed", "tagged", "comments"}


def pipeline_for(fake, clock, tmp_path, monkeypatch, **overrides):
    from bot.pipeline import Pipeline
    from bot.store import Store
    from tests.review_helpers import config_for

    bot = connector(fake, clock, tmp_path, monkeypatch, **overrides)
    store = Store.open(tmp_path / "bot.db")
    return Pipeline(config_for(tmp_path, fake), store, clock=clock, connectors={fake.platform: bot})


def approve_and_drain(pipeline, clock):
    from bot import decisions

    (draft,) = pipeline.store.drafts("awaiting")
    decisions.approve(pipeline.store, draft.id, actor="alice", now=clock.now())
    while pipeline.post():
        pass
    return {item.kind: item for item in pipeline.store.outbox()}


def test_a_case_opens_with_the_private_reply_and_the_customers_answer_is_attached(
    fb, clock, tmp_path, monkeypatch
):
    pipeline = pipeline_for(fb, clock, tmp_path, monkeypatch)
    post = fb.page_post("Meet the Acme Hub", at=ago(clock, hours=2))
    comment = fb.comment(
        post, "Bob Smith", "My Acme Hub arrived broken, I want a refund", at=ago(clock, hours=1)
    )
    pipeline.poll("facebook")
    items = approve_and_drain(pipeline, clock)
    assert (items["reply"].state, items["message"].state) == ("sent", "sent")
    (private,) = [p for p in fb.posted() if p["kind"] == "message"]
    assert private["in_reply_to"] == comment
    case = pipeline.store.case_for("facebook", comment)
    assert case.contacted_at is not None
    fb.customer_writes(fb.comments[comment]["from"]["id"], "Bob Smith", "Order 123", at=clock.now())
    clock.advance(minutes=10)
    pipeline.poll("facebook")
    assert pipeline.store.case(case.id).customer_replied_at is not None
    pipeline.close()


def test_outside_the_private_reply_window_the_case_is_contacted_by_hand_with_the_reason(
    fb, clock, tmp_path, monkeypatch
):
    pipeline = pipeline_for(fb, clock, tmp_path, monkeypatch, backfill_hours=24 * 30)
    pipeline.config.replies.max_age_hours = 24 * 10  # a brand that answers comments up to 10 days old
    post = fb.page_post("Meet the Acme Hub", at=ago(clock, days=9))
    fb.comment(post, "Old Timer", "My Acme Hub arrived broken, I want a refund", at=ago(clock, days=8))
    pipeline.poll("facebook")
    items = approve_and_drain(pipeline, clock)
    assert (items["reply"].state, items["message"].state) == ("sent", "manual")
    assert "within 7 days" in items["message"].error and "by hand" in items["message"].error
    assert [p["kind"] for p in fb.posted()] == ["reply"]  # the private reply was not attempted
    assert fb.calls("POST", "/messages$") == []
    pipeline.close()


def test_capabilities_are_declared():
    assert (
        FacebookConnector.capabilities
        == InstagramConnector.capabilities
        == {"reply", "reconcile", "message", "reconcile_message", "private"}
    )
    assert FacebookConnector.rules.can_message and InstagramConnector.rules.can_message


def test_an_interrupted_private_reply_is_found_by_what_it_says(fb, clock, tmp_path, monkeypatch):
    bot = connector(fb, clock, tmp_path, monkeypatch)
    post = fb.page_post("Acme Hub", at=ago(clock, hours=3))
    comment = fb.comment(post, "Bob Smith", "Mine stopped pairing", at=ago(clock, hours=1))
    other = fb.comment(post, "Ann Lee", "Same", at=ago(clock, minutes=50))
    mentions = {m.id: m for m in bot.fetch(None).mentions}
    text = "Hi Bob, could you send us your order number?"
    assert bot.find_message(mentions[comment], text) is None  # not sent: the outbox may send it
    sent = bot.message(mentions[comment], text, idempotency_key="1")
    # the answer lost (an interrupted send): the message is in the Page's conversation with Bob
    assert bot.find_message(mentions[comment], text) == sent
    assert bot.find_message(mentions[comment], "Something else") is None
    assert bot.find_message(mentions[other], "Hi Ann") is None
    # a message the customer wrote with the same words is not ours
    fb.customer_writes(fb.comments[other]["from"]["id"], "Ann Lee", "Hi Ann", at=clock.now())
    assert bot.find_message(mentions[other], "Hi Ann") is None


def test_an_interrupted_private_reply_on_instagram_is_found(ig, clock, tmp_path, monkeypatch):
    bot = connector(ig, clock, tmp_path, monkeypatch)
    media = ig.ig_post("The Acme Speaker", at=ago(clock, hours=2))
    comment = ig.ig_comment(media, "jane_doe", "Crackles", at=ago(clock, minutes=30))
    (mention,) = [m for m in bot.fetch(None).mentions if m.id == comment]
    sent = bot.message(mention, "Hi Jane, sorry! Which order?", idempotency_key="1")
    assert bot.find_message(mention, "Hi Jane, sorry! Which order?") == sent


def test_a_private_reply_whose_answer_was_lost_is_reconciled_not_sent_again(fb, clock, tmp_path, monkeypatch):
    from bot import decisions

    pipeline = pipeline_for(fb, clock, tmp_path, monkeypatch)
    post = fb.page_post("Meet the Acme Hub", at=ago(clock, hours=2))
    fb.comment(post, "Bob Smith", "My Acme Hub arrived broken, I want a refund", at=ago(clock, hours=1))
    pipeline.poll("facebook")
    (draft,) = pipeline.store.drafts("awaiting")
    decisions.approve(pipeline.store, draft.id, actor="alice", now=clock.now())
    # Meta takes the private reply, then the connection drops before its answer
    fb.inject(Fault(disconnect=True, after=True, path="/messages$"))
    while pipeline.post():  # the uncertain send is reconciled: found in the Page's conversation with Bob
        pass
    message = {item.kind: item for item in pipeline.store.outbox()}["message"]
    assert message.state == "sent" and message.posted_id.startswith("m_")
    assert len(fb.calls("POST", "/messages$")) == 1
    pipeline.close()
