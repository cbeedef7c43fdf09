"""YouTube: the fake held to the reference answers (tests/fixtures/youtube) and to the discovery document that
google-api-python-client ships; the reference answers read by the connector."""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

import pytest
import requests

from connectors.fakes.youtube import TOKEN, FakeYouTube
from connectors.youtube import _reasons
from tests.conformance import assert_conforms, fixture

DISCOVERY = json.loads(
    (resources.files("googleapiclient") / "discovery_cache" / "documents" / "youtube.v3.json").read_text()
)
ERRORS = fixture("youtube", "errors.json")


def schema_problems(value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """Where ``value`` departs from a discovery-document schema: unknown properties and wrong types."""
    if "$ref" in schema:
        return schema_problems(value, DISCOVERY["schemas"][schema["$ref"]], path)
    kind = schema.get("type")
    if kind == "object":
        if not isinstance(value, dict):
            return [f"{path}: expected an object"]
        props = schema.get("properties", {})
        out = []
        for key, item in value.items():
            if key not in props:
                out.append(f"{path}.{key}: not in the schema")
            else:
                out += schema_problems(item, props[key], f"{path}.{key}")
        return out
    if kind == "array":
        if not isinstance(value, list):
            return [f"{path}: expected an array"]
        return [
            p for i, item in enumerate(value) for p in schema_problems(item, schema["items"], f"{path}[{i}]")
        ]
    expected = {"string": str, "integer": int, "number": (int, float), "boolean": bool}[kind]
    # Google sends int64 and uint64 values as strings.
    if kind == "integer" and schema.get("format") in ("int64", "uint64") and isinstance(value, str):
        return []
    return [] if isinstance(value, expected) else [f"{path}: expected {kind}"]


def in_schema(value: Any, name: str) -> None:
    problems = schema_problems(value, {"$ref": name})
    assert not problems, f"departs from {name}:\n" + "\n".join(problems)


@pytest.fixture
def busy():
    with FakeYouTube() as fake:
        first = fake.comment(author="priscilla", text="My Acme Hub stopped pairing")
        fake.comment(author="amit", text="Same here", reply_to=first)
        fake.comment(author="jane", text="Great video")
        fake.add_search_result(channel="Daily Gadget", title="Acme Hub review", description="", at=_now())
        yield fake


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


def get(fake, path, **params):
    return requests.get(
        fake.base_url + "/youtube/v3" + path,
        params=params,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )


def test_the_reference_answers_are_in_the_discovery_document():
    in_schema(fixture("youtube", "comment_threads_list.json"), "CommentThreadListResponse")
    in_schema(fixture("youtube", "comments_list.json"), "CommentListResponse")
    in_schema(fixture("youtube", "comments_insert.json"), "Comment")
    in_schema(fixture("youtube", "search_list.json"), "SearchListResponse")
    in_schema(fixture("youtube", "channels_list.json"), "ChannelListResponse")


def test_comment_threads_and_comments_conform(busy):
    threads = get(busy, "/commentThreads", part="snippet,replies", allThreadsRelatedToChannelId=busy.channel)
    assert threads.status_code == 200 and any("replies" in t for t in threads.json()["items"])
    assert_conforms(threads.json(), fixture("youtube", "comment_threads_list.json"))
    in_schema(threads.json(), "CommentThreadListResponse")
    first = next(t["id"] for t in threads.json()["items"] if "replies" in t)
    comments = get(busy, "/comments", part="snippet", parentId=first)
    assert comments.status_code == 200 and comments.json()["items"]
    assert_conforms(comments.json(), fixture("youtube", "comments_list.json"))
    in_schema(comments.json(), "CommentListResponse")
    reply = requests.post(
        busy.base_url + "/youtube/v3/comments",
        params={"part": "snippet"},
        json={"snippet": {"parentId": first, "textOriginal": "Sorry!"}},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )
    assert reply.status_code == 200
    assert_conforms(reply.json(), fixture("youtube", "comments_insert.json"))
    in_schema(reply.json(), "Comment")


def test_search_and_channels_conform(busy):
    search = get(busy, "/search", part="snippet", q="acme", type="video")
    assert search.status_code == 200 and search.json()["items"]
    assert_conforms(search.json(), fixture("youtube", "search_list.json"))
    in_schema(search.json(), "SearchListResponse")
    channels = get(busy, "/channels", part="snippet", id=busy.channel)
    assert channels.json()["items"]
    assert_conforms(channels.json(), fixture("youtube", "channels_list.json"))
    in_schema(channels.json(), "ChannelListResponse")


def test_error_answers_conform(busy):
    recorded = [e["body"] for e in ERRORS]
    refused = requests.get(
        busy.base_url + "/youtube/v3/commentThreads", headers={"Authorization": "Bearer wrong"}, timeout=5
    )
    busy.videos["dQw4w9WgXcQ"]["comments"] = False
    first = next(iter(busy.threads))
    disabled = requests.post(
        busy.base_url + "/youtube/v3/comments",
        params={"part": "snippet"},
        json={"snippet": {"parentId": first, "textOriginal": "Sorry!"}},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )
    busy.used = busy.quota
    spent = get(busy, "/commentThreads", part="snippet", allThreadsRelatedToChannelId=busy.channel)
    assert (refused.status_code, disabled.status_code, spent.status_code) == (401, 403, 403)
    # the quota answer is the one YouTube sends, word for word
    assert spent.json() == ERRORS[0]["body"]
    for answer in (refused, disabled, spent):
        assert_conforms(answer.json(), *recorded)
        assert answer.headers["Content-Type"].startswith("application/json")


def test_the_reference_page_read_by_the_connector(tmp_path, monkeypatch):
    from datetime import UTC, datetime

    from bot.clock import FakeClock
    from tests.test_youtube import connector

    clock = FakeClock(datetime(2024, 1, 7, tzinfo=UTC))
    page = fixture("youtube", "comment_threads_list.json")
    with FakeYouTube(channel="UCN1hnUccO4FD5WfM7ithXaw") as fake:
        fake.add_video("7ghhRHRP6t4", "Acme Hub")
        for thread in page["items"]:
            top = copy.deepcopy(thread["snippet"]["topLevelComment"])
            fake.threads[top["id"]] = top
            fake.replies[top["id"]] = copy.deepcopy(thread.get("replies", {}).get("comments", []))
        bot = connector(fake, clock, tmp_path, monkeypatch)
        mentions = bot.fetch(None).mentions
    assert [m.author.handle for m in mentions] == ["@janebloggs", "@priscilla4041", "@amitsharma"]
    pairing, same = mentions[1], mentions[2]
    assert pairing.text == "My Acme Hub stopped pairing after the update.\nAny fix?"
    assert same.text == "Same here & support did not answer" and same.edited and same.parent_id == pairing.id
    assert same.author.id == "UCP22MyBntbNASpmy3aC4sdw"


def test_the_quota_reason_is_read_from_googles_envelope():
    from googleapiclient.errors import HttpError
    from httplib2 import Response

    for recorded in ERRORS:
        exc = HttpError(Response({"status": recorded["status"]}), json.dumps(recorded["body"]).encode())
        assert _reasons(exc) == {recorded["body"]["error"]["errors"][0]["reason"]}
    assert _reasons(HttpError(Response({"status": 403}), b"<html>")) == set()
