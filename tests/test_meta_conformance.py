"""The Meta fake held to Meta's reference examples (tests/fixtures/facebook, tests/fixtures/instagram): every field
it serves is one the reference shows, with the same type; errors and usage headers alike. And the reference
answers read by the connectors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests

from bot.clock import FakeClock
from connectors.fakes.meta import (
    IG_USER_ID,
    PAGE_ID,
    TOKEN,
    FakeFacebook,
    FakeInstagram,
    mentions_delivery,
    story_mention_delivery,
)
from connectors.meta import FacebookConnector, InstagramConnector
from tests.conformance import assert_conforms, fixture


@pytest.fixture
def busy():
    clock = FakeClock(datetime(2026, 12, 2, 12, 0, tzinfo=UTC))
    with FakeFacebook(clock=clock) as fake:
        post = fake.page_post("Meet the Acme Hub", at=clock.now() - timedelta(hours=2))
        fake.page_post("Where is my order?", author="Jane Doe", at=clock.now() - timedelta(hours=1))
        top = fake.comment(post, "Bob Smith", "Mine broke", at=clock.now() - timedelta(minutes=30))
        fake.comment(post, "Acme", "Sorry Bob!", parent=top, at=clock.now() - timedelta(minutes=20))
        media = fake.ig_post("The Acme Speaker", at=clock.now() - timedelta(hours=1))
        first = fake.ig_comment(media, "jane_doe", "Crackles", at=clock.now() - timedelta(minutes=10))
        fake.ig_comment(media, "bob", "same", parent=first, at=clock.now() - timedelta(minutes=5))
        fake.ig_tag("dana", "Loving my @acme speaker", at=clock.now())
        fake.customer_writes("2400000000000001", "Jane Doe", "Hi, my order has not arrived", at=clock.now())
        fake.top, fake.first = top, first
        yield fake


def graph(fake, method, path, **params):
    params["access_token"] = params.get("access_token", TOKEN)
    body = params.pop("json", None)
    data = params.pop("data", None)
    return requests.request(
        method, f"{fake.base_url}/v21.0/{path}", params=params, json=body, data=data, timeout=5
    )


def items(*recordings):
    """Every item of the recorded lists (``data``), and the recorded single objects themselves."""
    out = []
    for recording in recordings:
        out.extend(recording["data"] if isinstance(recording.get("data"), list) else [recording])
    return out


def assert_list_conforms(answer, envelopes, recorded_items):
    """A Graph API list: its envelope (``paging``) held to the recorded lists, each item to the recorded items."""
    assert_conforms({k: v for k, v in answer.items() if k != "data"}, *envelopes)
    for item in answer["data"]:
        assert_conforms(item, *recorded_items)


FB_POSTS = [
    fixture("facebook", "posts_feed_fields_p1.json"),
    fixture("facebook", "posts_feeds_default_fields_p1.json"),
]
FB_COMMENT_LISTS = [fixture("facebook", "comments_p1.json"), fixture("facebook", "comments_p2.json")]
FB_COMMENTS = items(
    *FB_COMMENT_LISTS,
    fixture("facebook", "comment.json"),
    fixture("facebook", "comment_info.json"),
    fixture("facebook", "documented.json")["comment"],
)
IG_MEDIA_LISTS = [fixture("instagram", "medias_p1.json"), fixture("instagram", "medias_p2.json")]
# Paging is the Graph API's on every edge: any recorded Instagram list shows its shape.
IG_LISTS = [
    *IG_MEDIA_LISTS,
    fixture("instagram", "media_comments_p1.json"),
    fixture("instagram", "tagged_medias.json"),
]
IG_MEDIA = items(
    *IG_MEDIA_LISTS, fixture("instagram", "tagged_medias.json"), fixture("instagram", "ig_media.json")
)
IG_COMMENTS = items(
    fixture("instagram", "media_comments_p1.json"),
    fixture("instagram", "replies.json"),
    fixture("instagram", "comment_fields.json"),
    fixture("instagram", "ig_reply.json"),
    {k: v for k, v in fixture("instagram", "ig_comment.json").items() if k != "replies"},
    fixture("instagram", "documented.json")["comment"],
)


def test_facebook_answers_conform(busy):
    feed = graph(busy, "GET", f"{PAGE_ID}/feed", limit=1)
    assert feed.status_code == 200 and "next" in feed.json()["paging"]
    assert_list_conforms(
        feed.json(), FB_POSTS, items(*FB_POSTS, fixture("facebook", "documented.json")["post"])
    )
    post = next(iter(busy.posts))
    comments = graph(busy, "GET", f"{post}/comments")
    assert comments.status_code == 200 and any(
        "reply_comment_id" in c["permalink_url"] for c in comments.json()["data"]
    )
    assert_list_conforms(comments.json(), FB_COMMENT_LISTS, FB_COMMENTS)
    created = graph(busy, "POST", f"{busy.top}/comments", data={"message": "Thanks"})
    assert_conforms(created.json(), fixture("facebook", "comment_create_resp.json"))
    sent = graph(
        busy,
        "POST",
        f"{PAGE_ID}/messages",
        json={"recipient": {"comment_id": busy.top}, "message": {"text": "Hi"}},
    )
    assert sent.status_code == 200
    assert_conforms(sent.json(), fixture("facebook", "send_api.json"))
    conversations = graph(busy, "GET", f"{PAGE_ID}/conversations", platform="messenger").json()
    assert conversations["data"]
    conversation_items = [fixture("facebook", "cvs_info.json"), fixture("facebook", "conversation.json")]
    for conversation in conversations["data"]:
        assert_conforms({k: v for k, v in conversation.items() if k != "messages"}, *conversation_items)
        # the embedded ``messages`` edge is a Graph API list of Messenger messages
        assert_list_conforms(
            conversation["messages"],
            FB_COMMENT_LISTS,
            [fixture("facebook", "message_info.json"), fixture("facebook", "message.json")],
        )
    assert_conforms(
        graph(busy, "GET", "debug_token", input_token=TOKEN).json(), fixture("facebook", "token_info.json")
    )
    assert_conforms(graph(busy, "GET", PAGE_ID).json(), fixture("facebook", "single_fields_page.json"))


def test_instagram_answers_conform(busy):
    media = graph(busy, "GET", f"{IG_USER_ID}/media").json()
    assert_list_conforms(media, IG_MEDIA_LISTS, IG_MEDIA)
    (item,) = media["data"]
    comments = graph(busy, "GET", f"{item['id']}/comments").json()
    assert any("replies" in c for c in comments["data"])
    assert_conforms({k: v for k, v in comments.items() if k != "data"}, *IG_LISTS)
    for comment in comments["data"]:
        assert_conforms({k: v for k, v in comment.items() if k != "replies"}, *IG_COMMENTS)
        if "replies" in comment:
            # a reply is an IG Comment; the edge as recorded (``replies.json``, and under ``ig_comment.json``)
            assert_list_conforms(
                comment["replies"], [fixture("instagram", "replies.json"), *IG_LISTS], IG_COMMENTS
            )
    replies = graph(busy, "GET", f"{busy.first}/replies").json()
    assert_list_conforms(replies, [fixture("instagram", "replies.json"), *IG_LISTS], IG_COMMENTS)
    reply = graph(busy, "POST", f"{busy.first}/replies", data={"message": "Sorry!"})
    assert_conforms(reply.json(), fixture("instagram", "comment_fields.json"))
    tags = graph(busy, "GET", f"{IG_USER_ID}/tags").json()
    assert_list_conforms(tags, IG_LISTS, IG_MEDIA)
    mention = graph(
        busy,
        "POST",
        f"{IG_USER_ID}/mentions",
        data={"media_id": tags["data"][0]["id"], "message": "Hi"},
    )
    assert_conforms(mention.json(), fixture("instagram", "comment_fields.json"))
    assert_conforms(graph(busy, "GET", IG_USER_ID).json(), fixture("instagram", "user_fields.json"))


def test_errors_and_usage_headers_conform(busy):
    recorded = [fixture("facebook", "error_data.json"), fixture("facebook", "error.json")]
    reference = [e["body"] for e in fixture("facebook", "errors.json")]
    refused = graph(busy, "GET", f"{PAGE_ID}/feed", access_token="wrong")
    missing = graph(busy, "GET", "1_2/comments")
    outside = graph(
        busy, "POST", f"{PAGE_ID}/messages", json={"recipient": {"id": "999"}, "message": {"text": "Hi"}}
    )
    assert [a.json()["error"]["code"] for a in (refused, missing, outside)] == [190, 100, 10]
    assert outside.json()["error"]["error_subcode"] == 2018278
    for answer in (refused, missing, outside):
        assert_conforms(answer.json(), *recorded, *reference)
    headers = {k: json.loads(v) for k, v in fixture("facebook", "usage_headers.json").items()}
    busy.buc = [
        {
            "type": "pages",
            "call_count": 5,
            "total_cputime": 1,
            "total_time": 1,
            "estimated_time_to_regain_access": 0,
        }
    ]
    answer = graph(busy, "GET", f"{PAGE_ID}/feed")
    assert_conforms(json.loads(answer.headers["X-App-Usage"]), headers["x-app-usage"])
    # keyed by the business object's id (the Page's here), each a list of usage entries
    buc = json.loads(answer.headers["X-Business-Use-Case-Usage"])
    assert list(buc) == [PAGE_ID]
    assert_conforms(buc[PAGE_ID], *headers["x-business-use-case-usage"].values())


def test_the_recorded_answers_read_by_the_connectors():
    fb = FacebookConnector(FacebookConnector.Settings(page_id="19292868552"))
    # Recorded posts carry no ``from``: read, with the author unnamed rather than refused.
    (first, *_) = fixture("facebook", "posts_feed_fields_p1.json")["data"]
    post = fb.post_mention(first)
    assert (post.id, post.text, post.author.handle) == (first["id"], first["message"], "A Facebook user")
    assert post.created_at == datetime(2021, 7, 4, 19, 50, 58, tzinfo=UTC)
    recorded = fixture("facebook", "comment.json")
    top = fb.comment_mention(recorded)
    assert (top.kind, top.parent_id, top.author.handle, top.author.id) == (
        "comment",
        None,
        "Kun Liu",
        "2711636948859886",
    )
    assert top.raw["can_reply_privately"] is True
    # A recorded reply names its top comment only in its permalink (the recording has no ids: ours here).
    reply = fixture("facebook", "comments_p1.json")["data"][5]
    assert "reply_comment_id=10158409983033553" in reply["permalink_url"]
    mention = fb.comment_mention({**reply, "id": "10158407654328553_10158409983033553"})
    assert (mention.kind, mention.parent_id) == ("reply", "10158407654328553_10158407903973553")
    dm = fb.dm_mention(fixture("facebook", "message.json"))
    assert dm.kind == "dm" and dm.author.id == "2711636948859886" and dm.author.handle == "Kun Liu"

    ig = InstagramConnector(
        InstagramConnector.Settings(ig_user_id="17841406338772941", page_id="1", username="ikroskun")
    )
    comment = fixture("instagram", "ig_comment.json")
    first = ig.comment_mention(comment)
    assert (first.author.handle, first.text, first.kind, first.thread_id) == (
        "ikroskun",
        "@ikroskun  Hey, guys",
        "comment",
        "17846368219941692",
    )
    assert "replies" not in first.raw
    plain = ig.comment_mention(fixture("instagram", "media_comments_p1.json")["data"][0])
    assert (plain.text, plain.author.handle) == ("Beautiful!", "an Instagram user")
    tagged = fixture("instagram", "tagged_medias.json")["data"][0]
    tag = ig.tag_mention(tagged)
    assert tag.id == "media:17892354025952911" and tag.text == "publish test"
    assert tag.url == "https://www.instagram.com/p/CMeo7rcJvTi/"


def test_the_recorded_usage_headers_do_not_stop_the_connector():
    """``x-ad-account-usage`` holds ``reset_time_duration`` (seconds, 100 here): not a percentage of the budget."""
    clock = FakeClock(datetime(2026, 12, 2, 12, 0, tzinfo=UTC))
    fb = FacebookConnector(FacebookConnector.Settings(page_id="19292868552"), clock=clock)
    headers = fixture("facebook", "usage_headers.json")
    fb._note_usage({"x-ad-account-usage": headers["x-ad-account-usage"]})
    fb._note_usage({"x-business-use-case-usage": headers["x-business-use-case-usage"]})
    assert fb.blocked_until is None
    fb._note_usage({"x-app-usage": headers["x-app-usage"]})  # call_count 91: over the 90% default
    assert fb.blocked_until == clock.now() + timedelta(seconds=600)


def test_the_mentions_lookups_and_deliveries_conform(busy):
    caption = busy.ig_caption_mention("dana", "@acme crackles")
    media, comment = busy.ig_comment_mention("eve", "@acme where is my order?")
    looked_up = graph(
        busy,
        "GET",
        IG_USER_ID,
        fields=f"mentioned_comment.comment_id({comment}){{id,text,timestamp,username,like_count}}",
    ).json()
    assert looked_up["mentioned_comment"]["id"] == comment
    assert_conforms(looked_up, fixture("instagram", "mentioned_comment.json"))
    media_answer = graph(
        busy,
        "GET",
        IG_USER_ID,
        fields=f"mentioned_media.media_id({caption}){{id,caption,timestamp,username}}",
    ).json()
    assert media_answer["mentioned_media"]["caption"] == "@acme crackles"
    assert_conforms(
        {k: v for k, v in media_answer.items() if k != "mentioned_media"},
        fixture("instagram", "mentioned_media.json"),
    )
    assert_conforms(
        media_answer["mentioned_media"],
        *IG_MEDIA,
        fixture("instagram", "mentioned_media.json")["mentioned_media"],
    )
    recorded = fixture("instagram", "webhook_mentions.json")
    assert_conforms(mentions_delivery(busy, caption), recorded[0])
    assert_conforms(mentions_delivery(busy, media, comment), recorded[1])


def test_the_recorded_mentions_read_by_the_connector():
    ig = InstagramConnector(InstagramConnector.Settings(ig_user_id="17841406338772941", page_id="1"))
    delivery = fixture("instagram", "webhook_mentions.json")[1]
    value = delivery["entry"][0]["changes"][0]["value"]
    said = ig.mentioned_comment_mention(
        fixture("instagram", "mentioned_comment.json")["mentioned_comment"], media_id=value["media_id"]
    )
    assert (said.id, said.text, said.author.handle, said.thread_id) == (
        "mentioned:17967008497439572",
        "@ikroskun good",
        "ikroskun",
        "17918195224117851",
    )
    media = ig.tag_mention(fixture("instagram", "mentioned_media.json")["mentioned_media"])
    assert (media.id, media.text, media.author.handle) == (
        "media:17889114512354744",
        "@ikroskun hey",
        "an Instagram user",
    )


def test_the_fakes_story_mention_delivery_is_shaped_like_metas_example():
    with FakeInstagram() as ig:
        mid = ig.ig_story_mention("fern")
        assert_conforms(story_mention_delivery(ig, mid), fixture("instagram", "webhook_story_mention.json"))


def test_metas_story_mention_example_read_by_the_connector(tmp_path, monkeypatch):
    ig = InstagramConnector(InstagramConnector.Settings(ig_user_id="17841406338772941", page_id="1"))
    (story,) = ig.webhook_mentions(fixture("instagram", "webhook_story_mention.json"))
    assert (story.id, story.kind, story.text, story.author.id) == (
        "<MESSAGE_ID>",
        "story_mention",
        "",
        "<IGSID>",
    )
    assert story.created_at.timestamp() == 1569262485.349
