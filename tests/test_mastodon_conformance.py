"""The Mastodon fake held to what Mastodon sent in Mastodon.py's recordings: every field the fake serves is one the
recording has, with the recorded type; status codes, error bodies, ``Link`` and rate-limit headers alike."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
import requests

from connectors.fakes.mastodon import TOKEN, FakeMastodon
from tests.conformance import assert_conforms, fixture

STATUSES = (
    "status_content_warning.json",
    "status_direct_content_warning.json",
    "status_edited.json",
    "status_reblog.json",
    "status_media.json",
    "status_card.json",
    "status_reply.json",
)
LINK = re.compile(r'<(?P<url>[^>]+)>; rel="(?P<rel>next|prev)"')


def bodies(*names: str) -> list:
    """The recorded bodies of ``names`` (a file may hold one answer or a list of them)."""
    out = []
    for name in names:
        data = fixture("mastodon", name)
        out += [a["body"] for a in (data if isinstance(data, list) else [data])]
    return out


def recorded_statuses() -> list:
    """Every status the recordings hold, wherever it was (alone, in a timeline, a notification, a search)."""
    out = bodies(*STATUSES) + [
        s for page in bodies("timeline_tag.json", "timeline_tag_pages.json") for s in page
    ]
    out += [
        n["status"]
        for page in bodies("notifications_mention.json", "notifications_mastodon_social.json")
        for n in page
        if n["status"]
    ]
    out += [s for b in bodies("search_statuses.json") for s in b["statuses"]]
    return out


@pytest.fixture
def fake(clock):
    with FakeMastodon(clock=clock) as fake:
        yield fake


@pytest.fixture
def busy(fake, clock):
    """The fake with one of everything it can serve: a content warning, described media, a reply, an edit, a
    deleted status, a direct message and a reblog."""
    first = fake.post("alice@example.social", "@acme my order #AcmeHub is late", name="Alice")
    fake.post("bo@x.social", "@acme look", spoiler="broken glass", media=["a cracked screen"])
    fake.post("cy@x.social", "@acme same here", reply_to=first)
    edited = fake.post("di@x.social", "@acme #AcmeHub it works now")
    fake.edit(edited, "@acme #AcmeHub it works now, thanks")
    gone = fake.post("ed@x.social", "@acme never mind")
    fake.delete(gone)
    fake.post("fa@x.social", "@acme private question", visibility="direct")
    fake.boost("gu@x.social", first)
    clock.advance(minutes=1)
    return fake


def get(fake, path, **params):
    return requests.get(
        fake.base_url + path, params=params, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
    )


def post(fake, path, data, token=TOKEN):
    return requests.post(
        fake.base_url + path, data=data, headers={"Authorization": f"Bearer {token}"}, timeout=5
    )


def test_mention_notifications_conform(busy):
    answer = get(busy, "/api/v1/notifications", **{"types[]": "mention", "limit": "40"})
    assert answer.status_code == 200 and answer.json()
    assert any(n["status"] is None for n in answer.json())  # the deleted one, as mastodon.social sent it
    # The notification around the status as recorded; the status (one entity wherever Mastodon sends it) held
    # to every recorded status, so an edit or a reply inside a notification is checked too.
    recorded = bodies("notifications_mention.json", "notifications_mastodon_social.json")
    assert_conforms(
        [{**n, "status": None} for n in answer.json()], [{**n, "status": None} for p in recorded for n in p]
    )
    for note in answer.json():
        if note["status"]:
            assert_conforms(note["status"], *recorded_statuses())


def test_statuses_in_timelines_search_and_posts_conform(busy):
    statuses = recorded_statuses()
    tag = get(busy, "/api/v1/timelines/tag/acmehub")
    assert tag.status_code == 200 and len(tag.json()) == 2
    assert_conforms(tag.json(), statuses)
    search = get(busy, "/api/v2/search", q="acme", type="statuses")
    assert search.status_code == 200 and search.json()["statuses"]
    assert_conforms({**search.json(), "statuses": []}, *bodies("search_statuses.json"))
    assert_conforms(search.json()["statuses"], statuses)
    mine = post(
        busy, "/api/v1/statuses", {"status": "@alice@example.social thank you", "visibility": "unlisted"}
    )
    assert mine.status_code == 200
    assert_conforms(mine.json(), *statuses)
    for status in busy.statuses.values():
        assert_conforms(status, *statuses)


def test_context_account_statuses_and_credentials_conform(busy):
    first = next(iter(busy.statuses))
    context = get(busy, f"/api/v1/statuses/{first}/context")
    assert context.status_code == 200 and context.json()["descendants"]
    assert_conforms(context.json(), *bodies("status_context.json"))
    for status in context.json()["descendants"]:
        assert_conforms(status, *recorded_statuses())
    me = get(busy, "/api/v1/accounts/verify_credentials")
    assert_conforms(me.json(), *bodies("verify_credentials.json"))
    own = get(busy, f"/api/v1/accounts/{me.json()['id']}/statuses")
    assert_conforms(own.json(), *bodies("account_statuses.json"), recorded_statuses())


def test_error_answers_conform(fake):
    recorded = {e["request"]["uri"].split("3000", 1)[1]: e for e in fixture("mastodon", "errors.json")}
    errors = [e["body"] for e in recorded.values()]
    missing = get(fake, "/api/v1/statuses/0/context")
    assert missing.status_code == recorded["/api/v1/statuses/0"]["status"] == 404
    too_long = post(fake, "/api/v1/statuses", {"status": "a" * 501})
    blank = post(fake, "/api/v1/statuses", {"status": " "})
    refused = post(fake, "/api/v1/statuses", {"status": "hi"}, token="wrong")
    assert (too_long.status_code, blank.status_code, refused.status_code) == (422, 422, 401)
    assert refused.json() == recorded["/api/v1/timelines/home"]["body"]
    for answer in (missing, too_long, blank, refused):
        assert_conforms(answer.json(), *errors)
        assert answer.headers["Content-Type"].startswith("application/json")


def test_rate_limit_and_link_headers_look_as_recorded(busy):
    recorded = fixture("mastodon", "notifications_mention.json")["headers"]
    answer = get(busy, "/api/v1/notifications", **{"types[]": "mention"})
    names = {k.lower() for k in answer.headers if "ratelimit" in k.lower()}
    assert names == {k for k in recorded if k.startswith("x-ratelimit")}
    for value in (recorded["x-ratelimit-reset"], answer.headers["X-RateLimit-Reset"]):
        assert datetime.fromisoformat(value.replace("Z", "+00:00")).utcoffset() == timedelta(0)
    assert int(answer.headers["X-RateLimit-Limit"]) == int(recorded["x-ratelimit-limit"]) == 300
    served = {m["rel"]: m["url"] for m in LINK.finditer(answer.headers["Link"])}
    real = {m["rel"]: m["url"] for m in LINK.finditer(recorded["link"])}
    assert set(served) == set(real) == {"next", "prev"}
    for rel in ("next", "prev"):  # the same paging parameters, and the type filter kept
        keep = "max_id" if rel == "next" else "min_id"
        assert keep in served[rel] and keep in real[rel] and "types%5B%5D=mention" in served[rel]
