"""Answers Mastodon really sent (Mastodon.py's recordings, ``tests/fixtures/mastodon/``) replayed on 127.0.0.1 to the
real Mastodon.py through our connector, and the mentions they become checked field by field."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.errors import FatalError, ReplyNotAllowed, TransientError
from connectors.fakes.mastodon import FakeMastodon
from connectors.fakes.server import Fault, Request, Response
from connectors.mastodon import DIRECT, GONE
from tests.conformance import fixture
from tests.review_helpers import connector_for

TAG = "fgiztsshwiaqqiztpmmjbtvmescsculuvmgjgopwoeidbcrixp"
RECORDED_HOSTS = ("http://localhost:3000", "https://mastodon.social")


class ReplayMastodon(FakeMastodon):
    """The fake, answering the recorded reads as recorded (their bodies, status codes, ``Link`` and rate-limit
    headers, the recorded host turned into this one); everything else (posting) as the fake does."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.recorded: list[tuple[str, dict[str, str], dict[str, Any]]] = []

    def serve(self, path: str, recording: dict[str, Any], **query: str) -> None:
        """Answer ``GET path`` (with these query values, when given) with ``recording``."""
        self.recorded.append((path, query, recording))

    def _answer(self, request: Request) -> Response:
        for path, query, recording in self.recorded:
            if request.path == path and all(request.arg(k) == v for k, v in query.items()):
                headers = {k: v for k, v in recording["headers"].items() if k != "content-type"}
                if "link" in headers:
                    for host in RECORDED_HOSTS:
                        headers["link"] = headers["link"].replace(host, self.base_url)
                return Response(recording["status"], recording["body"], headers)
        return super()._answer(request)

    def rate_limit_headers(self, request: Request) -> dict[str, str]:
        return {}  # the recorded answers bring their own


@pytest.fixture
def replay(clock):
    clock.set(datetime(2026, 8, 1, 14, 0, tzinfo=UTC))
    with ReplayMastodon(clock=clock) as fake:
        yield fake


def statuses_answer(*names: str) -> dict[str, Any]:
    """A timeline answer made of recorded statuses (each recorded alone), newest first as Mastodon orders them."""
    bodies = sorted((fixture("mastodon", n)["body"] for n in names), key=lambda s: int(s["id"]), reverse=True)
    return {"status": 200, "headers": {}, "body": bodies}


def test_a_recorded_mention_notification_field_by_field(replay, clock, monkeypatch):
    replay.serve("/api/v1/notifications", fixture("mastodon", "notifications_mention.json"))
    masto = connector_for(replay, clock, monkeypatch, account="mastodonpy_test")
    result = masto.fetch(None)
    (mention,) = result.mentions
    assert (mention.platform, mention.id, mention.kind) == ("mastodon", "117020577157693549", "post")
    assert (mention.author.handle, mention.author.display_name, mention.author.id) == (
        "admin",
        "",
        "117020565693913441",
    )
    assert mention.text == "@mastodonpy_test hello!"
    assert mention.author.reach == 1  # account.followers_count, as recorded
    assert mention.url == "http://localhost:3000/@admin/117020577157693549"
    assert mention.created_at == datetime(2026, 8, 1, 13, 51, 42, 823000, tzinfo=UTC)
    assert (mention.parent_id, mention.thread_id, mention.lang, mention.rating) == (
        None,
        "117020577157693549",
        "en",
        None,
    )
    assert (mention.edited, mention.unanswerable) == (False, None)
    assert mention.raw["spoiler_text"] == "" and mention.raw["mentions"][0]["acct"] == "mastodonpy_test"
    assert json.loads(result.cursor)["since"] == {"mentions": "21"}  # the notification id, for min_id
    assert result.quarantined == []


def test_a_deleted_status_is_quarantined_and_a_direct_first_contact_is_stored_unanswerable(
    replay, clock, monkeypatch
):
    # mastodon.social sent these: the statuses of two mention notifications were gone ("status": null)
    replay.serve("/api/v1/notifications", fixture("mastodon", "notifications_mastodon_social.json"))
    masto = connector_for(replay, clock, monkeypatch, account="halcy")
    result = masto.fetch(None)
    (direct,) = result.mentions
    assert (direct.id, direct.kind, direct.author.handle) == (
        "116275331587890092",
        "dm",
        "latencyobs@icosahedron.website",
    )
    assert direct.unanswerable == DIRECT
    assert direct.text.startswith("@halcy@mastodon.social @halcy@glitch.social @halcy@hachyderm.io ___")
    assert [(q.item_id, q.reason) for q in result.quarantined] == [
        ("550622655", f"mentions: {GONE}"),
        ("541461666", f"mentions: {GONE}"),
    ]
    assert json.loads(result.quarantined[0].raw)["account"]["acct"] == "latencyobs@icosahedron.website"
    # the cursor moves past all three: each was returned or quarantined
    assert json.loads(result.cursor)["since"] == {"mentions": "550622655"}
    assert [m.id for m in masto.fetch_private(None).mentions] == ["116275331587890092"]


def test_content_warning_media_description_card_edit_reply_and_reblog_as_recorded(replay, clock, monkeypatch):
    answer = statuses_answer(
        "status_content_warning.json",
        "status_media.json",
        "status_card.json",
        "status_edited.json",
        "status_reply.json",
        "status_reblog.json",
    )
    replay.serve(f"/api/v1/timelines/tag/{TAG}", answer)
    masto = connector_for(replay, clock, monkeypatch, account="acme", hashtags=[TAG])
    cursor = json.dumps({"since": {}, "turn": 1})  # the hashtag's turn
    mentions = {m.id: m for m in masto.fetch(cursor).mentions}
    warned = mentions["117020586000687987"]
    assert warned.text == "Content warning: Content warning\nToot!"
    media = mentions["117020576440066974"]
    assert media.text == "LOL check this out\nVideo: me when a cat"
    assert media.raw["sensitive"] is True
    card = mentions["117020609135389699"]
    assert card.text == "http://example.org/\nLink: Example Domain"
    edited = mentions["117020586180926938"]
    assert (
        edited.edited
        and edited.text == "the best editor? why, of course it is the KDE Advanced Text Editor, Kate"
    )
    assert not warned.edited
    reply = mentions["117020583258292382"]
    assert (reply.kind, reply.parent_id, reply.thread_id) == (
        "reply",
        "117020583245459824",
        "117020583245459824",
    )
    assert reply.author.handle == "admin"
    # the reblog (status 117020586027094262, empty content) is read as the status it shares
    assert "117020586027094262" not in mentions
    shared = mentions["117020586019094258"]
    assert (shared.text, shared.author.handle) == ("Toot!", "mastodonpy_test")
    assert shared.url == "http://localhost:3000/@mastodonpy_test/117020586019094258"
    assert len(mentions) == 6


def test_link_header_pages_and_the_cursor_after_a_restart(replay, clock, monkeypatch):
    first, second, third, empty = fixture("mastodon", "timeline_tag_pages.json")
    path = f"/api/v1/timelines/tag/{TAG}"
    # Each page answers the min_id that the page before it announced as rel="prev" (oldest page first).
    oldest = min(int(s["id"]) for s in third["body"])
    replay.serve(path, third, min_id=str(oldest - 1))
    replay.serve(path, second, min_id=third["body"][0]["id"])
    replay.serve(path, first, min_id=second["body"][0]["id"])
    replay.serve(path, empty, min_id=first["body"][0]["id"])
    start = json.dumps({"since": {f"tag:{TAG}": str(oldest - 1)}, "turn": 1})
    masto = connector_for(replay, clock, monkeypatch, hashtags=[TAG], page_size=10, max_pages=2)
    result = masto.fetch(start)
    assert [m.text for m in result.mentions] == [f"Toot number {i}! #{TAG}" for i in range(20)]
    pages = replay.calls("GET", path)
    assert len(pages) == 2 and pages[1].arg("min_id") == third["body"][0]["id"]
    assert {m.created_at.tzinfo for m in result.mentions} == {UTC}
    # a new connector resumes from the stored cursor: only the ten newer statuses, then a quiet page
    state = json.loads(result.cursor)
    assert state["since"][f"tag:{TAG}"] == second["body"][0]["id"]
    again = connector_for(replay, clock, monkeypatch, hashtags=[TAG], page_size=10)
    resumed = again.fetch(json.dumps({**state, "turn": 1}))
    assert [m.text for m in resumed.mentions] == [f"Toot number {i}! #{TAG}" for i in range(20, 30)]
    assert [r.arg("min_id") for r in replay.calls("GET", path)[2:]] == [
        second["body"][0]["id"],
        first["body"][0]["id"],
    ]
    assert json.loads(resumed.cursor)["since"][f"tag:{TAG}"] == first["body"][0]["id"]


def test_recorded_search_answer_from_mastodon_social(replay, clock, monkeypatch):
    _, social = fixture("mastodon", "search_statuses.json")
    replay.serve("/api/v2/search", social)
    masto = connector_for(replay, clock, monkeypatch, keywords=["halcy"])
    mentions = masto.fetch(json.dumps({"since": {}, "turn": 1})).mentions
    assert [(m.id, m.author.handle) for m in mentions] == [
        ("116388107849695302", "Jo@social.sublingual.xyz"),
        ("116388149027005349", "greg@icosahedron.website"),
    ]
    greg = mentions[1]
    assert greg.url == "https://icosahedron.website/@greg/116388148912635764"
    assert greg.kind == "reply" and greg.parent_id == greg.raw["in_reply_to_id"]
    assert greg.created_at.tzinfo == UTC and greg.lang == greg.raw.get("language")


def recorded_fault(name: str, index: int, **kwargs: Any) -> Fault:
    error = fixture("mastodon", name)[index]
    headers = {k: v for k, v in error["headers"].items() if k.startswith("x-ratelimit")}
    return Fault(error["status"], error["body"], headers=headers, **kwargs)


def test_recorded_error_answers_are_mapped_by_the_table(replay, clock, monkeypatch):
    replay.post("alice@example.social", "@acme my order is late")
    masto = connector_for(replay, clock, monkeypatch)
    (mention,) = masto.fetch(None).mentions
    for index, expected, words in (
        (0, ReplyNotAllowed, "Not Found"),  # the status is gone
        (2, ReplyNotAllowed, "500 Zeichen"),  # the server refused the text
        (5, ReplyNotAllowed, "This action is not allowed"),  # 403 on one post: that post only
    ):
        replay.inject(recorded_fault("errors.json", index, path="^/api/v1/statuses$"))
        with pytest.raises(expected, match=words) as caught:
            masto.reply(mention, "Thank you", idempotency_key=f"k{index}")
        assert not isinstance(caught.value, FatalError)
    replay.inject(recorded_fault("errors.json", 1, path="^/api/v1/notifications$"))
    with pytest.raises(TransientError, match="Record not found"):
        masto.fetch(None)
    replay.inject(recorded_fault("errors.json", 4, path="^/api/v1/notifications$"))
    with pytest.raises(FatalError, match=r"access token refused \(HTTP 401\): The access token is invalid"):
        masto.fetch(None)
