"""``[cases] backend = "zammad"``: each case mirrored once to a ticket in a loopback Zammad driven by the real
zammad_py, the ticket's state, owner and public articles brought back, and the case's changes sent to it."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from bot import cases
from bot.config import load_config, parse_config
from bot.errors import ConfigError
from bot.pipeline import Pipeline
from bot.store import Handoff, Store
from connectors.fakes.server import Fault
from connectors.fakes.zammad import TOKEN, TOKEN_ENV, FakeZammad
from tests.conftest import ROOT
from tests.helpdesk_world import helpdesk_world

FIXTURES = ROOT / "tests" / "fixtures" / "zammad"


def recorded(name: str):
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def zammad():
    fake = FakeZammad()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def world(zammad, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    return helpdesk_world("zammad", {"url": zammad.base_url, "token": {"env": TOKEN_ENV}})


def kinds(store, case) -> list[str]:
    return [e.kind for e in store.case_events(case.id)]


# -- the fake holds to what Zammad sends ----------------------------------------------------------------------


def test_the_fake_answers_with_the_recorded_shapes(zammad, world):
    pipeline, *_ = world
    pipeline.mirror_cycle()
    api = pipeline.mirror.api
    created = api.ticket.create(recorded("ticket_create.json")["request"] | {"owner": "-"})
    assert set(created) == set(recorded("ticket_create.json")["response"])
    assert set(api.ticket.search("new title")[0]) == set(recorded("ticket_search.json")["response"][0])
    updated = api.ticket.update(created["id"], recorded("ticket_update.json")["request"])
    assert set(updated) == set(recorded("ticket_update.json")["response"])
    zammad.agent_reply(created["id"], "We are on it.")
    assert set(api.ticket.articles(created["id"])[-1]) == set(recorded("article_list.json")["response"][0])


def test_the_fake_refuses_a_wrong_token(zammad):
    from requests import HTTPError
    from zammad_py import ZammadAPI

    with pytest.raises(HTTPError):
        ZammadAPI(url=f"{zammad.base_url}/api/v1/", http_token="wrong").ticket.search("x")


# -- mirroring ------------------------------------------------------------------------------------------------


def test_a_case_opens_one_ticket_with_what_the_team_needs(zammad, world):
    pipeline, store, _clock, case = world
    pipeline.mirror_cycle()
    pipeline.mirror_cycle()

    assert list(zammad.tickets) == [1]
    ticket = zammad.tickets[1]
    assert ticket["title"].startswith(f"[{case.ref}] reddit: My kettle arrived broken")
    (note,) = zammad.articles[1]
    assert note["internal"] is True and note["sender"] == "Agent"
    for shown in (
        case.ref,
        "dana_k",
        "reddit",
        "https://reddit.com/r/acme/comments/7",
        "complaint",
        "urgency 2",
    ):
        assert shown in note["body"]
    mirror = store.case_mirror(case.id)
    assert mirror.remote_id == "1" and mirror.link == f"{zammad.base_url}/#ticket/zoom/1"
    assert kinds(store, case).count("mirrored") == 1


def test_killed_between_zammads_answer_and_our_commit_mirrors_once(zammad, world):
    pipeline, store, _clock, case = world
    # Zammad creates the ticket, and the answer never arrives (the connection drops, or we were killed).
    zammad.inject(Fault(disconnect=True, after=True, path=r"^/api/v1/tickets$"))
    pipeline.mirror_cycle()
    assert len(zammad.tickets) == 1 and store.case_mirror(case.id) is None

    pipeline.mirror_cycle()
    assert len(zammad.tickets) == 1
    assert store.case_mirror(case.id).remote_id == "1"
    assert any("found by its reference" in e.note for e in store.case_events(case.id))


def test_zammad_down_for_a_while_then_back(zammad, world):
    pipeline, store, _clock, case = world
    port = urlsplit(zammad.base_url).port
    zammad.stop()
    assert pipeline.mirror_cycle() == 0  # never raises: the pipeline goes on
    pipeline.run_cycle()
    assert store.case_mirror(case.id) is None
    zammad.start(port)
    zammad.inject(Fault(status=503, body={"error": "maintenance"}, path=r"^/api/v1/tickets", times=1))
    pipeline.mirror_cycle()
    assert store.case_mirror(case.id) is None
    pipeline.mirror_cycle()
    assert len(zammad.tickets) == 1 and store.case_mirror(case.id).remote_id == "1"


# -- status both ways -----------------------------------------------------------------------------------------


def test_an_agents_public_reply_is_the_contact_and_closing_resolves(zammad, world):
    pipeline, store, _clock, case = world
    pipeline.mirror_cycle()
    zammad.agent_reply(1, "internal thought", agent="bob@acme.example", internal=True)
    pipeline.mirror_cycle()
    assert store.case(case.id).contacted_at is None

    zammad.agent_reply(1, "Hi Dana, <b>thank you</b>: what happened exactly?", agent="bob@acme.example")
    pipeline.mirror_cycle()
    now = store.case(case.id)
    assert now.contacted_at is not None and now.acknowledged_at is not None and now.stage == "what_happened"
    reply = [e for e in store.case_events(case.id) if e.kind == "helpdesk_reply"]
    assert len(reply) == 1 and reply[0].actor == "Bob" and "thank you" in reply[0].note
    assert "<b>" not in reply[0].note

    zammad.customer_reply(1, "The lid was cracked.")
    pipeline.mirror_cycle()
    assert store.case(case.id).customer_replied_at is not None
    assert store.handoff_conversion()["reddit"] == Handoff(cases=1, contacted=1, replied=1)

    zammad.set_state(1, "closed")
    pipeline.mirror_cycle()
    closed = store.case(case.id)
    assert closed.status == "closed" and closed.stage == "resolved"
    assert pipeline.mirror_cycle() == 0  # nothing more to bring back


def test_a_case_resolved_here_closes_its_ticket(zammad, world):
    pipeline, store, clock, case = world
    pipeline.mirror_cycle()
    cases.resolve(store, case, actor="Alice", now=clock.now(), note="refunded by phone")
    pipeline.mirror_cycle()
    assert zammad.state_of(1) == "closed"
    assert store.case_mirror(case.id).state == "closed"


def test_owners_and_agents_are_matched_by_email_both_ways(zammad, world):
    pipeline, store, clock, case = world
    pipeline.mirror_cycle()
    zammad.set_owner(1, "bob@acme.example")
    pipeline.mirror_cycle()
    assert store.case(case.id).owner == "Bob"

    cases.handover(store, store.case(case.id), actor="Bob", to="Alice", now=clock.now())
    pipeline.mirror_cycle()
    assert zammad.owner_of(1) == "alice@acme.example"
    pipeline.mirror_cycle()
    assert store.case(case.id).owner == "Alice"  # our own change did not come back as Zammad's


def test_the_zammad_backend_names_what_it_needs():
    with pytest.raises(ConfigError) as raised:
        parse_config(
            {"cases": {"backend": "zammad", "zammad": {"agents": {"Alice": "alice"}}}}, check_env=False
        )
    text = str(raised.value)
    assert "cases.zammad.agents.Alice: expected the agent's email address" in text
    with pytest.raises(ConfigError) as raised:
        parse_config({"cases": {"backend": "zammad"}}, check_env=False)
    assert "cases.zammad.url: required" in str(raised.value) and "cases.zammad.token: required" in str(
        raised.value
    )


def test_case_shows_the_ticket_and_its_link(zammad, world, tmp_path):
    from click.testing import CliRunner

    from bot.cli import cli

    _, store, clock, case = world
    config = tmp_path / "config.toml"
    config.write_text(
        f'[brand]\nname = "Acme"\ncontact_email = "care@acme.example"\n[store]\npath = "bot.db"\n'
        f'[cases]\nbackend = "zammad"\n[cases.zammad]\nurl = "{zammad.base_url}"\ntoken = {{ env = "{TOKEN_ENV}" }}\n'
    )
    disk = Store.open(tmp_path / "bot.db")
    mention = store.mention(case.platform, case.mention_id)
    disk.save_fetch("reddit", [mention], None, now=clock.now())
    on_disk = cases.open_case(disk, mention, intent="complaint", sla=parse_config({}).sla, now=clock.now())
    shown = CliRunner().invoke(cli, ["-c", str(config), "case", on_disk.ref], env={"COLUMNS": "200"})
    assert shown.exit_code == 0 and "Zammad (not mirrored yet" in shown.output

    Pipeline(load_config(config), disk, clock=clock, connectors={}).mirror_cycle()
    shown = CliRunner().invoke(cli, ["-c", str(config), "case", on_disk.ref], env={"COLUMNS": "200"})
    assert "mirrored to Zammad ticket 1 (new)" in shown.output
    assert f"{zammad.base_url}/#ticket/zoom/1" in shown.output
    disk.close()
