"""The Bluesky fake held to what the AppView sent in its recorded views (and, where nothing was recorded, to the
lexicons): every field the fake serves is one the platform sends, with the recorded type; errors and rate-limit
headers as the XRPC server writes them."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from connectors.fakes.bluesky import CHAT_PROXY, FakeBluesky
from tests.conformance import FIXTURES, assert_conforms, fixture

VIEWS = ("search_posts.json", "get_posts.json", "thread_shallow.json", "thread_embed_media.json")


def body(name: str) -> Any:
    return fixture("bluesky", name)["body"]


def lexicon(nsid: str) -> dict[str, Any]:
    return json.loads((FIXTURES / "bluesky" / "lexicons" / f"{nsid}.json").read_text())["defs"]


def output_fields(nsid: str) -> set[str]:
    """The properties of a query's or procedure's output, as its lexicon names them."""
    main = lexicon(nsid)["main"]
    schema = main["output"]["schema"]
    if schema.get("type") == "ref":  # e.g. sendMessage answers a messageView
        ref_nsid, _, name = schema["ref"].partition("#")
        return set(lexicon(ref_nsid or nsid)[name]["properties"])
    return set(schema["properties"])


def assert_lexicon_fields(served: dict[str, Any], fields: set[str]) -> None:
    """``served`` names no property the lexicon does not define (``$type`` marks a union member)."""
    assert set(served) - {"$type"} <= fields, f"not in the lexicon: {set(served) - fields - {'$type'}}"


def entity_kind(key: str, value: Any) -> str | None:
    """Which entity ``value`` is, where it is one that appears in many places (held to its own recorded shape)."""
    if not isinstance(value, dict):
        return None
    kind = str(value.get("$type", ""))
    if key == "author":
        return "author"
    if kind == "app.bsky.feed.post":
        return "record"
    if kind.endswith("#viewRecord"):
        return "viewRecord"
    if {"uri", "cid", "author", "record", "indexedAt"} <= set(value) and "reason" not in value:
        return "postView"
    return None


def split(value: Any, kind: str = "answer") -> list[tuple[str, Any]]:
    """``value`` with its nested entities emptied, then each nested entity (likewise emptied), by kind."""
    found: list[tuple[str, Any]] = []

    def walk(item: Any, key: str = "") -> Any:
        inner = entity_kind(key, item)
        if inner:
            found.extend(split(item, inner))
            return {}
        if isinstance(item, dict):
            return {k: walk(v, k) for k, v in item.items()}
        if isinstance(item, list):
            return [walk(v) for v in item]
        return item

    top = {k: walk(v, k) for k, v in value.items()} if isinstance(value, dict) else walk(value)
    return [(kind, top), *found]


def recorded_entities() -> dict[str, list[Any]]:
    """Every recorded author, post record, post view and quoted view record, wherever it was."""
    card = body("lexicon_examples.json")
    answers = [body(n) for n in ("notifications_reasons.json", "notifications_quote.json", *VIEWS)]
    out: dict[str, list[Any]] = {}
    for answer in [*answers, {"notifications": [card["notification"]]}, {"posts": [card["post"]]}]:
        for kind, skeleton in split(answer)[1:]:
            out.setdefault(kind, []).append(skeleton)
    return out


def assert_entities_conform(served: Any, *answers: Any) -> None:
    """``served`` held to the recorded ``answers`` of its endpoint, and each entity in it to every recorded one
    of its kind."""
    pairs = split(served)
    assert_conforms(pairs[0][1], *(split(a)[0][1] for a in answers))
    shapes = recorded_entities()
    for kind, skeleton in pairs[1:]:
        assert_conforms(skeleton, *shapes[kind])


@pytest.fixture
def fake(clock):
    with FakeBluesky(clock=clock) as fake:
        brand = fake.add_post(author="acme.com", text="Acme Hub 2 is out")
        fake.add_post(
            author="jane.bsky.social",
            name="Jane",
            text="@acme.com mine arrived broken",
            images=["a cracked screen"],
        )
        fake.add_post(author="bob.bsky.social", text="same", reply_to=brand)
        fake.add_post(author="carl.bsky.social", text="meh", quote=brand)
        fake.add_post(author="dee.bsky.social", text="", quote=brand, images=["the box, crushed"])
        fake.add_post(
            author="eve.bsky.social",
            text="@acme.com",
            card=("https://acme.example/status", "Acme status", "Devices offline"),
        )
        fake.add_post(
            author="fay.bsky.social", text="@acme.com see https://acme.example", link="https://acme.example/x"
        )
        fake.block("fay.bsky.social")
        yield fake


@pytest.fixture
def session(fake):
    answer = requests.post(
        f"{fake.base_url}/xrpc/com.atproto.server.createSession",
        json={"identifier": fake.handle, "password": fake.password},
        timeout=5,
    )
    assert answer.status_code == 200
    assert_lexicon_fields(answer.json(), output_fields("com.atproto.server.createSession"))
    return answer.json()


def xrpc(fake, session, nsid, method="GET", chat=False, **kwargs):
    headers = {
        "Authorization": f"Bearer {session['accessJwt']}",
        **({"atproto-proxy": CHAT_PROXY} if chat else {}),
    }
    return requests.request(method, f"{fake.base_url}/xrpc/{nsid}", headers=headers, timeout=5, **kwargs)


def test_notifications_conform(fake, session):
    answer = xrpc(fake, session, "app.bsky.notification.listNotifications", params={"limit": 3})
    assert answer.status_code == 200 and answer.json()["cursor"]
    assert_lexicon_fields(answer.json(), output_fields("app.bsky.notification.listNotifications"))
    page = xrpc(fake, session, "app.bsky.notification.listNotifications", params={"limit": 50}).json()
    assert {n["reason"] for n in page["notifications"]} == {"mention", "reply", "quote"}
    card = body("lexicon_examples.json")["notification"]
    assert_entities_conform(
        {k: v for k, v in page.items() if k != "cursor"},  # the lexicon's cursor, checked above
        body("notifications_reasons.json"),
        body("notifications_quote.json"),
        {"notifications": [card]},
    )


def test_post_views_conform_in_search_get_posts_and_threads(fake, session):
    search = xrpc(fake, session, "app.bsky.feed.searchPosts", params={"q": "", "limit": 100}).json()
    assert_lexicon_fields(search, output_fields("app.bsky.feed.searchPosts"))
    kinds = {v.get("embed", {}).get("$type") for v in search["posts"]}
    assert kinds >= {
        "app.bsky.embed.images#view",
        "app.bsky.embed.record#view",
        "app.bsky.embed.recordWithMedia#view",
        "app.bsky.embed.external#view",
    }
    assert any(v["author"]["viewer"]["blockedBy"] for v in search["posts"])
    # searchPosts answers postViews, as getPosts does (no searchPosts answer was recorded; the envelope is the
    # lexicon's: posts, cursor, hitsTotal)
    assert_entities_conform({"posts": search["posts"]}, body("search_posts.json"), body("get_posts.json"))
    uris = [v["uri"] for v in search["posts"]][:25]
    posts = xrpc(fake, session, "app.bsky.feed.getPosts", params={"uris": uris}).json()
    assert_lexicon_fields(posts, output_fields("app.bsky.feed.getPosts"))
    assert [p["uri"] for p in posts["posts"]] == uris
    assert_entities_conform(posts, body("get_posts.json"))
    brand = next(v["uri"] for v in search["posts"] if v["author"]["handle"] == "acme.com")
    thread = xrpc(fake, session, "app.bsky.feed.getPostThread", params={"uri": brand}).json()
    assert_lexicon_fields(thread, output_fields("app.bsky.feed.getPostThread"))
    assert thread["thread"]["replies"]
    assert_entities_conform(thread, body("thread_shallow.json"), body("thread_embed_media.json"))


def test_sessions_records_and_chat_answer_only_lexicon_fields(fake, session):
    assert_lexicon_fields(
        xrpc(fake, session, "com.atproto.server.getSession").json(),
        output_fields("com.atproto.server.getSession"),
    )
    refreshed = requests.post(
        f"{fake.base_url}/xrpc/com.atproto.server.refreshSession",
        headers={"Authorization": f"Bearer {session['refreshJwt']}"},
        timeout=5,
    )
    assert_lexicon_fields(refreshed.json(), output_fields("com.atproto.server.refreshSession"))
    record = {"$type": "app.bsky.feed.post", "text": "Thank you", "createdAt": "2024-06-10T12:00:00.000Z"}
    created = xrpc(
        fake,
        session,
        "com.atproto.repo.createRecord",
        "POST",
        json={"repo": fake.did, "collection": "app.bsky.feed.post", "record": record},
    )
    assert created.status_code == 200
    assert_lexicon_fields(created.json(), output_fields("com.atproto.repo.createRecord"))
    jane = fake.profile("jane.bsky.social")["did"]
    convo = xrpc(
        fake, session, "chat.bsky.convo.getConvoForMembers", chat=True, params={"members": [jane]}
    ).json()
    assert_lexicon_fields(convo, output_fields("chat.bsky.convo.getConvoForMembers"))
    defs = lexicon("chat.bsky.convo.defs")
    assert_lexicon_fields(convo["convo"], set(defs["convoView"]["properties"]))
    members = set(lexicon("chat.bsky.actor.defs")["profileViewBasic"]["properties"])
    for member in convo["convo"]["members"]:
        assert_lexicon_fields(member, members)
    sent = xrpc(
        fake,
        session,
        "chat.bsky.convo.sendMessage",
        "POST",
        chat=True,
        json={"convoId": convo["convo"]["id"], "message": {"text": "Hello"}},
    ).json()
    assert_lexicon_fields(sent, output_fields("chat.bsky.convo.sendMessage"))
    assert_lexicon_fields(sent["sender"], set(defs["messageViewSender"]["properties"]))
    messages = xrpc(
        fake, session, "chat.bsky.convo.getMessages", chat=True, params={"convoId": convo["convo"]["id"]}
    )
    assert_lexicon_fields(messages.json(), output_fields("chat.bsky.convo.getMessages"))
    log = xrpc(fake, session, "chat.bsky.convo.getLog", chat=True).json()
    assert_lexicon_fields(log, output_fields("chat.bsky.convo.getLog"))
    for entry in log["logs"]:
        assert_lexicon_fields(entry, set(defs[entry["$type"].split("#")[1]]["properties"]))
        assert_lexicon_fields(entry["message"], set(defs["messageView"]["properties"]))


def test_errors_and_rate_limit_headers_as_the_xrpc_server_writes_them(fake, session):
    # packages/xrpc-server: an error body is {error, message}; every limited answer carries RateLimit-Limit,
    # -Reset (epoch seconds), -Remaining and -Policy ("<limit>;w=<seconds>").
    for answer in (
        xrpc(fake, {"accessJwt": "nonsense"}, "app.bsky.notification.listNotifications"),
        xrpc(
            fake,
            session,
            "app.bsky.feed.getPostThread",
            params={"uri": "at://did:plc:x/app.bsky.feed.post/3kx"},
        ),
        xrpc(fake, session, "chat.bsky.convo.getLog"),  # not behind the chat proxy
    ):
        assert answer.status_code in (400, 401, 501)
        assert set(answer.json()) == {"error", "message"}
    answer = xrpc(fake, session, "app.bsky.notification.listNotifications")
    headers = {k.lower(): v for k, v in answer.headers.items() if "ratelimit" in k.lower()}
    assert set(headers) == {"ratelimit-limit", "ratelimit-reset", "ratelimit-remaining", "ratelimit-policy"}
    assert headers["ratelimit-reset"].isdigit() and int(headers["ratelimit-remaining"]) < int(
        headers["ratelimit-limit"]
    )
    limit, _, window = headers["ratelimit-policy"].partition(";w=")
    assert limit == headers["ratelimit-limit"] and window.isdigit()
    assert lexicon("app.bsky.feed.getPostThread")["main"]["errors"] == [{"name": "NotFound"}]
