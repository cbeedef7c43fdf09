"""``[cases] backend = "zendesk"``: each case mirrored once to a ticket (``external_id`` = the case reference) in a
loopback Zendesk driven by the real zenpy, its status, assignee and public comments brought back, and the case's
changes sent to it."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from bot import cases
from bot.config import parse_config
from bot.errors import ConfigError
from connectors.fakes.zendesk import EMAIL, TOKEN, TOKEN_ENV, FakeZendesk
from tests.conftest import ROOT
from tests.helpdesk_world import helpdesk_world

FIXTURES = ROOT / "tests" / "fixtures" / "zendesk"


def recorded(name: str):
    return json.loads((FIXTURES / name).read_text())["response"]


@pytest.fixture
def zendesk():
    fake = FakeZendesk()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def world(zendesk, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    return helpdesk_world("zendesk", {"url": zendesk.base_url, "email": EMAIL, "token": {"env": TOKEN_ENV}})


def only_ticket(zendesk) -> int:
    (ticket_id,) = zendesk.tickets
    return ticket_id


def test_the_fake_answers_with_the_recorded_shapes(zendesk, world):
    pipeline, *_ = world
    pipeline.mirror_cycle()
    ticket_id = only_ticket(zendesk)
    http = pipeline.mirror.api.tickets.session
    base = f"{zendesk.base_url}/api/v2"
    created = http.post(f"{base}/tickets.json", json={"ticket": {"subject": "x", "description": "y"}}).json()
    shape = recorded("ticket_create.json")
    assert set(created) == set(shape) and set(created["ticket"]) == set(shape["ticket"])
    assert set(created["audit"]) == set(shape["audit"])
    assert set(created["audit"]["events"][0]) == set(shape["audit"]["events"][0])
    zendesk.agent_comment(ticket_id, "On it.")
    comments = http.get(f"{base}/tickets/{ticket_id}/comments.json").json()
    assert set(comments) == set(recorded("ticket_comments.json"))
    assert set(comments["comments"][-1]) == set(recorded("ticket_comments.json")["comments"][0])
    user = http.get(f"{base}/users/{zendesk.user_id('alice@acme.example')}.json").json()
    assert set(user["user"]) == set(recorded("user_show.json")["user"])
    updated = http.put(f"{base}/tickets/{ticket_id}.json", json={"ticket": {"status": "open"}}).json()
    assert set(updated["ticket"]) == set(recorded("ticket_update.json")["ticket"])


def test_a_case_opens_one_ticket_with_the_case_reference_as_external_id(zendesk, world):
    pipeline, store, _, case = world
    pipeline.mirror_cycle()
    pipeline.mirror_cycle()
    ticket = zendesk.tickets[only_ticket(zendesk)]
    assert ticket["external_id"] == case.ref and ticket["subject"].startswith(f"[{case.ref}] reddit:")
    (note,) = zendesk.comments[ticket["id"]]
    assert note["public"] is False
    for shown in (
        case.ref,
        "dana_k",
        "reddit",
        "https://reddit.com/r/acme/comments/7",
        "complaint",
        "urgency 2",
    ):
        assert shown in note["body"]
    requester = zendesk.users[ticket["requester_id"]]
    assert requester["name"] == "Dana" and requester["role"] == "end-user"
    assert store.case_mirror(case.id).link == f"{zendesk.base_url}/agent/tickets/{ticket['id']}"


def test_killed_between_zendesks_answer_and_our_commit_mirrors_once(zendesk, world, monkeypatch):
    pipeline, store, _, case = world
    recorded_mirror = store.set_case_mirror

    def killed(*args, **kwargs):
        raise SystemExit("killed right after Zendesk answered")

    monkeypatch.setattr(store, "set_case_mirror", killed)
    with pytest.raises(SystemExit):
        pipeline.mirror_cycle()
    assert len(zendesk.tickets) == 1  # Zendesk has the ticket; we have no record of it

    monkeypatch.setattr(store, "set_case_mirror", recorded_mirror)
    pipeline.mirror_cycle()
    pipeline.mirror_cycle()
    assert len(zendesk.tickets) == 1
    assert store.case_mirror(case.id).remote_id == str(only_ticket(zendesk))
    assert any("found by its reference" in e.note for e in store.case_events(case.id))


def test_zendesk_down_for_a_while_then_back(zendesk, world):
    pipeline, store, _, case = world
    port = urlsplit(zendesk.base_url).port
    zendesk.stop()
    assert pipeline.mirror_cycle() == 0
    assert store.case_mirror(case.id) is None
    zendesk.start(port)
    pipeline.mirror_cycle()
    assert len(zendesk.tickets) == 1 and store.case_mirror(case.id) is not None


def test_comments_status_and_assignee_come_back_and_go_out(zendesk, world):
    pipeline, store, clock, case = world
    pipeline.mirror_cycle()
    ticket_id = only_ticket(zendesk)
    zendesk.agent_comment(ticket_id, "private thought", agent="bob@acme.example", public=False)
    pipeline.mirror_cycle()
    assert store.case(case.id).contacted_at is None

    zendesk.agent_comment(ticket_id, "Hi Dana, thank you: what happened?", agent="bob@acme.example")
    zendesk.assign(ticket_id, "bob@acme.example")
    pipeline.mirror_cycle()
    now = store.case(case.id)
    assert now.contacted_at is not None and now.stage == "what_happened" and now.owner == "Bob"

    zendesk.customer_comment(ticket_id, "The lid was cracked.")
    pipeline.mirror_cycle()
    assert store.case(case.id).customer_replied_at is not None

    cases.handover(store, store.case(case.id), actor="Bob", to="Alice", now=clock.now())
    pipeline.mirror_cycle()
    assert zendesk.assignee_of(ticket_id) == "alice@acme.example"
    pipeline.mirror_cycle()
    assert store.case(case.id).owner == "Alice"

    zendesk.set_status(ticket_id, "solved")
    pipeline.mirror_cycle()
    assert store.case(case.id).status == "closed" and store.case(case.id).stage == "resolved"


def test_a_case_resolved_here_solves_its_ticket(zendesk, world):
    pipeline, store, clock, case = world
    pipeline.mirror_cycle()
    cases.resolve(store, case, actor="Alice", now=clock.now(), note="refunded")
    pipeline.mirror_cycle()
    assert zendesk.tickets[only_ticket(zendesk)]["status"] == "solved"


def test_the_zendesk_backend_names_what_it_needs():
    with pytest.raises(ConfigError) as raised:
        parse_config({"cases": {"backend": "zendesk"}}, check_env=False)
    text = str(raised.value)
    assert all(f"cases.zendesk.{k}: required" in text for k in ("url", "email", "token"))
