"""Strangers' text never speaks for the brand: names only when plainly names, a final check on every outgoing text
(drafted, edited, about to be posted), and a dry run that is recorded as one. End to end on the fake Mastodon."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from bot import decisions
from bot import report as weekly
from bot.config import BrandSettings, parse_config
from bot.models import Author
from bot.pipeline import Pipeline
from bot.store import Store
from connectors.fakes.mastodon import FakeMastodon
from responders import compose, guard
from tests.review_helpers import connector_for

HOSTILE_NAMES = [
    "https://evil.example/acme-refund-form",
    "@victim@other.example",
    "<script>alert(1)</script>",
    "<a href='https://evil.example'>Acme</a>",
    "Ana\u202etxt.exe",
    "\u2066Ana\u2069",
    "Mal\u200blory",  # (a NUL is already taken out where the name comes in)
    "Zero\u200bWidth",
    "evil.example/refund",
    "[acme support](https://evil.example)",
    "{name}",
    "%s%s%s",
    "12345",
    "\u3164",
    "x" * 200,
]
BRAND = BrandSettings(name="Acme", contact_email="care@acme.example", contact_url="https://acme.example/help")


def auto_config(tmp_path, fake, *, dry_run: bool = False):
    table = {**fake.connector_settings()}
    return parse_config(
        {
            "dry_run": dry_run,
            "brand": {"name": "Acme", "contact_email": "care@acme.example", "timezone": "Europe/Amsterdam"},
            "store": {"path": str(tmp_path / "bot.db")},
            "replies": {"auto_approve": ["complaint", "inquiry", "praise"]},
            "connectors": {"mastodon": table},
        }
    )


@pytest.fixture
def fake(clock):
    with FakeMastodon(clock=clock) as fake:
        yield fake


def pipeline_for(tmp_path, fake, clock, monkeypatch, *, dry_run: bool = False) -> Pipeline:
    connector = connector_for(fake, clock, monkeypatch)  # sets the token's environment variable first
    return Pipeline(
        auto_config(tmp_path, fake, dry_run=dry_run),
        Store.open(tmp_path / "bot.db"),
        clock=clock,
        connectors={"mastodon": connector},
    )


def drain(pipeline: Pipeline) -> None:
    while pipeline.post():
        pass


# -- names --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["Ana", "Ana María", "O'Brien", "Mary-Jane", "J.R.", "山田太郎", "Анна", "محمد"]
)
def test_a_plain_name_is_used(name):
    greeting = guard.greeting(Author("h", name))
    assert greeting.name == name.split(" ")[0] and greeting.dropped is None


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_anything_else_is_left_out_and_the_draft_says_why(name):
    greeting = guard.greeting(Author("handle_99", name))
    assert greeting.name == "" and "not plainly a person's name" in greeting.dropped


def test_every_shipped_template_reads_naturally_without_a_name():
    templates = compose.shipped_templates()
    assert compose.lint(templates, BRAND, {}) == []
    sample = {
        "brand": "Acme",
        "contact": "please email us",
        "Contact": "Please email us",
        "ref": "",
        "hours": "24",
    }
    for label, text in templates.texts():
        nameless = guard.without_name(text).format(name="", **sample)
        assert "{name}" not in guard.without_name(text)
        assert not re.search(r"\s[,.!?]|,\s*[,.!?]|^\W|^[a-z]", nameless), (label, nameless)
    assert guard.without_name("Thank you for telling us, {name}. More.") == "Thank you for telling us. More."
    assert guard.without_name("{name}, thank you!") == "Thank you!"
    assert guard.without_name("Good question, {name}, and thanks.") == "Good question, and thanks."


def test_a_template_that_reads_badly_without_a_name_is_a_lint_finding():
    templates = compose.shipped_templates()
    broken = compose.Templates(
        {**templates.default, "praise": compose.Template(("Well {name} , thanks!",), "Thanks {name}!")}
    )
    assert any("reads badly without a name" in f for f in compose.lint(broken, BRAND, {}))


# -- the final check ----------------------------------------------------------------------------------------


def test_the_final_check_lets_the_brands_contact_routes_and_the_person_through():
    ok = "Thank you, Ana. Email us at care@acme.example or reach us at https://acme.example/help. @ana, thanks!"
    assert guard.check(ok, brand=BRAND, handles=["ana@social.example"]) == []


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("Thank you, https://evil.example/acme-refund-form.", "link"),
        ("Thank you, evil.example/refund.", "link"),
        ("Thank you, www.evil.example.", "link"),
        ("Write to refunds@evil.example", "address"),
        ("Hi @victim@other.example, this is Acme", "@-handle"),
        ("Hi u/victim, this is Acme", "@-handle"),
        ("Thank you, <b>Ana</b>", "markup"),
        ("Thank you, [acme support](https://evil.example)", "markup"),
        ("Thank you, Ana\u202e", "invisible"),
        ("Thank you\x00", "invisible"),
        ("Thank you\u200b", "invisible"),
    ],
)
def test_the_final_check_refuses_what_a_stranger_could_slip_in(text, why):
    problems = guard.check(text, brand=BRAND, handles=["ana"])
    assert problems and why in " ".join(problems)


def test_emoji_keep_their_joiners():
    assert guard.check("Thank you! 👨‍👩‍👧 🏴󠁧󠁢󠁳󠁣󠁴󠁿 👍🏽", brand=BRAND) == []


# -- end to end on Mastodon, with auto-approve --------------------------------------------------------------


def test_hostile_display_names_inject_nothing_into_what_mastodon_receives(tmp_path, fake, clock, monkeypatch):
    pipeline = pipeline_for(tmp_path, fake, clock, monkeypatch)
    fake.account("victim@other.example", "Victim")  # a real account that a direct status could reach
    for i, name in enumerate(HOSTILE_NAMES):
        fake.post(
            f"mal{i}@bad.example",
            "@acme my order is a week late and nobody answers",
            name=name,
            when=clock.now() - timedelta(minutes=1),
        )
    pipeline.poll("mastodon")
    drain(pipeline)
    posted = fake.posted()
    assert {p["kind"] for p in posted} == {"reply", "message"}
    assert len(posted) == 2 * len(HOSTILE_NAMES)  # every complaint answered, publicly and in private
    for item in posted:
        text = item["text"]
        own = re.match(r"@(\S+) ", text).group(1)
        assert own.startswith("mal") and own.endswith("@bad.example")
        rest = text[len(own) + 2 :]
        assert "@" not in rest.replace("care@acme.example", ""), text
        assert not re.search(r"https?://|www\.|evil|<|>|\[|\{|%s", rest), text
        assert not re.search(r"[\x00-\x08\x0b-\x1f\u200b-\u200f\u202a-\u202e\u2066-\u2069\u3164]", rest), text
    for status in (fake.statuses[p["id"]] for p in posted):
        mentioned = {m["acct"] for m in status["mentions"]}
        assert len(mentioned) == 1 and next(iter(mentioned)).endswith("@bad.example")
    drafts = pipeline.store.drafts()
    assert all(d.state == "posted" for d in drafts)
    assert all(d.notes and "not plainly a person's name" in d.notes[0] for d in drafts)
    assert any(d.text.startswith("Thank you for telling us. ") for d in drafts)
    pipeline.close()


def test_a_manager_edit_with_a_stranger_link_is_refused(tmp_path, fake, clock, monkeypatch):
    pipeline = pipeline_for(tmp_path, fake, clock, monkeypatch)
    pipeline.config.replies.auto_approve.clear()
    fake.post("ana@x.social", "@acme my order is late", name="Ana", when=clock.now() - timedelta(minutes=1))
    pipeline.poll("mastodon")
    (draft,) = pipeline.store.drafts("awaiting")
    assert draft.text.startswith(("Thank you for telling us, Ana.", "Ana,", "Thanks", "We appreciate"))
    for text in ("Refunds at https://evil.example/form", "cc @victim@other.example", "Hello\u202e"):
        with pytest.raises(decisions.DecisionError, match="final check"):
            decisions.edit(
                pipeline.store,
                draft.id,
                actor="alice",
                now=clock.now(),
                text=text,
                override_reason="I know best",
                brand=pipeline.config.brand,
            )
    assert pipeline.store.draft(draft.id).state == "awaiting" and pipeline.store.outbox() == []
    pipeline.close()


def test_the_outbox_refuses_an_unchecked_text_instead_of_posting_it(tmp_path, fake, clock, monkeypatch):
    pipeline = pipeline_for(tmp_path, fake, clock, monkeypatch)
    sid = fake.post("ana@x.social", "@acme hello?", name="Ana", when=clock.now() - timedelta(minutes=1))
    pipeline.poll("mastodon")
    drain(pipeline)
    before = len(fake.posted())
    # Queued by something that skipped the checks (an older version, a bug): the outbox is the last line.
    pipeline.store.enqueue(
        kind="message",
        platform="mastodon",
        mention_id=sid,
        text="Hi @victim@other.example, see https://evil.example",
        idempotency_key="sneaky",
        now=clock.now(),
    )
    drain(pipeline)
    assert len(fake.posted()) == before
    (item,) = [i for i in pipeline.store.outbox() if i.idempotency_key == "sneaky"]
    assert item.state == "failed" and "final check" in item.error and "@-handle" in item.error
    pipeline.close()


# -- dry run ------------------------------------------------------------------------------------------------


def test_a_dry_run_is_recorded_as_one_and_advances_no_case(tmp_path, fake, clock, monkeypatch):
    pipeline = pipeline_for(tmp_path, fake, clock, monkeypatch, dry_run=True)
    fake.post("ana@x.social", "@acme my order is late", name="Ana", when=clock.now() - timedelta(minutes=1))
    pipeline.poll("mastodon")
    drain(pipeline)
    assert fake.posted() == []
    store = pipeline.store
    (draft,) = store.drafts()
    assert draft.state == "dry_run" and draft.posted_id is None
    assert {i.state for i in store.outbox()} == {"dry_run"} and all(not i.sent_at for i in store.outbox())
    case = store.case(draft.case_id)
    assert case.acknowledged_at is None and case.contacted_at is None and case.stage == "contact"
    assert [e.kind for e in store.case_events(case.id)].count("dry_run") == 2
    assert store.counts().dry_run == 1 and store.counts().posted == 0
    assert store.due_counts(now=case.due_at, soon=case.due_at).overdue == 1  # still waits for an answer
    tz = ZoneInfo(pipeline.config.brand.timezone)
    report = weekly.build(
        store, pipeline.config, week=weekly.week_of(clock.now().date(), tz), now=clock.now()
    )
    assert report.reply.answered == 0 and report.contact.answered == 0
    assert "1 approved reply to this week's posts was only recorded in a dry run" in weekly.markdown(report)
    pipeline.close()


def test_the_migration_turns_old_dry_run_records_back_into_dry_runs(tmp_path, fake, clock, monkeypatch):
    pipeline = pipeline_for(tmp_path, fake, clock, monkeypatch, dry_run=True)
    fake.post("ana@x.social", "@acme my order is late", name="Ana", when=clock.now() - timedelta(minutes=1))
    pipeline.poll("mastodon")
    drain(pipeline)
    store = pipeline.store
    (draft,) = store.drafts()
    # What the dry run used to write: a "posted" draft, a sent time, the case acknowledged and contacted.
    now = clock.now().isoformat()
    db = store.db
    db.execute("update drafts set state = 'posted'")
    db.execute("update outbox set sent_at = ?", [now])
    db.execute("update cases set acknowledged_at = ?, contacted_at = ?, stage = 'what_happened'", [now, now])
    db.execute(
        "update case_events set kind = case note when 'reply not sent (dry run)' then 'acknowledged' "
        "else 'contacted' end, note = case note when 'reply not sent (dry run)' "
        "then 'reply recorded (dry run)' else 'message recorded (dry run)' end where kind = 'dry_run'"
    )
    db.execute("delete from _sqlite_migrations where name = 'm010_dry_run'")
    pipeline.close()
    store = Store.open(tmp_path / "bot.db")
    assert store.draft(draft.id).state == "dry_run"
    assert all(not i.sent_at for i in store.outbox())
    case = store.case(draft.case_id)
    assert (case.acknowledged_at, case.contacted_at, case.stage) == (None, None, "contact")
