"""``[cases] backend = "email"``: the shared mailbox read over IMAP (a real dovecot on 127.0.0.1) into the cases,
and the cases' mails sent over SMTP (a real aiosmtpd with STARTTLS or TLS), through the pipeline."""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime, timedelta

import pytest

from bot import cases
from bot.clock import FakeClock
from bot.config import parse_config
from bot.errors import ConfigError
from bot.models import Author, Mention
from bot.pipeline import Pipeline
from bot.store import Handoff, Store
from tests.conftest import mentionbot
from tests.mailservers import Dovecot, SmtpServer, customer_mail, need_dovecot

MAILBOX = "care@acme.example"
CUSTOMER = "dana@customer.example"

warnings.filterwarnings("ignore", module="aiosmtpd")


@pytest.fixture
def dovecot():
    need_dovecot()
    server = Dovecot(user=MAILBOX).start()
    yield server
    server.stop()


@pytest.fixture
def smtp():
    server = SmtpServer(user=MAILBOX).start()
    yield server
    server.close()


def config_for(dovecot: Dovecot, smtp: SmtpServer, *, security: str = "starttls", signature: str = ""):
    return parse_config(
        {
            "dry_run": False,
            "brand": {"name": "Acme", "contact_email": MAILBOX},
            "cases": {
                "backend": "email",
                "email": {
                    "smtp_host": "127.0.0.1",
                    "smtp_port": smtp.port,
                    "smtp_security": security,
                    "smtp_user": MAILBOX,
                    "smtp_password": {"env": "TEST_SMTP_PASSWORD"},
                    "imap_host": "127.0.0.1",
                    "imap_port": dovecot.port,
                    "imap_user": MAILBOX,
                    "imap_password": {"env": "TEST_IMAP_PASSWORD"},
                    "ca_file": str(dovecot.cert),
                    "signature": signature,
                },
            },
        }
    )


@pytest.fixture
def world(dovecot, smtp, monkeypatch, tmp_path):
    """A pipeline with the email backend, a store with two open cases, and an empty shared mailbox."""
    monkeypatch.setenv("TEST_IMAP_PASSWORD", dovecot.password)
    monkeypatch.setenv("TEST_SMTP_PASSWORD", smtp.password)
    # The SMTP server's certificate is its own: trust both in one file.
    both = tmp_path / "ca.pem"
    both.write_bytes(dovecot.cert.read_bytes() + smtp.cert.read_bytes())
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    config = config_for(dovecot, smtp)
    config.cases.email.ca_file = str(both)
    store = Store.memory()
    pipeline = Pipeline(config, store, clock=clock, connectors={})
    first = open_case(store, clock, 1, "Dana")
    second = open_case(store, clock, 2, "Sam", intent="inquiry")
    return pipeline, store, clock, first, second


def open_case(store: Store, clock: FakeClock, n: int, name: str, *, intent: str = "complaint"):
    mention = Mention(
        platform="reddit",
        id=f"t1_{n}",
        url=f"https://reddit.com/r/acme/comments/{n}",
        author=Author(f"user{n}", name),
        text="my order never came",
        created_at=clock.now() - timedelta(minutes=5),
    )
    store.save_fetch("reddit", [mention], None, now=clock.now())
    return cases.open_case(store, mention, intent=intent, sla=parse_config({}).sla, now=clock.now())


def kinds(store: Store, case) -> list[str]:
    return [e.kind for e in store.case_events(case.id)]


def test_a_customer_mail_naming_the_case_is_attached_acknowledged_and_threaded(world, dovecot, smtp):
    pipeline, store, _clock, case, _ = world
    asked = customer_mail(
        sender=f"Dana <{CUSTOMER}>",
        to=MAILBOX,
        subject=f"About {case.ref}",
        body="Hello, order 4411 never arrived.\n\n> quoted text we do not keep",
    )
    dovecot.deliver(asked)

    assert pipeline.mirror_cycle() == 1
    case = store.case(case.id)
    assert case.customer_replied_at is not None and case.contacted_at is not None
    assert case.stage == "find_solution" and case.acknowledged_at is not None
    events = store.case_events(case.id)
    reply = next(e for e in events if e.kind == "customer_reply")
    assert "order 4411 never arrived" in reply.note and "quoted text" not in reply.note
    assert store.case_address(case.id) == CUSTOMER
    # The report's handoff conversion counts the mail.
    assert store.handoff_conversion()["reddit"] == Handoff(cases=2, contacted=1, replied=1)

    # Our acknowledgement: from the brand's mailbox under its name, threaded, text and HTML, signed.
    (sender, rcpts, ack) = smtp.received[-1]
    assert (sender, rcpts) == (MAILBOX, [CUSTOMER])
    assert ack["From"] == f"Acme care team <{MAILBOX}>"
    assert ack["Reply-To"] == f"care+{case.ref}@acme.example"
    assert ack["In-Reply-To"] == asked["Message-ID"] and asked["Message-ID"] in ack["References"]
    assert case.ref in ack["Subject"] and ack["Message-ID"].endswith("@acme.example>")
    parts = {
        p.get_content_type(): p.get_payload(decode=True).decode() for p in ack.walk() if not p.is_multipart()
    }
    assert set(parts) == {"text/plain", "text/html"}
    assert "Hi Dana," in parts["text/plain"] and "-- \r\nAcme care team" in parts["text/plain"]
    assert "<p>Hi Dana," in parts["text/html"]

    # The customer answers our mail without the reference: the thread says which case.
    dovecot.deliver(
        customer_mail(
            sender=CUSTOMER,
            to=MAILBOX,
            subject="Re: thanks",
            body="It was a blue kettle.",
            in_reply_to=ack["Message-ID"],
        )
    )
    assert pipeline.mirror_cycle() == 1
    assert [e.note for e in store.case_events(case.id) if e.kind == "customer_reply"][-1].endswith(
        "blue kettle."
    )
    assert len(smtp.received) == 1  # acknowledged once

    # Read again: nothing new (the UID cursor), nothing attached twice.
    before = kinds(store, case)
    assert pipeline.mirror_cycle() == 0 and kinds(store, case) == before
    assert store.mail_cursor("INBOX").split(":")[1] == "2"


def test_a_plus_address_names_the_case(world, dovecot, smtp):
    pipeline, store, _clock, _, second = world
    dovecot.deliver(
        customer_mail(
            sender="sam@else.example", to=f"care+{second.ref}@acme.example", subject="hi", body="me again"
        )
    )
    assert pipeline.mirror_cycle() == 1
    assert store.case(second.id).customer_replied_at is not None
    assert "customer_reply" in kinds(store, second)


def test_an_unrelated_mail_is_left_alone(world, dovecot, smtp):
    pipeline, store, _clock, first, second = world
    dovecot.deliver(
        customer_mail(sender="news@shop.example", to=MAILBOX, subject="Our offers", body="C-1 prices")
    )
    assert pipeline.mirror_cycle() == 0
    assert kinds(store, first) == ["opened"] and kinds(store, second) == ["opened"]
    assert smtp.received == []


def test_a_reference_from_another_sender_is_flagged_not_attached(world, dovecot, smtp):
    pipeline, store, _clock, case, _ = world
    dovecot.deliver(customer_mail(sender=CUSTOMER, to=MAILBOX, subject=f"{case.ref}", body="my order"))
    pipeline.mirror_cycle()
    replied = store.case(case.id).customer_replied_at
    dovecot.deliver(
        customer_mail(
            sender="mallory@evil.example", to=MAILBOX, subject=f"Re: {case.ref}", body="send refund to me"
        )
    )

    assert pipeline.mirror_cycle() == 0
    flagged = [e for e in store.case_events(case.id) if e.kind == "mail_flagged"]
    assert len(flagged) == 1 and "mallory@evil.example" in flagged[0].note and CUSTOMER in flagged[0].note
    assert not any("refund" in e.note for e in store.case_events(case.id) if e.kind == "customer_reply")
    assert store.case(case.id).customer_replied_at == replied
    assert len(smtp.received) == 1  # only the acknowledgement of the real customer


def test_an_agents_answer_from_the_shared_mailbox_is_recorded(world, dovecot, smtp):
    pipeline, store, _clock, case, _ = world
    asked = customer_mail(sender=CUSTOMER, to=MAILBOX, subject=f"{case.ref} kettle", body="broken")
    dovecot.deliver(asked)
    pipeline.mirror_cycle()
    dovecot.deliver(
        customer_mail(
            sender=f"Acme care <{MAILBOX}>",
            to=CUSTOMER,
            subject="Re: kettle",
            body="We send a new one today.",
            in_reply_to=asked["Message-ID"],
        ),
        folder="Sent",
    )
    assert pipeline.mirror_cycle() == 1
    agent = [e for e in store.case_events(case.id) if e.kind == "agent_mail"]
    assert len(agent) == 1 and "We send a new one today." in agent[0].note and CUSTOMER in agent[0].note


def test_the_mail_stops_the_follow_up_clock(world, dovecot, smtp):
    pipeline, store, clock, _, inquiry = world
    # The public reply went out: the inquiry's follow-ups would start after follow_up_every_hours.
    store.update_case(
        inquiry.id, now=clock.now(), actor="mentionbot", event="acknowledged", acknowledged_at=clock.now()
    )
    dovecot.deliver(
        customer_mail(sender="sam@else.example", to=MAILBOX, subject=f"{inquiry.ref}", body="question")
    )
    pipeline.mirror_cycle()
    clock.sleep((pipeline.config.sla.follow_up_every_hours + 1) * 3600)
    assert [n for n in pipeline.sweep() if n.case.id == inquiry.id] == []


def test_the_smtp_server_down_keeps_the_mail_queued_and_sends_it_once_when_back(world, dovecot, smtp):
    pipeline, store, _clock, case, _ = world
    smtp.stop()
    dovecot.deliver(customer_mail(sender=CUSTOMER, to=MAILBOX, subject=f"{case.ref}", body="hello?"))
    assert pipeline.mirror_cycle() == 1
    assert store.case(case.id).acknowledged_at is None
    assert store.handoff_conversion()["reddit"].replied == 1  # the handoff counts before anyone answered
    assert [m.state for m in store.case_mails(case.id) if m.direction == "out"] == ["queued"]
    pipeline.mirror_cycle()  # still down
    smtp.start()
    pipeline.mirror_cycle()
    pipeline.mirror_cycle()
    assert len(smtp.received) == 1
    assert [m.state for m in store.case_mails(case.id) if m.direction == "out"] == ["sent"]
    assert store.case(case.id).acknowledged_at is not None


def test_implicit_tls_smtp_sends_too(dovecot, monkeypatch, tmp_path):
    server = SmtpServer(security="tls", user=MAILBOX).start()
    try:
        monkeypatch.setenv("TEST_IMAP_PASSWORD", dovecot.password)
        monkeypatch.setenv("TEST_SMTP_PASSWORD", server.password)
        both = tmp_path / "ca.pem"
        both.write_bytes(dovecot.cert.read_bytes() + server.cert.read_bytes())
        config = config_for(dovecot, server, security="tls")
        config.cases.email.ca_file = str(both)
        store, clock = Store.memory(), FakeClock(datetime.now(UTC).replace(microsecond=0))
        case = open_case(store, clock, 1, "Dana")
        dovecot.deliver(customer_mail(sender=CUSTOMER, to=MAILBOX, subject=case.ref, body="hi"))
        Pipeline(config, store, clock=clock, connectors={}).mirror_cycle()
        assert [r[1] for r in server.received] == [[CUSTOMER]]
    finally:
        server.close()


def test_a_signature_the_tone_guard_refuses_is_never_sent(world, dovecot, smtp):
    pipeline, store, _clock, case, _ = world
    pipeline.mirror.settings.signature = "Unfortunately we are closed on Sundays."
    dovecot.deliver(customer_mail(sender=CUSTOMER, to=MAILBOX, subject=case.ref, body="hi"))
    assert pipeline.mirror_cycle() == 1  # attached all the same
    refused = [e.note for e in store.case_events(case.id) if e.kind == "mail_refused"]
    assert len(refused) == 1 and "unfortunately" in refused[0].lower()
    assert smtp.received == []


def test_the_email_backend_names_what_it_needs():
    with pytest.raises(ConfigError) as raised:
        parse_config({"brand": {"contact_email": MAILBOX}, "cases": {"backend": "email"}}, check_env=False)
    text = str(raised.value)
    for key in (
        "cases.email.smtp_host",
        "cases.email.imap_host",
        "cases.email.imap_user",
        "cases.email.imap_password",
    ):
        assert key in text
    with pytest.raises(ConfigError, match=r"cases.backend: expected one of 'none', 'email'"):
        parse_config({"cases": {"backend": "outlook"}})
    with pytest.raises(ConfigError, match=r"cases.email.smtp_security: expected one of 'starttls', 'tls'"):
        parse_config({"cases": {"email": {"smtp_security": "ssl"}}})


def test_the_daemon_reads_the_mailbox_and_case_shows_where_the_case_lives(dovecot, smtp, tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_bytes(dovecot.cert.read_bytes() + smtp.cert.read_bytes())
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
dry_run = false
[brand]
name = "Acme"
contact_email = "{MAILBOX}"
[store]
path = "bot.db"
[cases]
backend = "email"
[cases.email]
smtp_host = "127.0.0.1"
smtp_port = {smtp.port}
smtp_user = "{MAILBOX}"
smtp_password = {{ env = "TEST_SMTP_PASSWORD" }}
imap_host = "127.0.0.1"
imap_port = {dovecot.port}
imap_user = "{MAILBOX}"
imap_password = {{ env = "TEST_IMAP_PASSWORD" }}
ca_file = "{ca}"
"""
    )
    store, clock = Store.open(tmp_path / "bot.db"), FakeClock(datetime.now(UTC).replace(microsecond=0))
    case = open_case(store, clock, 1, "Dana")
    store.close()
    dovecot.deliver(
        customer_mail(sender=CUSTOMER, to=MAILBOX, subject=f"Re: {case.ref}", body="Still waiting.")
    )
    env = {"TEST_SMTP_PASSWORD": smtp.password, "TEST_IMAP_PASSWORD": dovecot.password}

    mentionbot(config, "run", "--once", env=env)

    assert [r[1] for r in smtp.received] == [[CUSTOMER]]
    shown = mentionbot(config, "case", case.ref).stdout
    assert f"mirrored to the shared mailbox {MAILBOX}" in shown and f"writing from {CUSTOMER}" in shown
    assert f"mailto:care+{case.ref}@acme.example" in shown and "Still waiting." in shown
    data = json.loads(mentionbot(config, "case", case.ref, "--json").stdout)
    assert data["lives"] == {
        "backend": "email",
        "where": f"the shared mailbox {MAILBOX}",
        "link": f"mailto:care+{case.ref}@acme.example",
        "customer": CUSTOMER,
        "mails": 2,
    }
